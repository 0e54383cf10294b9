"""The ASGI application. Run it with `callpath serve`; under uvicorn directly, keep the
client address ours to decide: `uvicorn --factory --no-proxy-headers
callpath.web.app:create_app` (uvicorn's default trusts `X-Forwarded-For` from loopback;
`CALLPATH_TRUSTED_PROXIES` is the only rule callpath follows)."""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import DBAPIError

from callpath import __version__
from callpath import settings as settings_mod
from callpath.services import enrich, recordings
from callpath.services import pipeline as pipeline_mod
from callpath.settings import Settings
from callpath.storage.db import make_engine, probe, within
from callpath.web import (
    access_log,
    admin,
    admin_forms,
    api,
    api_calls,
    api_costs,
    api_deals,
    api_leads,
    api_plans,
    api_reports,
    api_webhooks,
    crm_amocrm,
    crm_bitrix24,
    crm_deals,
    deals_page,
    demo,
    errors,
    feeds,
    hooks,
    invitation_page,
    journal,
    me_page,
    planner_page,
    recordings_page,
    reports_page,
    reset_page,
    tokens_page,
    tracker_api,
    users_page,
    webhooks_page,
)
from callpath.web.context import Context, SiteCache

log = logging.getLogger("callpath.web")

SWITCH_INTERVAL = 0.001  # seconds


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Each app process runs one call worker: spool drain, pending events, route cache."""
    c: Context = app.state.ctx
    # Worker threads (database calls, call apply) hold the GIL for up to this long before
    # the event loop gets it back; 5 ms (Python's default) showed up in routing p99.
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        c.pipeline.refresh_routes()
    except DBAPIError:
        c.pipeline.routes.load_snapshot()  # database away at start: route from the last map
    enrich.load(c.geo)  # before any request: its first use stalled the event loop
    # What start-up built (modules, compiled statements, caches) lives as long as the
    # process: kept out of the collector's full passes, which otherwise walk all of it
    # while a routing answer waits.
    gc.collect()
    gc.freeze()
    stop = threading.Event()
    worker = threading.Thread(
        target=c.pipeline.work,
        args=(stop, 1.0, c.settings.route_refresh_seconds),
        name="callpath-call-worker",
        daemon=True,
    )
    worker.start()
    recorder = _recordings_worker(c, stop)
    access_log.worker_ready()
    try:
        yield
    finally:
        stop.set()
        worker.join(timeout=10)
        if recorder is not None:
            recorder.join(timeout=10)


def _recordings_worker(c: Context, stop: threading.Event) -> threading.Thread | None:
    """Downloads and retention, when `CALLPATH_RECORDINGS_DIR` is set."""
    config = recordings.config_of(c.settings)
    if config is None:
        return None
    worker = recordings.RecordingWorker(c.engine, config, time.time)
    thread = threading.Thread(
        target=worker.run, args=(stop,), name="callpath-recordings", daemon=True
    )
    thread.start()
    return thread


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or settings_mod.load()
    geo = enrich.locator(settings.geoip_city_db)  # opened once; SettingsError if unreadable
    engine = make_engine(settings.database_url, busy_budget=settings.database_wait_seconds)
    app = FastAPIOffline(  # /docs served from the package: no CDN on offline installs
        title="callpath",
        version=__version__,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        static_url="/docs-static",
        lifespan=_lifespan,
    )
    sites = SiteCache(engine, settings.site_cache_seconds)
    app.state.ctx = Context(settings, engine, sites, pipeline_mod.build(settings, engine), geo)
    errors.install(app)
    if settings.access_log != "off":
        app.add_middleware(access_log.AccessLog, tracker=settings.access_log == "all")
    routers = (
        tracker_api.router,
        *hooks.ROUTERS,
        crm_amocrm.router,
        demo.router,
        admin.router,
        admin_forms.router,
        journal.router,
        api.router,
        api_calls.router,
        api_costs.router,
        api_deals.router,
        api_leads.router,
        api_plans.router,
        api_reports.router,
        api_webhooks.router,
        tokens_page.router,
        users_page.router,
        me_page.router,
        invitation_page.router,
        reset_page.router,
        planner_page.router,
        recordings_page.router,
        reports_page.router,
        deals_page.router,
        webhooks_page.router,
        feeds.router,
        crm_bitrix24.router,
        crm_deals.router,
    )
    for router in routers:
        app.include_router(router)
    app.router.routes.insert(0, tracker_api.fast_route())  # matched first, served plainly

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """Whether this server can store what it is sent: a write transaction (routing
        needs SQLite's write lock, which another process may hold), bounded like a
        routing answer. The driver's error (host, port, file) goes to the log only."""
        spooled = app.state.ctx.pipeline.spool.pending()
        try:
            within(engine, probe, engine)
        except Exception as exc:
            log.warning("health check: database unavailable: %s", str(exc)[:300])
            body = {"ok": False, "database": "unavailable", "spooled_events": spooled}
            return JSONResponse(body, status_code=503)
        return JSONResponse({"ok": True, "version": __version__, "spooled_events": spooled})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/app", status_code=303)

    return app
