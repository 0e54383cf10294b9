"""Checking a login off the event loop, behind the failed-login limits."""

from __future__ import annotations

import time

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from callpath.services import auth, hashing
from callpath.services.enrich import client_ip
from callpath.services.login_limits import LoginLimiter, Refusal, address_key
from callpath.storage.db import transaction
from callpath.web.context import ctx
from callpath.web.pages import render


def limiter(request: Request) -> LoginLimiter:
    """The app's limiter, made on first use (in this process's memory)."""
    state = request.app.state
    made = getattr(state, "login_limiter", None)
    if isinstance(made, LoginLimiter):
        return made
    made = LoginLimiter(time.monotonic)
    state.login_limiter = made
    return made


def address(request: Request) -> str:
    """The client's address as the tracker reads it (X-Forwarded-For from trusted proxies),
    as the address limit counts it."""
    peer = request.client.host if request.client else None
    trusted = ctx(request).settings.trusted_proxies
    ip = client_ip(peer, request.headers.get("x-forwarded-for"), trusted) or "unknown"
    return address_key(ip)


async def log_in(request: Request, email: str, password: str) -> str | Refusal | None:
    """A new login session's token; None for a wrong e-mail or password; a Refusal, with
    no password checked, past the limits or while the hashing pool is full."""
    guard = limiter(request)
    attempt = guard.attempt(address(request), email)
    if isinstance(attempt, Refusal):
        return attempt
    engine = ctx(request).engine
    found = await run_in_threadpool(_find, engine, email)
    try:
        who = await hashing.POOL.run(auth.check_password, found, password)
    except hashing.Busy:
        guard.cancel(attempt)
        return Refusal("too many logins at once, try again in a moment", 2)
    if who is None:
        return None
    guard.succeeded(attempt)
    return await run_in_threadpool(_open, engine, who)


def _find(engine: Engine, email: str) -> auth.Login | None:
    with transaction(engine, write=False) as conn:
        return auth.find_login(conn, email)


def _open(engine: Engine, who: auth.Principal) -> str:
    with transaction(engine) as conn:
        return auth.open_session(conn, who, time.time())


def refused(request: Request, refusal: Refusal, email: str) -> Response:
    """429 with Retry-After: the login page saying why and for how long, or JSON for a
    client that asks for it."""
    headers = {"Retry-After": str(refusal.retry_after)}
    accept = request.headers.get("accept", "")
    if "json" in accept and "text/html" not in accept:
        body = {"error": refusal.reason, "retry_after": refusal.retry_after}
        return JSONResponse(body, status_code=429, headers=headers)
    message = f"{refusal.reason.capitalize()}. Try again in {_duration(refusal.retry_after)}."
    page: HTMLResponse = render(
        request, "login.html", status=429, who=None, error=message, email=email
    )
    page.headers.update(headers)
    return page


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{round(seconds / 60)} minutes"
