"""REST API for the pool: its live state, and pool plans (started, listed, read).

The same data as the pool page (`/app/sites/{id}/pool`); a plan started here runs in the
background of the server process that got the request (`workers.planning`).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from callpath.planner import run
from callpath.planner.run import Params, PlanError
from callpath.reports import pool_health
from callpath.services import auth
from callpath.services.auth import Principal
from callpath.storage import plan_repo
from callpath.storage.db import transaction
from callpath.web.auth import ApiUser
from callpath.web.call_view import iso
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.models import Inbound
from callpath.web.params import PathId, known_query
from callpath.web.pool_responses import Plan, PlanPage, PoolState
from callpath.web.responses import ERRORS, Error
from callpath.web.scope import owned_site
from callpath.workers import planning

router = APIRouter(
    prefix="/api/v1/sites/{site_id}/pool",
    tags=["pool"],
    dependencies=[Depends(known_query)],
    responses=ERRORS,
)
BUSY: dict[int | str, dict[str, Any]] = {
    409: {"model": Error, "description": "A plan of the site is running"},
    429: {"model": Error, "description": "The server plans as many as it may at once"},
}
PLANNERS = auth.PLANNERS  # an API token: by its role, as a login


def _number(bounds: tuple[float, float]) -> Any:
    """A JSON number within `bounds`: `true` is not 1, `"7"` is not 7, NaN and ±Infinity
    are not numbers."""
    return Field(strict=True, ge=bounds[0], le=bounds[1], allow_inf_nan=False)


class PlanIn(Inbound):
    target: Annotated[float, _number(run.TARGET_RANGE)] = 0.95
    days: Annotated[float, _number(run.DAYS_RANGE)] = 7.0
    sizes: list[Annotated[int, Field(strict=True, ge=1, le=run.MAX_SIZE)]] = Field(
        default_factory=list, max_length=run.MAX_SIZES
    )
    visits_per_day: Annotated[float, _number(run.RATE_RANGE)] | None = None


def plan_view(row: dict[str, Any]) -> dict[str, Any]:
    """A plan as the API answers it; `result` is the CLI's JSON (`pool plan --json`)."""
    return {
        "id": row["id"],
        "site_id": row["site_id"],
        "status": row["status"],
        "created_at": iso(row["created_at"]),
        "finished_at": iso(row["finished_at"]),
        "params": row["params"],
        "error": row["error"],
        "recommended": (row["result"] or {}).get("recommended"),
        "result": row["result"],
    }


@router.get(
    "",
    summary="The pool now: who holds its numbers, exhaustion, estimate, plan",
    response_model=PoolState,
)
def pool_state(site_id: PathId, request: Request, who: ApiUser) -> dict[str, Any]:
    now = time.time()
    with transaction(ctx(request).engine, write=False) as conn:
        site = owned_site(conn, who.account_id, site_id)
        pool = pool_health.snapshot(conn, site, now)
    return {
        "site_id": site_id,
        "utilisation": dataclasses.asdict(pool.total),
        "by_group": [{"group": g, **dataclasses.asdict(u)} for g, u in pool.groups],
        "exhausted_by_day": [{"date": day.isoformat(), "visits": n} for day, n in pool.days],
        "refused_last_24h": pool.refused,
        "recorded_visits": pool.visits,
        "erlang": pool.estimate.as_json() if pool.estimate else None,
        "latest_plan": plan_view(pool.plan) if pool.plan else None,
    }


@router.get("/plans", summary="The site's pool plans, newest first", response_model=PlanPage)
def list_plans(
    site_id: PathId,
    request: Request,
    who: ApiUser,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    if cursor is not None and not cursor.isdigit():
        raise ClientError(400, "cursor: not a cursor this server gave out")
    now = time.time()
    with transaction(ctx(request).engine, write=False) as conn:
        owned_site(conn, who.account_id, site_id)
        rows = plan_repo.page(
            conn, who.account_id, site_id, int(cursor) if cursor else None, limit + 1
        )
    more, rows = len(rows) > limit, rows[:limit]
    return {
        "items": [plan_view(plan_repo.present(r, now) or r) for r in rows],
        "next_cursor": str(rows[-1]["id"]) if more else None,
    }


@router.post(
    "/plans",
    status_code=202,
    summary="Start a pool plan (it runs in the background)",
    response_model=Plan,
    responses=BUSY,
)
def start_plan(site_id: PathId, body: PlanIn, request: Request, who: ApiUser) -> JSONResponse:
    """202 with the running plan; poll `GET …/plans/{plan_id}` until `status` is `done`
    or `failed`. 409 while another plan of the site runs; 429 while the server computes
    as many plans (of any sites) as it may at once."""
    if who.role not in PLANNERS:
        raise ClientError(403, "only owners, admins and analysts plan pools")
    try:
        params = Params(body.target, body.days, tuple(body.sizes), body.visits_per_day)
    except PlanError as exc:
        raise ClientError(400, str(exc)) from exc
    engine = ctx(request).engine
    with transaction(engine, write=False) as conn:
        owned_site(conn, who.account_id, site_id)
    try:
        plan_id = planning.launch(engine, who.account_id, site_id, params)
    except planning.Busy as exc:
        raise ClientError(429, str(exc)) from exc
    if plan_id is None:
        raise ClientError(409, "a plan is already running for this site")
    return JSONResponse(_read(request, who, site_id, plan_id), status_code=202)


@router.get(
    "/plans/{plan_id}", summary="One pool plan, with its curve when done", response_model=Plan
)
def get_plan(site_id: PathId, plan_id: PathId, request: Request, who: ApiUser) -> dict[str, Any]:
    return _read(request, who, site_id, plan_id)


def _read(request: Request, who: Principal, site_id: int, plan_id: int) -> dict[str, Any]:
    with transaction(ctx(request).engine, write=False) as conn:
        row = plan_repo.by_id(conn, who.account_id, plan_id)
    if row is None or row["site_id"] != site_id:
        raise ClientError(404, "no such plan")
    return plan_view(plan_repo.present(row, time.time()) or row)
