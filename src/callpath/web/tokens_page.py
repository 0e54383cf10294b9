"""API tokens page (`/app/tokens`): create (shown once) and revoke."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from callpath.services import auth
from callpath.services.auth import MANAGERS, Principal
from callpath.services.setup import SetupError
from callpath.storage import site_repo
from callpath.storage.db import transaction
from callpath.web.auth import PageUser
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.forms import read_form
from callpath.web.pages import render
from callpath.web.params import PathId

router = APIRouter(prefix="/app/tokens", include_in_schema=False)


def _page(
    request: Request,
    who: Principal,
    new_token: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    with transaction(ctx(request).engine, write=False) as conn:
        tokens = auth.list_tokens(conn, who.account_id)
        zone = site_repo.account_zone(conn, who.account_id)
    return render(
        request,
        "tokens.html",
        status=400 if error else 200,
        who=who,
        tokens=tokens,
        zone=zone,
        new_token=new_token,
        error=error,
        roles=auth.roles_up_to(who.role),
    )


def _manager(who: Principal) -> None:
    if who.role not in MANAGERS:
        raise ClientError(403, "only owners and admins manage API tokens")


@router.get("")
def tokens(request: Request, who: PageUser) -> HTMLResponse:
    _manager(who)
    return _page(request, who)


@router.post("")
async def create(request: Request, who: PageUser) -> HTMLResponse:
    _manager(who)
    form = await read_form(request)
    name, role = form.get("name", "")[:200], form.get("role") or who.role
    try:
        with transaction(ctx(request).engine) as conn:
            token = auth.create_token(conn, who, name, time.time(), role[:20])
    except SetupError as exc:
        return _page(request, who, error=str(exc))
    return _page(request, who, new_token=token)


@router.post("/{token_id}/revoke")
async def revoke(token_id: PathId, request: Request, who: PageUser) -> RedirectResponse:
    _manager(who)
    await read_form(request)  # the same-origin check
    with transaction(ctx(request).engine) as conn:
        if not auth.revoke_token(conn, who.account_id, token_id, time.time()):
            raise ClientError(404, "no such token")
    return RedirectResponse("/app/tokens", status_code=303)
