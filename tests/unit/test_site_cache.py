"""The site cache stays bounded whatever keys hostile clients send."""

from pathlib import Path

from callpath.storage.db import make_engine
from callpath.storage.migrate import upgrade
from callpath.web.context import SiteCache


def test_unknown_keys_do_not_grow_the_cache_without_bound(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/c.sqlite3"
    upgrade(url)
    cache = SiteCache(make_engine(url), ttl=60, max_items=50)
    for i in range(500):
        assert cache.by_key(f"nope{i}") is None
    assert len(cache._items) <= 50
