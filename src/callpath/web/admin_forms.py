"""Admin forms: add a site or change its settings, add or retire a tracking number, add or
disable an integration. Errors come back on the same page."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from callpath.services import setup, site_input
from callpath.services.auth import MANAGERS, Principal
from callpath.storage.db import transaction
from callpath.web.admin import new_integration_redirect, site_view, sites_view
from callpath.web.auth import PageUser
from callpath.web.context import ctx
from callpath.web.forms import read_form
from callpath.web.pages import phone_text, render
from callpath.web.params import PathId

router = APIRouter(prefix="/app", include_in_schema=False)
SECONDS_DIGITS = 9  # more is out of every bound (and int() refuses 4300 digits and more)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


@router.post("/sites", response_model=None)
async def add_site(request: Request, who: PageUser) -> Response:
    form = await read_form(request)
    if who.role not in MANAGERS:
        return sites_view(request, who, "only owners and admins add sites", form, 403)
    data = setup.SiteInput(
        name=form.get("name", ""),
        domains=_split(form.get("domains", "")),
        original_numbers=_split(form.get("original", "")),
        default_destination=form.get("default_destination") or None,
        timezone=form.get("timezone") or "Europe/Moscow",
    )
    try:
        with transaction(ctx(request).engine) as conn:
            created = setup.create_site(conn, who.account_id, data, time.time())
    except setup.SetupError as exc:
        return sites_view(request, who, str(exc), form, 400)
    return RedirectResponse(f"/app/sites/{created['id']}", status_code=303)


@router.post("/sites/{site_id}/settings", response_model=None)
async def site_settings(site_id: PathId, request: Request, who: PageUser) -> Response:
    """The site page's settings form (owners and admins): every field posted is set, an
    empty list clears it; the reason comes back beside the form."""
    form = await read_form(request, keep_blank=True)
    if who.role not in MANAGERS:
        return site_view(
            request, who, site_id, settings_error="only owners and admins change site settings"
        )
    c = ctx(request)
    try:
        changes = setup.SiteChanges(**_site_changes(form))
        with transaction(c.engine) as conn:
            setup.update_site(conn, who.account_id, site_id, changes)
    except setup.SetupError as exc:  # NotFound too: the page answers 404 for it
        return site_view(request, who, site_id, settings_error=str(exc), form=form)
    c.site_changed()
    return RedirectResponse(f"/app/sites/{site_id}?saved=1#settings", status_code=303)


def _site_changes(form: dict[str, str]) -> dict[str, Any]:
    """The settings form's fields as `SiteChanges` arguments (a field not posted: None)."""
    texts = ("name", "default_destination", "timezone", "currency", "region")
    lists = ("domains", "original_numbers", "excluded_channels")
    seconds = (*site_input.POOL_FIELDS, "match_window")
    changes: dict[str, Any] = {name: form.get(name) for name in texts}
    changes |= {name: _split(form[name]) for name in lists if name in form}
    changes |= {name: _seconds(name, form[name]) for name in seconds if name in form}
    return changes


def _seconds(name: str, text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= SECONDS_DIGITS):
        raise setup.SetupError(f"{name}: a whole number of seconds, not {text[:20]!r}")
    return int(text)


@router.post("/sites/{site_id}/numbers", response_model=None)
async def add_number(site_id: PathId, request: Request, who: PageUser) -> Response:
    form = await read_form(request)
    if who.role not in MANAGERS:
        return site_view(request, who, site_id, error="only owners and admins add numbers")
    data = setup.NumberInput(
        number=form.get("number", ""),
        kind=form.get("kind", ""),
        forward_to=form.get("forward_to") or None,
        label=form.get("label") or None,
        source=form.get("source") or None,
        medium=form.get("medium") or None,
        campaign=form.get("campaign") or None,
        pool_group=form.get("pool_group") or None,
    )
    c = ctx(request)
    try:
        with transaction(c.engine) as conn:
            setup.add_number(conn, who.account_id, site_id, data, time.time())
    except setup.SetupError as exc:
        return site_view(request, who, site_id, error=str(exc), form=form)
    c.sites.forget()
    return RedirectResponse(f"/app/sites/{site_id}", status_code=303)


@router.post("/sites/{site_id}/integrations", response_model=None)
async def add_integration(site_id: PathId, request: Request, who: PageUser) -> Response:
    """A new call integration: redirected to the site page, which shows its secret once
    (a short-lived cookie names it; a reload shows it no more, and posts nothing again)."""
    form = await read_form(request)
    if who.role not in MANAGERS:
        return site_view(request, who, site_id, error="only owners and admins add integrations")
    try:
        with transaction(ctx(request).engine) as conn:
            made = setup.create_integration(
                conn,
                who.account_id,
                site_id,
                form.get("kind") or "generic",
                form.get("name", ""),
                time.time(),
                secret=form.get("secret") or None,
            )
    except setup.SetupError as exc:
        return site_view(request, who, site_id, error=str(exc), form=form)
    return new_integration_redirect(site_id, made.id)


@dataclass(frozen=True, slots=True)
class Confirm:
    """What the confirmation page of a switch-off asks: a title, what follows, a button."""

    title: str
    consequence: str
    button: str


@router.post("/sites/{site_id}/numbers/{number_id}/active", response_model=None)
async def number_active(
    site_id: PathId, number_id: PathId, request: Request, who: PageUser
) -> Response:
    """Retire a number (`active=0`, after a confirmation page) or bring it back
    (`active=1`)."""

    def confirm(conn: Connection) -> Confirm:
        row = setup.site_number(conn, who.account_id, site_id, number_id)
        return Confirm(
            f"Retire {phone_text(row['e164'])}?",
            "No new visitor will be shown it. Calls to it still get through (to the "
            "site's default destination) and still match the visits it was shown to. It "
            "can be brought back.",
            "Retire the number",
        )

    def change(conn: Connection, active: bool) -> None:
        setup.set_number_active(conn, who.account_id, number_id, active, site_id=site_id)

    return await _set_active(request, who, site_id, "retire numbers", confirm, change)


@router.post("/sites/{site_id}/integrations/{integration_id}/active", response_model=None)
async def integration_active(
    site_id: PathId, integration_id: str, request: Request, who: PageUser
) -> Response:
    """Disable an integration (`active=0`, after a confirmation page) or enable it again
    (`active=1`)."""
    given = integration_id[:40]

    def confirm(conn: Connection) -> Confirm:
        row = setup.site_integration(conn, who.account_id, site_id, given)
        return Confirm(
            f"Disable the integration {row['name']}?",
            f"Its phone system's calls ({row['kind']}) will be refused (401) and not "
            "recorded, and it will not be told where to forward them, until it is enabled "
            "again.",
            "Disable the integration",
        )

    def change(conn: Connection, active: bool) -> None:
        setup.set_integration_active(conn, who.account_id, given, active, site_id=site_id)

    return await _set_active(request, who, site_id, "change integrations", confirm, change)


async def _set_active(
    request: Request,
    who: Principal,
    site_id: int,
    what: str,
    confirm: Callable[[Connection], Confirm],
    change: Callable[[Connection, bool], None],
) -> Response:
    """A site page switch: owners and admins only; switching off asks first (a page with
    the consequence and a button that posts `confirm=1`: the pages run no inline script);
    back to the site page."""
    form = await read_form(request)
    if who.role not in MANAGERS:
        return site_view(request, who, site_id, error=f"only owners and admins {what}")
    active = form.get("active") == "1"
    c = ctx(request)
    if not active and form.get("confirm") != "1":
        with transaction(c.engine, write=False) as conn:
            asked = confirm(conn)
        return render(
            request,
            "confirm.html",
            who=who,
            title=asked.title,
            consequence=asked.consequence,
            button=asked.button,
            action=request.url.path,
            back=f"/app/sites/{site_id}",
            fields={"active": "0", "confirm": "1"},
        )
    with transaction(c.engine) as conn:
        change(conn, active)
    c.sites.forget()
    return RedirectResponse(f"/app/sites/{site_id}", status_code=303)
