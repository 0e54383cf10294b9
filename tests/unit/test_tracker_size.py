"""The snippet stays small: every visitor of every customer site downloads it."""

from __future__ import annotations

from callpath.domain.pool import PoolSettings
from callpath.domain.site import SiteConfig
from callpath.web import tracker_js

LIMIT = 3 * 1024  # bytes, gzipped


def site() -> SiteConfig:
    return SiteConfig(
        id=1,
        account_id=1,
        key="k" * 32,
        name="Shop",
        domains=("shop.example",),
        timezone="Europe/Moscow",
        region="RU",
        original_numbers=("+74951096375", "+78001234567", "+78121234567"),
        pool=PoolSettings(),
        excluded_channels=(),
        default_number=None,
        pool_size=10,
    )


def test_minified_snippet_is_at_most_3_kb_gzipped():
    size = tracker_js.gzipped_size(tracker_js.minify(tracker_js.source()))
    assert size <= LIMIT, f"tracker.js is {size} bytes gzipped (limit {LIMIT})"


def test_rendered_snippet_with_config_is_at_most_3_kb_gzipped():
    js = tracker_js.render(site(), "https://calls.callpath.example")
    assert "/*CONFIG*/" not in js
    assert '"k": "' + "k" * 32 in js
    assert tracker_js.gzipped_size(js) <= LIMIT


def test_minify_keeps_no_comments_and_no_blank_lines():
    js = tracker_js.minify(tracker_js.source())
    assert "/*" not in js.replace("/*CONFIG*/", "")
    assert all(line.strip() == line and line for line in js.splitlines())
