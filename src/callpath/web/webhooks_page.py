"""Webhooks page (`/app/webhooks`): add one (its secret shown once, after the redirect),
pause, resume, remove (asked first); each webhook's delivery log, one delivery's payload
and attempts, replays. Owners and admins only."""

from __future__ import annotations

import hmac
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from callpath.domain.outbox import EVENT_TYPES
from callpath.integrations import destinations
from callpath.services.auth import MANAGERS, Principal
from callpath.services.setup import SetupError
from callpath.storage import outbox_repo, site_repo
from callpath.storage.db import transaction
from callpath.web import flash
from callpath.web.api_webhooks import webhook_view
from callpath.web.auth import PageUser
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.forms import read_form
from callpath.web.pages import render
from callpath.web.params import PathId

router = APIRouter(prefix="/app/webhooks", include_in_schema=False)
STATES = ("pending", "delivered", "failed")


def _manager(who: Principal) -> None:
    if who.role not in MANAGERS:
        raise ClientError(403, "only owners and admins manage webhooks")


def _sites(conn: Any, account_id: int) -> list[dict[str, Any]]:
    return [dict(s) for s in site_repo.list_sites(conn, account_id)]


def _list(
    request: Request, who: Principal, form: dict[str, str] | None = None, error: str = ""
) -> Response:
    notice = flash.take(request)
    with transaction(ctx(request).engine, write=False) as conn:
        rows = destinations.listed(conn, who.account_id, "webhook")
        sites = _sites(conn, who.account_id)
        zone = site_repo.account_zone(conn, who.account_id)
        secret = _new_secret(conn, who.account_id, notice)
    hooks = [webhook_view(r) for r in rows if r["kind"] == "webhook"]
    response = render(
        request,
        "webhooks.html",
        status=400 if error else 200,
        who=who,
        hooks=hooks,
        sites={s["id"]: s["name"] for s in sites},
        zone=zone,
        events=EVENT_TYPES,
        form=form or {},
        error=error,
        notice=notice.text if notice else None,
        new_secret=secret,
    )
    return flash.shown(request, response)


def _new_secret(conn: Any, account_id: int, notice: flash.Notice | None) -> dict[str, Any] | None:
    """The secret the redirect carried, shown only if it is that webhook's, of this
    account (a cookie is the client's to change)."""
    if notice is None or notice.key != "webhook" or ":" not in notice.secret:
        return None
    given_id, _, secret = notice.secret.partition(":")
    if not given_id.isdigit() or len(given_id) > 9:
        return None
    row = outbox_repo.destination(conn, account_id, int(given_id))
    if row is None or not hmac.compare_digest(str(row["secret"]), secret):
        return None
    return {"id": row["id"], "secret": secret}


@router.get("")
def webhooks(request: Request, who: PageUser) -> Response:
    _manager(who)
    return _list(request, who)


@router.post("", response_model=None)
async def add(request: Request, who: PageUser) -> Response:
    _manager(who)
    form = await read_form(request)
    chosen = [e for e in EVENT_TYPES if form.get(f"event_{e}")]
    site = form.get("site_id", "")
    try:
        with transaction(ctx(request).engine) as conn:
            added = destinations.add_webhook(
                conn,
                who.account_id,
                form.get("url", ""),
                chosen,
                time.time(),
                form.get("name") or None,
                int(site) if site.isdigit() and len(site) < 10 else None,
                form.get("allow_private") == "on",
            )
    except SetupError as exc:
        return _list(request, who, form, str(exc))
    secret = f"{added.destination['id']}:{added.secret}"
    return flash.redirect(request, "/app/webhooks", "webhook", secret)


@router.get("/{hook_id}")
def log(request: Request, who: PageUser, hook_id: PathId, state: str = "") -> Response:
    _manager(who)
    shown = state if state in STATES else None
    notice = flash.take(request)
    with transaction(ctx(request).engine, write=False) as conn:
        hook = webhook_view(destinations.found(conn, who.account_id, hook_id))
        rows = destinations.log(conn, who.account_id, hook_id, 200, shown)
        zone = site_repo.account_zone(conn, who.account_id)
    response = render(
        request,
        "webhook.html",
        who=who,
        hook=hook,
        rows=rows,
        state=shown,
        states=STATES,
        zone=zone,
        notice=notice.text if notice else None,
    )
    return flash.shown(request, response)


@router.get("/{hook_id}/deliveries/{delivery_id}")
def delivery(request: Request, who: PageUser, hook_id: PathId, delivery_id: PathId) -> HTMLResponse:
    _manager(who)
    with transaction(ctx(request).engine, write=False) as conn:
        row = destinations.delivery(conn, who.account_id, delivery_id)
        zone = site_repo.account_zone(conn, who.account_id)
    if row["destination_id"] != hook_id:
        raise ClientError(404, f"no delivery {delivery_id} of webhook {hook_id}")
    return render(request, "delivery.html", who=who, hook_id=hook_id, row=row, zone=zone)


@router.post("/{hook_id}/deliveries/{delivery_id}/replay")
async def replay_one(
    request: Request, who: PageUser, hook_id: PathId, delivery_id: PathId
) -> RedirectResponse:
    _manager(who)
    await read_form(request)
    with transaction(ctx(request).engine) as conn:
        row = destinations.delivery(conn, who.account_id, delivery_id)
        if row["destination_id"] != hook_id:
            raise ClientError(404, f"no delivery {delivery_id} of webhook {hook_id}")
        destinations.replay_one(conn, who.account_id, delivery_id, time.time())
    return flash.redirect(request, f"/app/webhooks/{hook_id}", "replayed")


@router.post("/{hook_id}/replay")
async def replay_period(request: Request, who: PageUser, hook_id: PathId) -> Response:
    _manager(who)
    form = await read_form(request)
    with transaction(ctx(request).engine) as conn:
        zone = ZoneInfo(site_repo.account_zone(conn, who.account_id) or "UTC")
        since = _day(form.get("from", ""), zone, "from")
        until = _day(form.get("to", ""), zone, "to") + 86_400
        destinations.replay_period(conn, who.account_id, hook_id, since, until, time.time())
    return flash.redirect(request, f"/app/webhooks/{hook_id}", "replayed")


def _day(text: str, zone: ZoneInfo, name: str) -> float:
    try:
        return datetime.strptime(text[:10], "%Y-%m-%d").replace(tzinfo=zone).timestamp()
    except ValueError:
        raise ClientError(400, f"{name}: a day as YYYY-MM-DD") from None


@router.post("/{hook_id}/pause")
async def pause(request: Request, who: PageUser, hook_id: PathId) -> RedirectResponse:
    _manager(who)
    await read_form(request)
    with transaction(ctx(request).engine) as conn:
        destinations.pause(conn, who.account_id, hook_id, time.time())
    return flash.redirect(request, f"/app/webhooks/{hook_id}", "paused")


@router.post("/{hook_id}/resume")
async def resume(request: Request, who: PageUser, hook_id: PathId) -> RedirectResponse:
    _manager(who)
    await read_form(request)
    with transaction(ctx(request).engine) as conn:
        destinations.resume(conn, who.account_id, hook_id)
    return flash.redirect(request, f"/app/webhooks/{hook_id}", "resumed")


@router.get("/{hook_id}/remove")
def remove_asked(request: Request, who: PageUser, hook_id: PathId) -> HTMLResponse:
    _manager(who)
    with transaction(ctx(request).engine, write=False) as conn:
        hook = destinations.found(conn, who.account_id, hook_id)
    return render(
        request,
        "confirm.html",
        who=who,
        title=f"Remove the webhook to {hook['url'][:80]}?",
        consequence="Nothing more is sent to it. Deliveries still waiting are dropped and "
        "its delivery log is deleted. Events already delivered stay delivered.",
        action=f"/app/webhooks/{hook_id}/remove",
        button="Remove",
        back=f"/app/webhooks/{hook_id}",
    )


@router.post("/{hook_id}/remove")
async def remove(request: Request, who: PageUser, hook_id: PathId) -> RedirectResponse:
    _manager(who)
    await read_form(request)
    with transaction(ctx(request).engine) as conn:
        destinations.remove(conn, who.account_id, hook_id)
    return flash.redirect(request, "/app/webhooks", "webhook_removed")
