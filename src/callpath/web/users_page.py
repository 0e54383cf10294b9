"""The users page (`/app/users`, owners and admins): the account's users, pending
invitations and password reset links; add a user (a password or an invitation link),
change a role, deactivate (after a confirmation page) or reactivate, make a password
reset link (after a confirmation page), withdraw an invitation or a reset link."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection, Engine

from callpath.services import accounts, hashing, users
from callpath.services.auth import MANAGERS, Principal, digest
from callpath.services.setup import NotFound, SetupError
from callpath.storage import invitation_repo, reset_repo, site_repo, user_repo
from callpath.storage.db import transaction
from callpath.web import flash
from callpath.web.auth import PageUser
from callpath.web.context import ctx
from callpath.web.dbcall import run_db
from callpath.web.errors import ClientError
from callpath.web.forms import read_form
from callpath.web.pages import render
from callpath.web.params import PathId

router = APIRouter(prefix="/app/users", include_in_schema=False)
BUSY = "the server is busy checking passwords, try again in a moment"


def _manager(who: Principal) -> None:
    if who.role not in MANAGERS:
        raise ClientError(403, "only owners and admins manage users")


@router.get("")
def users_list(request: Request, who: PageUser) -> Response:
    _manager(who)
    notice = flash.take(request)
    return flash.shown(request, _page(request, who, notice=notice))


def _page(
    request: Request,
    who: Principal,
    notice: flash.Notice | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    now = time.time()
    with transaction(ctx(request).engine, write=False) as conn:
        people = user_repo.account_users(conn, who.account_id)
        invited = invitation_repo.pending(conn, who.account_id, now)
        resets = reset_repo.pending(conn, who.account_id, now)
        link = _invitation_link(request, conn, who, notice, now)
        reset_link = _reset_link(request, conn, who, notice, now)
        zone = site_repo.account_zone(conn, who.account_id)
    return render(
        request,
        "users.html",
        status=400 if error else 200,
        who=who,
        users=people,
        invitations=invited,
        resets=resets,
        roles=list(reversed(users.roles_for(who))),
        notice=notice,
        link=link,
        reset_link=reset_link,
        error=error,
        form=form or {},
        invitation_days=users.INVITATION_SECONDS // 86_400,
        reset_hours=users.RESET_SECONDS // 3600,
        zone=zone,
    )


def _invitation_link(
    request: Request, conn: Connection, who: Principal, notice: flash.Notice | None, now: float
) -> str | None:
    """The new invitation's link, shown once: only if the notice's secret still opens a
    pending invitation of this account (a cookie is no proof of anything)."""
    if notice is None or notice.key != "invited" or not notice.secret:
        return None
    if not invitation_repo.is_pending(conn, who.account_id, digest(notice.secret), now):
        return None
    return f"{_base(request)}/app/invite/{notice.secret}"


def _reset_link(
    request: Request, conn: Connection, who: Principal, notice: flash.Notice | None, now: float
) -> dict[str, str] | None:
    """The new password reset link and whose it is, shown once, on the same terms."""
    if notice is None or notice.key != "reset" or not notice.secret:
        return None
    email = reset_repo.pending_email(conn, who.account_id, digest(notice.secret), now)
    if email is None:
        return None
    return {"url": f"{_base(request)}/app/reset/{notice.secret}", "email": email}


def _base(request: Request) -> str:
    return ctx(request).settings.public_url or str(request.base_url).rstrip("/")


@router.post("", response_model=None)
async def add(request: Request, who: PageUser) -> Response:
    """A password given: the user exists at once. None: an invitation link, shown once."""
    _manager(who)
    form = await read_form(request)
    email, role = form.get("email", "")[:300], form.get("role", "")[:20]
    password = form.get("password", "")
    kept = {"email": email, "role": role}
    try:
        if not password:
            token = await run_db(ctx(request), _invite, ctx(request).engine, who, email, role)
            return flash.redirect(request, "/app/users", "invited", token)
        accounts.check_password_rule(password)
        password_hash = await hashing.POOL.run(accounts.hasher.hash, password)
        await run_db(ctx(request), _add, ctx(request).engine, who, email, role, password_hash)
    except SetupError as exc:
        return _page(request, who, error=str(exc), form=kept)
    except hashing.Busy:
        return _page(request, who, error=BUSY, form=kept)
    return flash.redirect(request, "/app/users", "added")


def _invite(engine: Engine, who: Principal, email: str, role: str) -> str:
    with transaction(engine) as conn:
        return users.invite(conn, who, email, role, time.time())


def _add(engine: Engine, who: Principal, email: str, role: str, password_hash: str) -> None:
    with transaction(engine) as conn:
        users.add_user(conn, who, email, role, password_hash, time.time())


@router.post("/{user_id}/role", response_model=None)
async def change_role(user_id: PathId, request: Request, who: PageUser) -> Response:
    _manager(who)
    role = (await read_form(request)).get("role", "")[:20]
    return await _change(request, who, "role", users.change_role, who, user_id, role)


@router.get("/{user_id}/deactivate")
def confirm_deactivate(user_id: PathId, request: Request, who: PageUser) -> HTMLResponse:
    """The confirmation step before deactivating (the pages run no scripts of their own)."""
    return _confirm(
        request,
        who,
        user_id,
        "deactivate",
        "Deactivate {email}?",
        "They can no longer log in; their login sessions end now and their API tokens are "
        "revoked. You can reactivate them later, but not their tokens.",
        "Deactivate",
    )


def _confirm(
    request: Request,
    who: Principal,
    user_id: int,
    step: str,
    title: str,
    consequence: str,
    button: str,
) -> HTMLResponse:
    """The confirmation page that posts to `/app/users/{user_id}/{step}`; `{email}` in the
    title is the user's."""
    _manager(who)
    user = _account_user(request, who, user_id)
    return render(
        request,
        "confirm.html",
        who=who,
        title=title.format(email=user["email"]),
        consequence=consequence,
        action=f"/app/users/{user_id}/{step}",
        button=button,
        back="/app/users",
    )


def _account_user(request: Request, who: Principal, user_id: int) -> dict[str, Any]:
    with transaction(ctx(request).engine, write=False) as conn:
        user = user_repo.account_user(conn, who.account_id, user_id)
    if user is None:
        raise ClientError(404, "no such user")
    return user


@router.get("/{user_id}/reset-password")
def confirm_reset(user_id: PathId, request: Request, who: PageUser) -> HTMLResponse:
    """The confirmation step before making a password reset link."""
    return _confirm(
        request,
        who,
        user_id,
        "reset-password",
        "Reset the password of {email}?",
        f"You get a link to send them, shown once: it works once, for "
        f"{users.RESET_SECONDS // 3600} hours. With it they choose a new password, and "
        "every login session of theirs ends. Until then their current password keeps "
        "working; their API tokens are not touched.",
        "Make a reset link",
    )


@router.post("/{user_id}/reset-password", response_model=None)
async def make_reset(user_id: PathId, request: Request, who: PageUser) -> Response:
    _manager(who)
    await read_form(request)  # the same-origin check
    try:
        token = await run_db(ctx(request), _make_reset, ctx(request).engine, who, user_id)
    except NotFound as exc:
        raise ClientError(404, str(exc)) from exc
    except SetupError as exc:
        return _page(request, who, error=str(exc))
    return flash.redirect(request, "/app/users", "reset", token)


def _make_reset(engine: Engine, who: Principal, user_id: int) -> str:
    with transaction(engine) as conn:
        return users.make_reset(conn, who, user_id, time.time())


@router.post("/{user_id}/deactivate", response_model=None)
async def deactivate(user_id: PathId, request: Request, who: PageUser) -> Response:
    _manager(who)
    await read_form(request)  # the same-origin check
    return await _change(request, who, "deactivated", users.deactivate, who, user_id, time.time())


@router.post("/{user_id}/reactivate", response_model=None)
async def reactivate(user_id: PathId, request: Request, who: PageUser) -> Response:
    _manager(who)
    await read_form(request)
    return await _change(request, who, "reactivated", users.reactivate, who, user_id)


@router.post("/invitations/{invitation_id}/withdraw", response_model=None)
async def withdraw(invitation_id: PathId, request: Request, who: PageUser) -> Response:
    _manager(who)
    await read_form(request)
    return await _change(request, who, "withdrawn", users.withdraw_invitation, who, invitation_id)


@router.post("/resets/{reset_id}/withdraw", response_model=None)
async def withdraw_reset(reset_id: PathId, request: Request, who: PageUser) -> Response:
    _manager(who)
    await read_form(request)
    return await _change(request, who, "reset_withdrawn", users.withdraw_reset, who, reset_id)


async def _change(
    request: Request, who: Principal, notice: str, step: Callable[..., None], *args: Any
) -> Response:
    """`step(conn, *args)` in one transaction, then back to the list with `notice`; a
    refusal comes back on the list (400), an unknown id is a 404."""
    try:
        await run_db(ctx(request), _in_transaction, ctx(request).engine, step, args)
    except NotFound as exc:
        raise ClientError(404, str(exc)) from exc
    except SetupError as exc:
        return _page(request, who, error=str(exc))
    return flash.redirect(request, "/app/users", notice)


def _in_transaction(engine: Engine, step: Callable[..., None], args: tuple[Any, ...]) -> None:
    with transaction(engine) as conn:
        step(conn, *args)
