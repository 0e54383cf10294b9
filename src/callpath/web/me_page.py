"""Your login (`/app/me`, every user): change your password (your current one required,
checked behind the failed-login limits), log out everywhere (after a confirmation)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from callpath.services import accounts, auth, hashing, users
from callpath.services.auth import Principal
from callpath.services.login_limits import Refusal
from callpath.services.setup import SetupError
from callpath.storage import login_repo
from callpath.storage.db import transaction
from callpath.web import flash, login_check
from callpath.web.auth import COOKIE, PageUser
from callpath.web.context import ctx
from callpath.web.dbcall import run_db
from callpath.web.forms import read_form
from callpath.web.pages import render

router = APIRouter(prefix="/app/me", include_in_schema=False)


@router.get("")
def me(request: Request, who: PageUser) -> Response:
    notice = flash.take(request)
    return flash.shown(request, _page(request, who, notice=notice))


def _page(
    request: Request,
    who: Principal,
    notice: flash.Notice | None = None,
    error: str | None = None,
    status: int | None = None,
) -> HTMLResponse:
    with transaction(ctx(request).engine, write=False) as conn:
        sessions = login_repo.user_sessions(conn, who.account_id, who.user_id, time.time())
    return render(
        request,
        "me.html",
        status=status or (400 if error else 200),
        who=who,
        sessions=sessions,
        notice=notice,
        error=error,
        min_password=accounts.MIN_PASSWORD,
    )


@router.post("/password", response_model=None)
async def change_password(request: Request, who: PageUser) -> Response:
    form = await read_form(request)
    current, new = form.get("current", "")[:1024], form.get("new", "")
    try:
        accounts.check_password_rule(new)
        if new != form.get("repeat", ""):
            raise SetupError("the new password and its repetition differ")
        refused = await _check_current(request, who, current)
        if refused is not None:
            return _page(request, who, error=refused.reason.capitalize() + ".", status=429)
        password_hash = await hashing.POOL.run(accounts.hasher.hash, new)
    except SetupError as exc:
        return _page(request, who, error=str(exc))
    except hashing.Busy:
        return _page(request, who, error="Too many password checks at once, try again.")
    token = request.cookies.get(COOKIE, "")
    c = ctx(request)
    await run_db(c, _set_password, c.engine, who, password_hash, token)
    return flash.redirect(request, "/app/me", "password")


async def _check_current(request: Request, who: Principal, password: str) -> Refusal | None:
    """SetupError for a wrong current password; a Refusal past the failed-login limits,
    which count these checks as logins (a stolen session cannot guess faster)."""
    guard = login_check.limiter(request)
    attempt = guard.attempt(login_check.address(request), who.email)
    if isinstance(attempt, Refusal):
        return attempt
    c = ctx(request)
    login = await run_db(c, _own_login, c.engine, who)
    try:
        right = await hashing.POOL.run(auth.check_password, login, password)
    except hashing.Busy:
        guard.cancel(attempt)
        raise
    if right is None:
        raise SetupError("the current password is wrong")
    guard.succeeded(attempt)
    return None


def _own_login(engine: Engine, who: Principal) -> auth.Login:
    with transaction(engine, write=False) as conn:
        return users.own_login(conn, who)


def _set_password(engine: Engine, who: Principal, password_hash: str, token: str) -> None:
    with transaction(engine) as conn:
        users.set_own_password(conn, who, password_hash, token)


@router.get("/logout-everywhere")
def confirm_logout_everywhere(request: Request, who: PageUser) -> HTMLResponse:
    return render(
        request,
        "confirm.html",
        who=who,
        title="Log out everywhere?",
        consequence="Every login session of yours ends, this one included: on every "
        "browser and device you will have to log in again. Your API tokens keep working.",
        action="/app/me/logout-everywhere",
        button="Log out everywhere",
        back="/app/me",
    )


@router.post("/logout-everywhere")
async def logout_everywhere(request: Request, who: PageUser) -> RedirectResponse:
    await read_form(request)  # the same-origin check
    c = ctx(request)
    await run_db(c, _close_all, c.engine, who)
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _close_all(engine: Engine, who: Principal) -> None:
    with transaction(engine) as conn:
        auth.close_all_sessions(conn, who)
