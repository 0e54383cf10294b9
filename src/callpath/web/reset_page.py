"""A password reset link (`/app/reset/TOKEN`): whoever holds it chooses the user's new
password; every login session of the user ends and this browser is logged in as them.
Links are unguessable (256 bits), work once and expire (`users.RESET_SECONDS`); an owner
or admin who manages the user makes them on the users page (or `callpath user
reset-password`)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from callpath.services import accounts, auth, hashing, users
from callpath.services.setup import NotFound, SetupError
from callpath.storage.db import transaction
from callpath.web.auth import set_login
from callpath.web.context import ctx
from callpath.web.dbcall import run_db
from callpath.web.errors import ClientError
from callpath.web.forms import read_form
from callpath.web.pages import render

router = APIRouter(prefix="/app/reset", include_in_schema=False)
MAX_TOKEN = 100


@router.get("/{token}")
def reset_form(token: str, request: Request) -> HTMLResponse:
    return _page(request, token)


def _page(request: Request, token: str, error: str | None = None) -> HTMLResponse:
    """The form to choose the new password; a link no longer valid is a page saying so
    (404 for an unknown one, 410 for a used or expired one, or one of a deactivated
    user)."""
    found = _open(ctx(request).engine, token)
    return render(
        request,
        "reset.html",
        status=400 if error else 200,
        who=None,
        reset=found,
        token=token,
        error=error,
        min_password=accounts.MIN_PASSWORD,
    )


def _open(engine: Engine, token: str) -> users.Reset:
    if len(token) > MAX_TOKEN:
        raise ClientError(404, "this password reset link is not valid")
    try:
        with transaction(engine, write=False) as conn:
            return users.open_reset(conn, token, time.time())
    except NotFound as exc:
        raise ClientError(404, str(exc)) from exc
    except SetupError as exc:
        raise ClientError(410, str(exc)) from exc


@router.post("/{token}", response_model=None)
async def reset(token: str, request: Request) -> Response:
    form = await read_form(request)
    c = ctx(request)
    await run_db(c, _open, c.engine, token)  # a dead link is refused before any hashing
    password = form.get("password", "")
    try:
        accounts.check_password_rule(password)
        if password != form.get("repeat", ""):
            raise SetupError("the password and its repetition differ")
        password_hash = await hashing.POOL.run(accounts.hasher.hash, password)
        session = await run_db(c, _use, c.engine, token, password_hash)
    except NotFound as exc:
        raise ClientError(404, str(exc)) from exc
    except SetupError as exc:  # a link used up meanwhile: its page is a 410
        return _page(request, token, error=str(exc))
    except hashing.Busy:
        return _page(request, token, error="The server is busy, try again in a moment.")
    response = RedirectResponse("/app", status_code=303)
    set_login(request, response, session)
    return response


def _use(engine: Engine, token: str, password_hash: str) -> str:
    """The user's new login session, made in the same transaction as the new password
    (after their others ended)."""
    with transaction(engine) as conn:
        now = time.time()
        who = users.use_reset(conn, token, password_hash, now)
        return auth.open_session(conn, who, now)
