"""The pool page (`/app/sites/{id}/pool`): live utilisation, exhaustion events, the
Erlang estimate and the latest pool plan, with a form that starts a new plan.

A plan replays thousands of sessions, so it runs in a background thread of this process
(`workers.planning`); the page shows it running (and reloads itself) until its row says
done or failed.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from callpath.planner import run, text
from callpath.planner.run import Params, PlanError
from callpath.reports import pool_health
from callpath.services.auth import PLANNERS, Principal
from callpath.storage.db import transaction
from callpath.web.auth import PageUser
from callpath.web.context import ctx
from callpath.web.forms import read_form
from callpath.web.pages import render
from callpath.web.params import PathId
from callpath.web.scope import owned_site
from callpath.workers import planning

router = APIRouter(prefix="/app/sites", include_in_schema=False)
REFRESH_SECONDS = 5


@router.get("/{site_id}/pool")
def pool_page(site_id: PathId, request: Request, who: PageUser) -> HTMLResponse:
    return _page(request, who, site_id)


@router.post("/{site_id}/pool/plans", response_model=None)
async def start_plan(site_id: PathId, request: Request, who: PageUser) -> Response:
    form = await read_form(request)
    if who.role not in PLANNERS:
        return _page(request, who, site_id, error="only owners, admins and analysts plan pools")
    try:
        params = _params(form)
    except PlanError as exc:
        return _page(request, who, site_id, error=str(exc), form=form)
    engine = ctx(request).engine
    with transaction(engine, write=False) as conn:
        owned_site(conn, who.account_id, site_id)
    try:
        planning.launch(engine, who.account_id, site_id, params)
    except planning.Busy as exc:
        busy = _page(request, who, site_id, error=str(exc), form=form)
        busy.status_code = 429
        return busy
    return RedirectResponse(f"/app/sites/{site_id}/pool", status_code=303)


def _params(form: dict[str, str]) -> Params:
    def number(name: str, default: float | None) -> float | None:
        raw = form.get(name, "")
        if not raw:
            return default
        try:
            return float(raw)
        except ValueError as exc:
            raise PlanError(f"{name.replace('_', ' ')} must be a number, got {raw[:40]!r}") from exc

    target, days = number("target", 0.95), number("days", 7.0)
    assert target is not None and days is not None
    sizes = run.parse_sizes(form.get("sizes", ""))
    return Params(target, days, sizes, number("visits_per_day", None))


def _page(
    request: Request,
    who: Principal,
    site_id: int,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    now = time.time()
    with transaction(ctx(request).engine, write=False) as conn:
        site = owned_site(conn, who.account_id, site_id)
        pool = pool_health.snapshot(conn, site, now)
    plan, estimate = pool.plan, pool.estimate
    response = render(
        request,
        "pool.html",
        status=400 if error else 200,
        who=who,
        site=site,
        use=pool.total,
        groups=pool.groups if any(g is not None for g, _ in pool.groups) else [],
        days=pool.days,
        peak=max((n for _, n in pool.days), default=0),
        latest=pool.latest,
        refused=pool.refused,
        refused_total=pool.refused_total,
        zone=pool.zone,
        erlang=text.erlang_line(estimate.as_json()) if estimate else None,
        visits=pool.visits,
        plan=plan,
        view=_plan_view(plan),
        error=error,
        form=form or {},
        thin=pool.visits < run.MIN_SESSIONS,
        min_sessions=run.MIN_SESSIONS,
        stated_rate=run.STATED_RATE,
    )
    if plan is not None and plan["status"] == "running":
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


def _plan_view(plan: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the template shows of a finished plan: words, and the curve as SVG points."""
    if plan is None or plan["status"] != "done" or not plan["result"]:
        return None
    result: dict[str, Any] = plan["result"]
    erlangs = [
        (label, text.erlang_line(result[key]))
        for label, key in (("Replayed traffic", "erlang"), ("Recorded visits", "recorded_erlang"))
        if result.get(key)
    ]
    return {
        "result": result,
        "recommendation": text.recommendation(result),
        "erlangs": erlangs,
        "curve": _curve(result["points"], "correct_30"),
        "curve_all": _curve(result["points"], "correct"),
        "target_y": _y(result["params"]["target"]),
        "pct": text.pct,
    }


WIDTH, HEIGHT, PAD = 360.0, 160.0, 20.0


def _curve(points: list[dict[str, Any]], key: str) -> str:
    """SVG polyline points: pool size across (0 to the largest), share up (0 to 100%)."""
    top = max((p["size"] for p in points), default=1) or 1
    return " ".join(
        f"{PAD + (WIDTH - 2 * PAD) * p['size'] / top:.1f},{_y(p[key]):.1f}" for p in points
    )


def _y(share: float) -> float:
    return HEIGHT - PAD - (HEIGHT - 2 * PAD) * share
