"""The reports pages (`/app/reports`): the overview and channels report a marketer opens
every morning, and the call center's. They show what the API's reports hold
(`web/report_query.py`), with the same parameters in their address, so a page can be
bookmarked, shared, and exported as exactly the table on screen."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from callpath.domain.attribution import MODELS
from callpath.reports.dimensions import FILTERS
from callpath.services import auth, callbacks
from callpath.services.setup import SetupError
from callpath.storage import site_repo
from callpath.storage.db import transaction
from callpath.web import all_sites_view, charts, report_query
from callpath.web.auth import PageUser
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.forms import read_form
from callpath.web.pages import render
from callpath.web.reports_view import (
    KPIS,
    MODEL_NAMES,
    TABLE_COLUMNS,
    change,
    channel_series,
    next_level,
)

router = APIRouter(prefix="/app", include_in_schema=False)
PAGE = report_query.TABLE - {"format", "sep", "limit", "margin"}
CENTER = report_query.COMMON - {"format", "sep"}
TOP = 5  # campaigns and keywords on the overview


@router.get("/reports")
def overview(request: Request, who: PageUser) -> HTMLResponse:
    """KPIs against the previous period, calls a day, channels with drill-down, the
    models side by side and the missed callers to call back."""
    if who.role not in report_query.READERS:
        raise ClientError(403, "reports show revenue and spend: owners, admins and analysts")
    params = _with_site(request, who, report_query.checked(_items(request), PAGE))
    engine = ctx(request).engine
    if params["site"] == all_sites_view.ALL:
        return _all_sites(request, who, params)
    head, body, _ = report_query.run(engine, who, "channels", params)
    before = _previous(params, head)
    _, earlier, _ = report_query.run(engine, who, "channels", before)
    days = _subset(params, ("site", "from", "to", "model", *FILTERS))
    _, timeline, _ = report_query.run(engine, who, "timeline", days)
    models_params = _subset(params, ("site", "from", "to", "group", *FILTERS))
    _, models, _ = report_query.run(engine, who, "models", models_params)
    _, center, _ = report_query.run(engine, who, "call-center", _subset(params, CENTER))
    top = report_query.leaders(engine, who, days, ("campaign", "keyword"), TOP)
    rows = timeline["rows"]
    periods = [r["period"] for r in rows]
    series = channel_series(periods, timeline["calls_by_channel"])
    chart = charts.stacked(
        periods, series, f"Calls a day by channel, {head['from']} to {head['to']}"
    )
    return render(
        request,
        "reports.html",
        who=who,
        head=head,
        body=body,
        params=params,
        sites=_sites(engine, who),
        kpis=[(label, body["totals"][name], change(body, earlier, name)) for name, label in KPIS],
        chart=chart,
        legend=charts.legend([name for name, _ in series]),
        top=top,
        days=rows,
        columns=TABLE_COLUMNS,
        models=models,
        model_names=MODEL_NAMES,
        all_models=MODELS,
        lost=[c for c in center["missed_callers"] if _to_call_back(c)][:10],
        link=lambda **change: _link(params, change),
        drill=lambda row: next_level(params, row),
        export=lambda fmt: "/app/reports/export/channels?" + urlencode({**params, "format": fmt}),
    )


def _all_sites(request: Request, who: auth.Principal, params: dict[str, str]) -> HTMLResponse:
    sites = _sites(ctx(request).engine, who)
    asked = _subset(params, ("from", "to", "model"))
    found = all_sites_view.summary(ctx(request).engine, who, sites, asked, _previous)
    return render(
        request,
        "reports_all.html",
        who=who,
        sites=sites,
        params=params,
        found=found,
        kpis=KPIS,
        model_names=MODEL_NAMES,
        all_models=MODELS,
    )


@router.get("/reports/call-center")
def call_center_page(request: Request, who: PageUser) -> HTMLResponse:
    """Any user of the account, operators too: the missed callers are theirs to call
    back, with the full number."""
    params = _with_site(request, who, report_query.checked(_items(request), CENTER))
    engine = ctx(request).engine
    head, body, _ = report_query.run(engine, who, "call-center", params)
    heat = {
        name: charts.heatmap(
            body["heatmap"]["weekdays"], body["heatmap"][name], f"{name} by weekday and hour", name
        )
        for name in ("calls", "missed", "lost")
    }
    return render(
        request,
        "call_center.html",
        who=who,
        head=head,
        body=body,
        params=params,
        heat=heat,
        sites=_sites(engine, who),
        export="/app/reports/export/call-center?" + urlencode({**params, "format": "csv"}),
    )


@router.post("/reports/call-center/handled")
async def handled(request: Request, who: PageUser) -> RedirectResponse:
    """Marks a missed caller handled (or, with `undo`, not), then back to the page the
    form was on. Operators too: calling back is their work."""
    form = await read_form(request)
    call_id = form.get("call", "")
    try:
        with transaction(ctx(request).engine) as conn:
            if form.get("undo"):
                callbacks.unmark_handled(conn, who, call_id)
            else:
                callbacks.mark_handled(conn, who, call_id, form.get("note"), time.time())
    except callbacks.NotFound as exc:
        raise ClientError(404, str(exc)) from exc
    except SetupError as exc:
        raise ClientError(400, str(exc)) from exc
    back = {name: form[name] for name in ("site", "from", "to") if form.get(name)}
    return RedirectResponse(f"/app/reports/call-center?{urlencode(back)}#missed", status_code=303)


@router.get("/reports/journey")
def journey_page(request: Request, who: PageUser) -> HTMLResponse:
    params = report_query.checked(_items(request), report_query.allowed("journey"))
    params = _with_site(request, who, params)
    head, body, _ = report_query.run(ctx(request).engine, who, "journey", params)
    return render(request, "journey.html", who=who, head=head, body=body, model_names=MODEL_NAMES)


@router.get("/reports/export/{name}")
def export(name: str, request: Request, who: PageUser) -> Response:
    """The report as a file: the same parameters as its page."""
    params = report_query.checked(_items(request), report_query.allowed(name))
    params = _with_site(request, who, params)
    fmt = report_query.choice(params, "format", ("csv", "xlsx"), "csv")
    sep = report_query.separator(params)
    head, _, cells = report_query.run(ctx(request).engine, who, name, params)
    return report_query.file_response(name, head, cells, fmt, sep)


def _to_call_back(caller: dict[str, Any]) -> bool:
    return caller["status"] == "lost" and caller["handled_at"] is None


def _items(request: Request) -> list[tuple[str, str]]:
    """The query, empty fields left out (a form sends them)."""
    return [(k, v) for k, v in request.query_params.multi_items() if v != ""]


def _with_site(request: Request, who: auth.Principal, params: dict[str, str]) -> dict[str, str]:
    """The account's first site when none is named."""
    if "site" in params:
        return params
    sites = _sites(ctx(request).engine, who)
    if not sites:
        raise ClientError(404, "no site yet: add one on the Sites page")
    return {"site": str(sites[0]["id"]), **params}


def _sites(engine: Any, who: auth.Principal) -> list[dict[str, Any]]:
    with transaction(engine, write=False) as conn:
        return site_repo.list_sites(conn, who.account_id)


def _previous(params: dict[str, str], head: dict[str, Any]) -> dict[str, str]:
    first, last = date.fromisoformat(head["from"]), date.fromisoformat(head["to"])
    length = last - first + timedelta(days=1)
    return {
        **_subset(params, ("site", "model", *FILTERS)),
        "from": (first - length).isoformat(),
        "to": (last - length).isoformat(),
    }


def _subset(params: dict[str, str], names: tuple[str, ...] | frozenset[str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if k in names}


def _link(params: dict[str, str], change: dict[str, str | None]) -> str:
    merged = {**params, **change}
    return "/app/reports?" + urlencode({k: v for k, v in merged.items() if v is not None})
