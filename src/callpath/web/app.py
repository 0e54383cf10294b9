"""The ASGI application: `uvicorn --factory callpath.web.app:create_app`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import text

from callpath import __version__
from callpath import settings as settings_mod
from callpath.settings import Settings
from callpath.storage.db import make_engine, transaction
from callpath.web import admin, admin_forms, api, demo, errors, tracker_api
from callpath.web.context import Context, SiteCache


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or settings_mod.load()
    engine = make_engine(settings.database_url)
    app = FastAPI(
        title="callpath", version=__version__, docs_url="/docs", openapi_url="/openapi.json"
    )
    app.state.ctx = Context(settings, engine, SiteCache(engine, settings.site_cache_seconds))
    errors.install(app)
    for router in (tracker_api.router, demo.router, admin.router, admin_forms.router, api.router):
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        try:
            with transaction(engine, write=False) as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse({"ok": False, "database": str(exc)[:200]}, status_code=503)
        return JSONResponse({"ok": True, "version": __version__})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/app", status_code=303)

    return app
