"""Public tracker endpoints (`/t/...`): the snippet and the session protocol.

Bodies are JSON sent as text/plain (no CORS preflight); every field is hostile until
checked. See docs/tracker-protocol.md.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, ValidationError
from starlette.routing import Route

from callpath.domain.site import SiteConfig
from callpath.services import client_limits, enrich, tracking
from callpath.web import tracker_js
from callpath.web.batching import Grouper
from callpath.web.bodies import read_limited
from callpath.web.context import Context, ctx
from callpath.web.dbcall import run_db
from callpath.web.edge_responses import Assignment, Ok, body_of
from callpath.web.errors import ClientError
from callpath.web.models import Inbound
from callpath.web.responses import Error

TRACKER_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Error, "description": what}
    for status, what in (
        (400, "Bad input"),
        (403, "Origin not allowed for this site"),
        (404, "Unknown site or session"),
        (413, "Body too large"),
        (503, "Database busy or away: keep the page's own numbers"),
    )
}
router = APIRouter(prefix="/t", include_in_schema=True, tags=["tracker"], responses=TRACKER_ERRORS)
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}
_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_SITE_KEY = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class _Body(Inbound):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


B = TypeVar("B", bound=_Body)
R = TypeVar("R")
# Session starts per group (`_starts`): inline on the event loop a group holds up every
# other answer while it runs (about 0.3 ms a start), so it stays small.
GROUP_INLINE = 8
GROUP_THREADED = 16
PARALLEL_GROUPS = 2


class SessionBody(_Body):
    site: str = Field(max_length=32)
    visitor: str | None = Field(default=None, max_length=200)
    session: str | None = Field(default=None, max_length=200)
    url: str = Field(min_length=1, max_length=4096)
    referrer: str | None = Field(default=None, max_length=4096)
    ga: str | None = Field(default=None, max_length=100)
    ym: str | None = Field(default=None, max_length=100)


class PingBody(_Body):
    session: str = Field(max_length=64)
    visible: bool = True


class LeaveBody(_Body):
    session: str = Field(max_length=64)
    h: bool = True  # false: no sign of a person on the page (snippets before it: absent)


class EventBody(_Body):
    session: str = Field(max_length=64)
    kind: str = Field(max_length=32)


async def _read(request: Request, model: type[B]) -> B:
    raw = await read_limited(request, ctx(request).settings.max_body_bytes)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ClientError(400, "body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ClientError(400, "body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ClientError(400, f"{where}: {first['msg']}") from exc


async def _db(c: Context, fn: Callable[..., R], *args: Any) -> R:
    """Run a tracker use case (inline on SQLite, in the thread pool on PostgreSQL)."""
    return await run_db(c, fn, *args)


def _reply(data: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={**CORS, "Cache-Control": "no-store"})


def _assignment(a: tracking.Assignment) -> dict[str, Any]:
    return {
        "visitor": a.visitor,
        "session": a.session,
        "number": a.number,
        "display": a.display,
        "national": a.national,
        "hold_seconds": a.hold_seconds,
        "reason": a.reason,
        "visit_code": a.visit_code,
    }


def _site(c: Context, key: str) -> SiteConfig:
    site = c.sites.by_key(key) if _SITE_KEY.match(key) else None
    if site is None:
        raise ClientError(404, "unknown site")
    return site


def _client_ip(c: Context, request: Request) -> str | None:
    """The visitor's address: X-Forwarded-For counts only from CALLPATH_TRUSTED_PROXIES."""
    peer = request.client.host if request.client else None
    return enrich.client_ip(
        peer, request.headers.get("x-forwarded-for"), c.settings.trusted_proxies
    )


def _client(
    c: Context, request: Request, ip: str | None, visitor: str
) -> client_limits.Client | None:
    """The request's client and this process's limiter of session starts (None: neither
    an address nor a visitor id to tell it by)."""
    if not ip and not visitor:
        return None
    limits = c.settings.clients
    starts: client_limits.StartLimiter | None = getattr(request.app.state, "starts", None)
    if starts is None:
        starts = client_limits.StartLimiter(limits.starts_per_minute, limits.starts_burst)
        request.app.state.starts = starts
    key_secret = client_limits.secret(limits.key_secret, c.settings.spool_dir)
    return client_limits.Client(client_limits.client_key(key_secret, ip, visitor), limits, starts)


_Starter = Grouper[tuple[SiteConfig, tracking.Visit], tracking.Assignment]


def _starts(c: Context, state: Any) -> _Starter:
    """This app's session starts, run in groups (one transaction each). SQLite: one group
    at a time, as the writes are serial anyway, and small, as it runs on the event loop;
    PostgreSQL: a few at once on their threads and connections."""
    starter: _Starter | None = getattr(state, "session_starts", None)
    if starter is None:

        async def run(
            starts: list[tuple[SiteConfig, tracking.Visit]],
        ) -> list[tracking.Assignment | Exception]:
            return await _db(c, tracking.start_sessions, c.engine, starts, time.time)

        size, parallel = (GROUP_INLINE, 1) if c.inline_db else (GROUP_THREADED, PARALLEL_GROUPS)
        starter = state.session_starts = Grouper(run, size=size, parallel=parallel)
    return starter


def _session_id(raw: str) -> str:
    if not _ID.match(raw):
        raise ClientError(400, "session: not a session id")
    return raw


@router.options("/v1/{_path:path}", include_in_schema=False)
def preflight(_path: str) -> Response:
    return Response(status_code=204, headers=CORS)


@router.get("/{site_key}.js", include_in_schema=False)
def snippet(site_key: str, request: Request) -> Response:
    c = ctx(request)
    site = _site(c, site_key)
    base = c.settings.public_url or str(request.base_url).rstrip("/")
    return Response(
        tracker_js.render(site, base),
        media_type="text/javascript",
        headers={
            "Cache-Control": "public, max-age=300",
            "Vary": "Host",
            "Access-Control-Allow-Origin": "*",
        },
    )


@router.post("/v1/session", response_model=Assignment, openapi_extra=body_of(SessionBody))
async def start_session(request: Request) -> JSONResponse:
    body = await _read(request, SessionBody)
    c = ctx(request)
    site = _site(c, body.site)
    if not site.allows_origin(request.headers.get("origin")):
        raise ClientError(403, "origin not allowed for this site")
    if not body.url.lower().startswith(("http://", "https://")):
        raise ClientError(400, "url: must be an http(s) URL")
    visitor = body.visitor if body.visitor and _ID.match(body.visitor) else None
    ip = _client_ip(c, request)
    visit = tracking.Visit(
        url=body.url,
        referrer=body.referrer or None,
        visitor=visitor,
        session=body.session if body.session and _ID.match(body.session) else None,
        user_agent=(request.headers.get("user-agent") or "")[:1000] or None,
        ip=ip,
        client_ids=enrich.client_ids(body.ga, body.ym),
        client=_client(c, request, ip, visitor or ""),
        locator=c.geo,
    )
    result = await _starts(c, request.app.state)((site, visit))
    return _reply(_assignment(result))


def fast_route() -> Route:
    """`start_session` as a plain Starlette route, for the front of the app's route list.

    The busiest public endpoint reads and checks its body itself and needs none of
    FastAPI's per-request work (matching it after every other route, dependency
    solving, response handling): served this way it takes a quarter less CPU
    (bench/tracker_load.py). Errors still go through the app's exception handlers. The
    route above stays, and documents it in /openapi.json."""
    return Route("/t/v1/session", start_session, methods=["POST"], include_in_schema=False)


@router.post("/v1/ping", response_model=Assignment, openapi_extra=body_of(PingBody))
async def ping(request: Request) -> JSONResponse:
    body = await _read(request, PingBody)
    c = ctx(request)
    session_id = _session_id(body.session)
    client = _client(c, request, _client_ip(c, request), "")
    result = await _db(c, tracking.ping, c.engine, c.sites.by_id, session_id, time.time, client)
    if result is None:
        raise ClientError(404, "unknown session")
    return _reply(_assignment(result))


@router.post("/v1/leave", response_model=Ok, openapi_extra=body_of(LeaveBody))
async def leave(request: Request) -> JSONResponse:
    body = await _read(request, LeaveBody)
    c = ctx(request)
    ok = await _db(
        c, tracking.leave, c.engine, c.sites.by_id, _session_id(body.session), time.time, body.h
    )
    if not ok:
        raise ClientError(404, "unknown session")
    return _reply({"ok": True})


@router.post("/v1/event", response_model=Ok, openapi_extra=body_of(EventBody))
async def event(request: Request) -> JSONResponse:
    body = await _read(request, EventBody)
    if body.kind not in tracking.EVENT_KINDS:
        raise ClientError(400, f"kind: must be one of {', '.join(tracking.EVENT_KINDS)}")
    c = ctx(request)
    ok = await _db(
        c,
        tracking.record_event,
        c.engine,
        c.sites.by_id,
        _session_id(body.session),
        body.kind,
        time.time,
    )
    if not ok:
        raise ClientError(404, "unknown session")
    return _reply({"ok": True})
