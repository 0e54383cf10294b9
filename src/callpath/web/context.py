"""What every request handler shares: settings, the engine, cached site configs, the
geo look-up."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from callpath.domain.site import SiteConfig
from callpath.services.geo import Locator
from callpath.services.pipeline import CallPipeline
from callpath.settings import Settings
from callpath.storage import site_repo
from callpath.storage.db import is_sqlite, transaction


class SiteCache:
    """Site configs by key and by id, re-read after `ttl` seconds (settings change rarely).

    Unknown keys are cached too (a flood of them costs no queries), so the cache is
    bounded: past `max_items` it starts afresh rather than grow on hostile input.
    """

    def __init__(self, engine: Engine, ttl: float, max_items: int = 10_000) -> None:
        self._engine = engine
        self._ttl = ttl
        self._max_items = max_items
        self._lock = threading.Lock()
        # Keys are site keys (str) and site ids (int): distinct, so one dict serves both.
        self._items: dict[str | int, tuple[float, SiteConfig | None]] = {}

    def by_key(self, key: str) -> SiteConfig | None:
        return self._get(key)

    def by_id(self, site_id: int) -> SiteConfig | None:
        return self._get(site_id)

    def forget(self) -> None:
        with self._lock:
            self._items.clear()

    def _get(self, ident: str | int) -> SiteConfig | None:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(ident)
        if hit and hit[0] > now:
            return hit[1]
        with transaction(self._engine, write=False) as conn:
            if isinstance(ident, str):
                site = site_repo.load_site_config(conn, key=ident)
            else:
                site = site_repo.load_site_config(conn, site_id=ident)
        with self._lock:
            if len(self._items) >= self._max_items:
                self._items.clear()
            self._items[ident] = (now + self._ttl, site)
        return site


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    engine: Engine
    sites: SiteCache
    pipeline: CallPipeline
    geo: Locator  # where a new session's address is placed (`enrich.locator`)

    def site_changed(self) -> None:
        """After a site's settings changed: this process reads them again at once (other
        processes within their cache times, docs/configuration.md#changing-a-site)."""
        self.sites.forget()
        self.pipeline.routes.expire()

    @property
    def inline_db(self) -> bool:
        """Run tracker writes on the event loop (SQLite: one writer anyway)."""
        return is_sqlite(self.engine)


def ctx(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context
