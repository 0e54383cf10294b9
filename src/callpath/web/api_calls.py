"""REST API (`/api/v1`): calls, sessions and numbers, paged by cursor, scoped to the
caller's account."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field

from callpath.domain.calls import is_call_key
from callpath.reports import calls as report
from callpath.services import visit_codes
from callpath.services.auth import Principal
from callpath.storage import recording_repo, site_repo
from callpath.storage.db import transaction
from callpath.web import call_view, filters
from callpath.web.auth import ApiUser
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.journal import JournalQuery, csv_export
from callpath.web.models import Inbound
from callpath.web.params import QueryId, known_query
from callpath.web.responses import CSV, ERRORS, CallDetail, CallPage, SessionPage

router = APIRouter(
    prefix="/api/v1", tags=["admin"], dependencies=[Depends(known_query)], responses=ERRORS
)
Text = Annotated[str | None, Query(max_length=600)]
Since = Annotated[
    str | None,
    Query(alias="from", max_length=40, description="Date (site timezone, else UTC) or ISO time"),
]
Until = Annotated[str | None, Query(alias="to", max_length=40, description="Inclusive date")]
Limit = Annotated[int, Query(ge=1, le=filters.MAX_LIMIT)]
SESSION_FIELDS = (
    "id",
    "site_id",
    "visitor_id",
    "started_at",
    "last_seen_at",
    "landing_url",
    "referrer",
    "source",
    "medium",
    "campaign",
    "keyword",
    "content",
    "utm",
    "click_ids",
    "device",
    "browser",
    "os",
    "country",
    "region",
    "city",
    "number",
)


def _filters(
    conn: Any,
    account_id: int,
    site_id: int | None,
    since: str | None,
    until: str | None,
    cursor: str | None,
    limit: int,
    **more: str | None,
) -> report.Filters:
    """Dates are read in the chosen site's timezone (UTC without a site)."""
    sites = site_repo.list_sites(conn, account_id)
    chosen = next((s for s in sites if s["id"] == site_id), None)
    zone, region = (chosen["timezone"], chosen["region"]) if chosen else ("UTC", "RU")
    return filters.build(
        account_id,
        zone,
        site_id=site_id,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
        region=region,
        **more,
    )


@router.get("/calls", summary="Calls, newest first", response_model=CallPage)
def list_calls(
    request: Request,
    who: ApiUser,
    site_id: QueryId = None,
    since: Since = None,
    until: Until = None,
    status: Text = None,
    number: Text = None,
    channel: Annotated[
        str | None,
        Query(max_length=520, description='"source/medium", a source or medium, or "other"'),
    ] = None,
    cursor: Text = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    with transaction(ctx(request).engine, write=False) as conn:
        f = _filters(
            conn,
            who.account_id,
            site_id,
            since,
            until,
            cursor,
            limit,
            channel=channel,
            status=status,
            number=number,
        )
        rows, next_cursor = report.list_calls(conn, f)
        held = recording_repo.of_calls(conn, who.account_id, [r["id"] for r in rows])
    items = [call_view.api_call(r, who, held.get(r["id"])) for r in rows]
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/calls/{call_id}", summary="One call, with its match candidates", response_model=CallDetail
)
def get_call(call_id: str, request: Request, who: ApiUser) -> dict[str, Any]:
    return _one_call(request, who, call_id)


def _one_call(request: Request, who: Principal, call_id: str) -> dict[str, Any]:
    """The call as the API shows it, with the visit code entry that counts."""
    if not is_call_key(call_id):
        raise ClientError(404, "no such call")
    with transaction(ctx(request).engine, write=False) as conn:
        row = report.call_by_id(conn, who.account_id, call_id)
        entry = visit_codes.entry_of(conn, call_id) if row else None
        held = recording_repo.of_call(conn, who.account_id, call_id) if row else None
    if row is None:
        raise ClientError(404, "no such call")
    return with_visit_code(call_view.api_call(row, who, held), entry)


class VisitCodeIn(Inbound):
    code: str | Annotated[int, Field(ge=0)] = Field(
        description='The code the caller read out, e.g. "4821"'
    )


@router.post(
    "/calls/{call_id}/visit-code",
    summary="Attribute a call by the visit code",
    response_model=CallDetail,
)
def enter_visit_code(
    call_id: str, body: VisitCodeIn, request: Request, who: ApiUser
) -> dict[str, Any]:
    """The call goes to the visit that was shown this code (method `visit_code`,
    confidence 1.0). A later, different code replaces it. 400: not a code; 404: no such
    call, or no visit of the call's site showed the code around the call's time."""
    engine = ctx(request).engine
    try:
        visit_codes.enter(engine, who.account_id, call_id, str(body.code), who.email, time.time)
    except visit_codes.CodeError as exc:
        raise ClientError(exc.status, str(exc)) from exc
    return _one_call(request, who, call_id)


def with_visit_code(view: dict[str, Any], entry: visit_codes.Entry | None) -> dict[str, Any]:
    """One call's view plus the visit code entry that counts, under `match.visit_code`."""
    view["match"]["visit_code"] = None
    if entry is not None:
        view["match"]["visit_code"] = {
            "code": entry.claim.code,
            "session_id": entry.claim.session_id,
            "entered_at": call_view.iso(entry.at),
            "entered_by": entry.by,
        }
    return view


@router.get("/sessions", summary="Visits, newest first", response_model=SessionPage)
def list_sessions(
    request: Request,
    who: ApiUser,
    site_id: QueryId = None,
    since: Since = None,
    until: Until = None,
    channel: Annotated[str | None, Query(max_length=520)] = None,
    visitor_id: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="Only this visitor's visits"),
    ] = None,
    cursor: Text = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    with transaction(ctx(request).engine, write=False) as conn:
        f = _filters(
            conn,
            who.account_id,
            site_id,
            since,
            until,
            cursor,
            limit,
            channel=channel,
            visitor_id=visitor_id,
        )
        rows, next_cursor = report.list_sessions(conn, f)
    items = [
        {
            **{k: r[k] for k in SESSION_FIELDS},
            "started_at": call_view.iso(r["started_at"]),
            "last_seen_at": call_view.iso(r["last_seen_at"]),
        }
        for r in rows
    ]
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/calls.csv",
    summary="The calls journal as CSV",
    response_class=Response,
    responses={200: CSV},
)
def export_calls(
    request: Request,
    who: ApiUser,
    q: Annotated[JournalQuery, Depends()],
    site_id: QueryId = None,
) -> Response:
    """Takes the filters of `/calls` (`site_id`, `from`, `to`, `status`, `number`,
    `channel`; the journal's `site` too). Cells that could run as spreadsheet formulas are
    neutralised."""
    if site_id is not None and q.site is not None and site_id != q.site:
        raise ClientError(400, "site_id and site name different sites")
    q.site = site_id if site_id is not None else q.site
    return csv_export(request, who, q)
