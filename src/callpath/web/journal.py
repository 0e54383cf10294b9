"""The calls journal (`/app/calls`), one call's details, and the CSV export."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from callpath.domain.calls import is_call_key
from callpath.domain.deals import STATUSES, amount_text
from callpath.reports import calls as report
from callpath.services import deals, visit_codes
from callpath.services.auth import Principal
from callpath.services.site_input import NotFound, SetupError
from callpath.storage import deal_repo, lead_repo, recording_repo, site_repo
from callpath.storage.db import transaction
from callpath.web import api_deals, call_view, filters
from callpath.web.auth import PageUser
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.forms import read_form
from callpath.web.lead_view import lead_view
from callpath.web.pages import render
from callpath.web.params import QueryId

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=600)]


class JournalQuery:
    """The journal's filters as typed in the page's form (all optional)."""

    def __init__(
        self,
        site: QueryId = None,
        date_from: Annotated[str | None, Query(alias="from", max_length=40)] = None,
        date_to: Annotated[str | None, Query(alias="to", max_length=40)] = None,
        status: Text = None,
        number: Text = None,
        channel: Text = None,
        cursor: Text = None,
    ) -> None:
        self.site, self.date_from, self.date_to = site, date_from, date_to
        self.status, self.number, self.channel, self.cursor = status, number, channel, cursor

    def form(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "from": self.date_from,
            "to": self.date_to,
            "status": self.status,
            "number": self.number,
            "channel": self.channel,
        }

    def query_string(self, **extra: Any) -> str:
        values = {k: v for k, v in {**self.form(), **extra}.items() if v not in (None, "")}
        return urlencode(values)


def _load(
    request: Request, who: Principal, q: JournalQuery, limit: int, counted: bool = False
) -> tuple[list[dict[str, Any]], str | None, list[dict[str, Any]], dict[str, int]]:
    """The page of calls, the next cursor, the account's sites and (when `counted`) the
    calls matching the filters by status."""
    with transaction(ctx(request).engine, write=False) as conn:
        sites = site_repo.list_sites(conn, who.account_id)
        chosen = next((s for s in sites if s["id"] == q.site), sites[0] if sites else None)
        zone = chosen["timezone"] if chosen else "UTC"
        f = filters.build(
            who.account_id,
            zone,
            site_id=q.site,
            since=q.date_from,
            until=q.date_to,
            status=q.status,
            number=q.number,
            channel=q.channel,
            cursor=q.cursor,
            limit=limit,
            region=chosen["region"] if chosen else "RU",
        )
        rows, next_cursor = report.list_calls(conn, f)
        totals = report.totals(conn, f) if counted else {}
    return rows, next_cursor, sites, totals


@router.get("/app/calls")
def journal(request: Request, who: PageUser, q: Annotated[JournalQuery, Depends()]) -> HTMLResponse:
    rows, next_cursor, sites, totals = _load(request, who, q, 50, counted=True)
    return render(
        request,
        "calls.html",
        who=who,
        calls=[call_view.page_call(r, who) for r in rows],
        sites=sites,
        form=q.form(),
        statuses=report.STATUS_FILTERS,
        totals=totals,
        older=q.query_string(cursor=next_cursor) if next_cursor else None,
        newest=q.query_string() if q.cursor else None,
        export=q.query_string(),
    )


@router.get("/app/calls/{call_id}")
def call_page(call_id: str, request: Request, who: PageUser) -> HTMLResponse:
    return _call_page(request, who, call_id)


def _call_page(
    request: Request,
    who: Principal,
    call_id: str,
    error: str | None = None,
    status: int = 200,
    deal_error: str | None = None,
) -> HTMLResponse:
    if not is_call_key(call_id):
        raise ClientError(404, "no such call")
    dealer = who.role in api_deals.DEALERS
    with transaction(ctx(request).engine, write=False) as conn:
        row = report.call_by_id(conn, who.account_id, call_id)
        entry = visit_codes.entry_of(conn, row["id"]) if row else None
        held = recording_repo.of_call(conn, who.account_id, call_id) if row else None
        linked = deal_repo.of_call(conn, who.account_id, call_id) if row and dealer else []
        lead, credits = lead_repo.lead_of(conn, who.account_id, call_id)
        rules = lead_repo.rules(conn, row["site_id"]) if row and row["site_id"] else None
    if row is None:
        raise ClientError(404, "no such call")
    view = call_view.page_call(row, who, held)
    return render(
        request,
        "call.html",
        status,
        who=who,
        call=view,
        entry=entry,
        error=error,
        dealer=dealer,
        deals=[{**d, "amount": amount_text(d["amount_cents"])} for d in linked],
        deal_error=deal_error,
        statuses=STATUSES,
        lead=lead_view(lead, credits, rules["lead_rules"] if rules else None),
    )


@router.post("/app/calls/{call_id}/visit-code", response_model=None)
async def enter_visit_code(call_id: str, request: Request, who: PageUser) -> Response:
    """Any user of the account may enter the code a caller read out."""
    form = await read_form(request)
    engine = ctx(request).engine
    typed = form.get("code", "")
    try:
        done = await run_in_threadpool(
            visit_codes.enter, engine, who.account_id, call_id, typed, who.email, time.time
        )
    except visit_codes.CodeError as exc:
        return _call_page(request, who, call_id, str(exc), exc.status)
    return RedirectResponse(f"/app/calls/{done.call_id}", status_code=303)


@router.post("/app/calls/{call_id}/deals", response_model=None)
async def add_deal(call_id: str, request: Request, who: PageUser) -> Response:
    """A deal made on this call (owners, admins and analysts), as `POST /api/v1/deals`
    with the call's id: the deal takes the call's site, visit and visitor."""
    if who.role not in api_deals.DEALERS:
        raise ClientError(403, "only owners, admins and analysts record deals")
    if not is_call_key(call_id):
        raise ClientError(404, "no such call")
    form = await read_form(request)
    data = deals.DealInput(
        amount=_typed_amount(form.get("amount", "")),
        status=form.get("status", "open"),
        title=form.get("title") or None,
        call_id=call_id,
    )
    try:
        await run_in_threadpool(_record_deal, ctx(request).engine, who.account_id, data)
    except SetupError as exc:
        status = 404 if isinstance(exc, NotFound) else 400
        return _call_page(request, who, call_id, status=status, deal_error=str(exc))
    return RedirectResponse(f"/app/calls/{call_id}#deals", status_code=303)


def _typed_amount(text: str) -> str:
    """An amount as people type it: "12 500,50" (spaces, a decimal comma) is 12500.50."""
    return "".join(text.split()).replace("\u202f", "").replace(",", ".")


def _record_deal(engine: Engine, account_id: int, data: deals.DealInput) -> None:
    with transaction(engine) as conn:
        deals.record(conn, account_id, data, time.time())


def csv_export(request: Request, who: Principal, q: JournalQuery) -> Response:
    """The whole filtered journal, streamed a page at a time (any size, little memory)."""
    first, cursor, _, _ = _load(request, who, q, filters.MAX_LIMIT)  # bad filters: 400 now

    def lines() -> Iterator[str]:
        nonlocal cursor
        yield _csv_lines([list(call_view.CSV_COLUMNS)])
        yield _csv_lines([call_view.csv_row(r, who) for r in first])
        while cursor is not None:
            q.cursor = cursor
            rows, cursor, _, _ = _load(request, who, q, filters.MAX_LIMIT)
            yield _csv_lines([call_view.csv_row(r, who) for r in rows])

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="calls.csv"'},
    )


def _csv_lines(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


@router.get("/app/calls.csv")
def export_page(request: Request, who: PageUser, q: Annotated[JournalQuery, Depends()]) -> Response:
    return csv_export(request, who, q)
