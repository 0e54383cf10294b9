"""A link whose holder chooses a password and is logged in: an invitation (a new user) or
a password reset (an existing one). One flow for both: the link is checked before any
hashing, the password is hashed off the event loop, and the link is used up in the same
transaction that opens the login session."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, Engine

from callpath.services import accounts, auth, hashing
from callpath.services.auth import Principal
from callpath.services.setup import NotFound, SetupError
from callpath.storage.db import transaction
from callpath.web.auth import set_login
from callpath.web.context import ctx
from callpath.web.dbcall import run_db
from callpath.web.errors import ClientError
from callpath.web.forms import read_form
from callpath.web.pages import render

MAX_TOKEN = 100


@dataclass(frozen=True, slots=True)
class Link:
    """One kind of link: its page, and the service calls that open and use it."""

    template: str
    name: str  # what the template calls what `open` returns
    invalid: str  # the 404 for a token no link could have
    open: Callable[[Connection, str, float], Any]  # NotFound / SetupError: a dead link
    use: Callable[[Connection, str, str, float], Principal]  # (token, password hash, now)


def page(request: Request, link: Link, token: str, error: str | None = None) -> HTMLResponse:
    """The form to choose the password; a link no longer valid is a page saying so (404
    for an unknown one, 410 for a used or expired one, or one that may not be used now)."""
    found = _open(ctx(request).engine, link, token)
    return render(
        request,
        link.template,
        status=400 if error else 200,
        who=None,
        token=token,
        error=error,
        min_password=accounts.MIN_PASSWORD,
        **{link.name: found},
    )


def _open(engine: Engine, link: Link, token: str) -> Any:
    if len(token) > MAX_TOKEN:
        raise ClientError(404, link.invalid)
    try:
        with transaction(engine, write=False) as conn:
            return link.open(conn, token, time.time())
    except NotFound as exc:
        raise ClientError(404, str(exc)) from exc
    except SetupError as exc:
        raise ClientError(410, str(exc)) from exc


async def submit(request: Request, link: Link, token: str) -> Response:
    form = await read_form(request)
    c = ctx(request)
    await run_db(c, _open, c.engine, link, token)  # a dead link is refused before hashing
    password = form.get("password", "")
    try:
        accounts.check_password_rule(password)
        if password != form.get("repeat", ""):
            raise SetupError("the password and its repetition differ")
        password_hash = await hashing.POOL.run(accounts.hasher.hash, password)
        session = await run_db(c, _use, c.engine, link, token, password_hash)
    except NotFound as exc:
        raise ClientError(404, str(exc)) from exc
    except SetupError as exc:  # a link used up meanwhile: its page is a 410
        return page(request, link, token, error=str(exc))
    except hashing.Busy:
        return page(request, link, token, error="The server is busy, try again in a moment.")
    response = RedirectResponse("/app", status_code=303)
    set_login(request, response, session)
    return response


def _use(engine: Engine, link: Link, token: str, password_hash: str) -> str:
    """The user's new login session, made in the same transaction as the link is used."""
    with transaction(engine) as conn:
        now = time.time()
        who = link.use(conn, token, password_hash, now)
        return auth.open_session(conn, who, now)
