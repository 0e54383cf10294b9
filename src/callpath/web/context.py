"""What every request handler shares: settings, the engine, cached site configs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from callpath.domain.site import SiteConfig
from callpath.settings import Settings
from callpath.storage import site_repo
from callpath.storage.db import transaction


class SiteCache:
    """Site configs by key and by id, re-read after `ttl` seconds (settings change rarely)."""

    def __init__(self, engine: Engine, ttl: float) -> None:
        self._engine = engine
        self._ttl = ttl
        self._lock = threading.Lock()
        self._items: dict[object, tuple[float, SiteConfig | None]] = {}

    def by_key(self, key: str) -> SiteConfig | None:
        return self._get(("key", key))

    def by_id(self, site_id: int) -> SiteConfig | None:
        return self._get(("id", site_id))

    def forget(self) -> None:
        with self._lock:
            self._items.clear()

    def _get(self, ident: tuple[str, object]) -> SiteConfig | None:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(ident)
        if hit and hit[0] > now:
            return hit[1]
        with transaction(self._engine, write=False) as conn:
            if ident[0] == "key":
                site = site_repo.load_site_config(conn, key=str(ident[1]))
            else:
                site = site_repo.load_site_config(conn, site_id=int(str(ident[1])))
        with self._lock:
            self._items[ident] = (now + self._ttl, site)
        return site


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    engine: Engine
    sites: SiteCache

    @property
    def inline_db(self) -> bool:
        """Run tracker writes on the event loop (SQLite: one writer anyway)."""
        return self.engine.dialect.name == "sqlite"


def ctx(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context
