"""REST API (`/api/v1`): sites and tracking numbers, scoped to the caller's account."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from callpath.domain.pool import PoolSettings
from callpath.services import setup
from callpath.services.auth import MANAGERS
from callpath.storage import site_repo
from callpath.storage.db import transaction
from callpath.web.auth import ApiUser
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.models import Inbound, SiteIn, SitePatch
from callpath.web.params import PathId, QueryId, known_query
from callpath.web.responses import ERRORS, Number, NumberPage, Site, SitePage
from callpath.web.scope import owned_site

router = APIRouter(
    prefix="/api/v1", tags=["admin"], dependencies=[Depends(known_query)], responses=ERRORS
)
EDITORS = MANAGERS  # who may add and change sites and numbers (a token: by its role)
SITE_FIELDS = (
    "id",
    "key",
    "name",
    "domains",
    "timezone",
    "currency",
    "region",
    "original_numbers",
    "default_destination",
    "ping_interval",
    "hold_after_leave",
    "cooldown",
    "session_timeout",
    "excluded_channels",
    "match_window",
)
NUMBER_FIELDS = (
    "id",
    "site_id",
    "e164",
    "kind",
    "forward_to",
    "label",
    "channel_source",
    "channel_medium",
    "channel_campaign",
    "provider",
    "region",
    "monthly_cost",
    "active",
    "pool_group",
)


class NumberIn(Inbound):
    number: str = Field(max_length=40)
    kind: str = Field(pattern="^(static|pool|default)$")
    forward_to: str | None = Field(default=None, max_length=40)
    label: str | None = Field(default=None, max_length=200)
    source: str | None = Field(default=None, max_length=255)
    medium: str | None = Field(default=None, max_length=255)
    campaign: str | None = Field(default=None, max_length=255)
    monthly_cost: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    pool_group: str | None = Field(default=None, max_length=100)


def _pick(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: row[f] for f in fields}


def _paged(
    rows: list[dict[str, Any]], fields: tuple[str, ...], cursor: str | None, limit: int
) -> dict[str, Any]:
    """Rows in id order after `cursor` (the last id of the previous page)."""
    if cursor is not None and not cursor.isdigit():
        raise ClientError(400, "cursor: not a cursor this server gave out")
    after = int(cursor) if cursor else 0
    page = sorted((r for r in rows if r["id"] > after), key=lambda r: r["id"])[: limit + 1]
    more = len(page) > limit
    page = page[:limit]
    return {
        "items": [_pick(r, fields) for r in page],
        "next_cursor": str(page[-1]["id"]) if more else None,
    }


Cursor = Annotated[str | None, Query(max_length=20)]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/sites", response_model=SitePage)
def list_sites(
    request: Request, who: ApiUser, cursor: Cursor = None, limit: Limit = 100
) -> dict[str, Any]:
    with transaction(ctx(request).engine, write=False) as conn:
        rows = site_repo.list_sites(conn, who.account_id)
    return _paged(rows, SITE_FIELDS, cursor, limit)


@router.post("/sites", status_code=201, response_model=Site)
def create_site(body: SiteIn, request: Request, who: ApiUser) -> dict[str, Any]:
    if who.role not in EDITORS:
        raise ClientError(403, "only owners, admins and their API tokens add sites")
    try:
        pool = PoolSettings(
            body.ping_interval, body.hold_after_leave, body.cooldown, body.session_timeout
        )
    except ValueError as exc:
        raise ClientError(400, str(exc)) from exc
    data = setup.SiteInput(
        name=body.name,
        domains=body.domains,
        original_numbers=body.original_numbers,
        default_destination=body.default_destination,
        timezone=body.timezone,
        currency=body.currency,
        region=body.region,
        pool=pool,
        excluded_channels=body.excluded_channels,
        match_window=body.match_window,
    )
    with transaction(ctx(request).engine) as conn:
        created = setup.create_site(conn, who.account_id, data, time.time())
        row = site_repo.site_row(conn, site_id=created["id"])
    assert row is not None
    return _pick(row, SITE_FIELDS)


@router.get("/sites/{site_id}", response_model=Site)
def get_site(site_id: PathId, request: Request, who: ApiUser) -> dict[str, Any]:
    with transaction(ctx(request).engine, write=False) as conn:
        row = owned_site(conn, who.account_id, site_id)
    return _pick(row, SITE_FIELDS)


@router.patch("/sites/{site_id}", response_model=Site)
def change_site(site_id: PathId, body: SitePatch, request: Request, who: ApiUser) -> dict[str, Any]:
    """Change the fields given (the others keep their values); answers the site as it is
    now. The key never changes. The default destination can be changed, not removed."""
    if who.role not in EDITORS:
        raise ClientError(403, "only owners, admins and their API tokens change sites")
    c = ctx(request)
    changes = setup.SiteChanges(**body.model_dump(exclude_unset=True))
    with transaction(c.engine) as conn:
        row = setup.update_site(conn, who.account_id, site_id, changes)
    c.site_changed()
    return _pick(row, SITE_FIELDS)


@router.get("/sites/{site_id}/numbers", response_model=NumberPage)
def list_site_numbers(
    site_id: PathId, request: Request, who: ApiUser, cursor: Cursor = None, limit: Limit = 100
) -> dict[str, Any]:
    with transaction(ctx(request).engine, write=False) as conn:
        owned_site(conn, who.account_id, site_id)
        rows = site_repo.list_numbers(conn, who.account_id, site_id)
    return _paged(rows, NUMBER_FIELDS, cursor, limit)


@router.get("/numbers", response_model=NumberPage)
def list_numbers(
    request: Request,
    who: ApiUser,
    site_id: QueryId = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    with transaction(ctx(request).engine, write=False) as conn:
        rows = site_repo.list_numbers(conn, who.account_id, site_id)
    return _paged(rows, NUMBER_FIELDS, cursor, limit)


@router.post("/sites/{site_id}/numbers", status_code=201, response_model=Number)
def add_number(site_id: PathId, body: NumberIn, request: Request, who: ApiUser) -> dict[str, Any]:
    if who.role not in EDITORS:
        raise ClientError(403, "only owners, admins and their API tokens add numbers")
    c = ctx(request)
    data = setup.NumberInput(**body.model_dump())
    with transaction(c.engine) as conn:
        owned_site(conn, who.account_id, site_id)
        number_id = setup.add_number(conn, who.account_id, site_id, data, time.time())
        row = site_repo.number_by_id(conn, who.account_id, number_id)
    c.sites.forget()
    assert row is not None
    return _pick(row, NUMBER_FIELDS)


class NumberPatch(Inbound):
    active: bool


@router.patch("/numbers/{number_id}", response_model=Number)
def change_number(
    number_id: PathId, body: NumberPatch, request: Request, who: ApiUser
) -> dict[str, Any]:
    """`{"active": false}` retires a number: no new visitor is shown it; calls to it still
    go to the site's default destination and still match its past holders.
    `{"active": true}` brings it back (a default number retires the site's other one)."""
    if who.role not in EDITORS:
        raise ClientError(403, "only owners, admins and their API tokens change numbers")
    c = ctx(request)
    with transaction(c.engine) as conn:
        row = setup.set_number_active(conn, who.account_id, number_id, body.active)
    c.sites.forget()
    return _pick(row, NUMBER_FIELDS)
