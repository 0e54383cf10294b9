"""Pool plans (`pool_plans`) and the recorded sessions a plan replays. Scoped by account."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from callpath.storage.tables import pageviews, pool_plans, session_events, sessions, sites

Row = dict[str, Any]
# A running plan's thread touches `alive_at` every few seconds (workers.planning); one not
# touched for this long lost its process (a restart, a crash): it reads as failed.
STALE_SECONDS = 120.0
ABANDONED = "abandoned: the server running it stopped"
PLAN_COLUMNS = (
    *("id", "site_id", "created_at", "finished_at", "status", "params", "result", "error"),
    "alive_at",
)


def human_filter(account_id: int, site_id: int, since: float) -> Any:
    """Sessions that take pool numbers: people (not bots) on substituted channels. Starts
    refused for their pace (`rate_limited`: a flood from one client) are left out, or a
    flood would size the pool; `client_limit` ones stay (an office behind one address is
    real demand)."""
    s = sessions.c
    return (
        (s.account_id == account_id)
        & (s.site_id == site_id)
        & (s.started_at >= since)
        & (s.device.is_(None) | (s.device != "bot"))
        & (s.number_reason.not_in(("bot", "excluded", "rate_limited")))
    )


def recorded_sessions(
    conn: Connection, account_id: int, site_id: int, since: float, limit: int
) -> list[Row]:
    """The latest `limit` human sessions since `since`, oldest first."""
    s = sessions.c
    rows = conn.execute(
        select(
            s.id,
            s.visitor_id,
            s.started_at,
            s.last_seen_at,
            s.left_at,
            s.landing_url,
            s.referrer,
            s.user_agent,
            s.device,
        )
        .where(human_filter(account_id, site_id, since))
        .order_by(s.started_at.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in reversed(rows.all())]


def recorded_pages(conn: Connection, account_id: int, site_id: int, since: float) -> list[Row]:
    """Pageviews of those sessions (`session_id`, `at`, `url`), in time order."""
    p, s = pageviews.c, sessions.c
    rows = conn.execute(
        select(p.session_id, p.at, p.url)
        .select_from(pageviews.join(sessions, s.id == p.session_id))
        .where(p.account_id == account_id, human_filter(account_id, site_id, since))
        .order_by(p.at, p.id)
    )
    return [dict(r._mapping) for r in rows]


def recorded_taps(conn: Connection, account_id: int, site_id: int, since: float) -> list[Row]:
    """Clicks on `tel:` links (`session_id`, `at`) since `since`."""
    e = session_events.c
    rows = conn.execute(
        select(e.session_id, e.at)
        .where(
            e.account_id == account_id,
            e.site_id == site_id,
            e.kind == "tel_click",
            e.at >= since,
        )
        .order_by(e.at)
    )
    return [dict(r._mapping) for r in rows]


def start(conn: Connection, account_id: int, site_id: int, params: Row, now: float) -> int | None:
    """A new running plan; None while another runs for the site (one at a time).

    The site row is locked first (PostgreSQL; SQLite has one writer), so two requests
    cannot both find none running. A running plan without a heartbeat for STALE_SECONDS
    is marked failed.
    """
    conn.execute(
        select(sites.c.id)
        .where(sites.c.id == site_id, sites.c.account_id == account_id)
        .with_for_update()
    )
    p = pool_plans.c
    conn.execute(
        update(pool_plans)
        .where(*_site(account_id, site_id), p.status == "running", _stale(now))
        .values(status="failed", finished_at=now, error=ABANDONED)
    )
    if running(conn, account_id, site_id) is not None:
        return None
    return _insert(conn, account_id, site_id, params, now, status="running", alive_at=now)


def _stale(now: float) -> Any:
    p = pool_plans.c
    return func.coalesce(p.alive_at, p.created_at) < now - STALE_SECONDS


def beat(conn: Connection, account_id: int, plan_id: int, now: float) -> None:
    """The plan's thread is alive."""
    p = pool_plans.c
    conn.execute(
        update(pool_plans)
        .where(p.account_id == account_id, p.id == plan_id, p.status == "running")
        .values(alive_at=now)
    )


def present(row: Row | None, now: float) -> Row | None:
    """A plan as readers see it: one running without a recent heartbeat has failed."""
    if row is None or row["status"] != "running":
        return row
    if (row["alive_at"] or row["created_at"]) >= now - STALE_SECONDS:
        return row
    return {**row, "status": "failed", "error": ABANDONED}


def _insert(
    conn: Connection, account_id: int, site_id: int, params: Row, now: float, **values: Any
) -> int:
    result = conn.execute(
        insert(pool_plans).values(
            account_id=account_id, site_id=site_id, created_at=now, params=params, **values
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def save_done(
    conn: Connection,
    account_id: int,
    site_id: int,
    params: Row,
    result: Row,
    began: float,
    now: float,
) -> int:
    """A plan computed elsewhere (the CLI), stored finished."""
    return _insert(
        conn, account_id, site_id, params, began, status="done", result=result, finished_at=now
    )


def finish(conn: Connection, account_id: int, plan_id: int, result: Row, now: float) -> None:
    _end(conn, account_id, plan_id, now, status="done", result=result)


def fail(conn: Connection, account_id: int, plan_id: int, error: str, now: float) -> None:
    _end(conn, account_id, plan_id, now, status="failed", error=error[:2000])


def _end(conn: Connection, account_id: int, plan_id: int, now: float, **values: Any) -> None:
    """Ends a running plan; one declared abandoned that finishes after all still counts."""
    p = pool_plans.c
    ending = (p.status == "running") | ((p.status == "failed") & (p.error == ABANDONED))
    conn.execute(
        update(pool_plans)
        .where(p.account_id == account_id, p.id == plan_id, ending)
        .values(finished_at=now, **values)
    )


def _site(account_id: int, site_id: int) -> tuple[Any, Any]:
    p = pool_plans.c
    return p.account_id == account_id, p.site_id == site_id


def running(conn: Connection, account_id: int, site_id: int) -> Row | None:
    return _one(conn, account_id, site_id, running_only=True)


def latest(conn: Connection, account_id: int, site_id: int) -> Row | None:
    """The newest plan of the site, whatever its status."""
    return _one(conn, account_id, site_id, running_only=False)


def by_id(conn: Connection, account_id: int, plan_id: int) -> Row | None:
    p = pool_plans.c
    query = select(*(getattr(p, name) for name in PLAN_COLUMNS))
    row = conn.execute(query.where(p.account_id == account_id, p.id == plan_id)).first()
    return dict(row._mapping) if row else None


def page(
    conn: Connection, account_id: int, site_id: int, before_id: int | None, limit: int
) -> list[Row]:
    """The site's plans, newest first, older than `before_id` (a cursor)."""
    p = pool_plans.c
    query = select(*(getattr(p, name) for name in PLAN_COLUMNS)).where(*_site(account_id, site_id))
    if before_id is not None:
        query = query.where(p.id < before_id)
    rows = conn.execute(query.order_by(p.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def _one(conn: Connection, account_id: int, site_id: int, *, running_only: bool) -> Row | None:
    query = _select(account_id, site_id)
    if running_only:
        query = query.where(pool_plans.c.status == "running")
    row = conn.execute(query.limit(1)).first()
    return dict(row._mapping) if row else None


def _select(account_id: int, site_id: int) -> Any:
    p = pool_plans.c
    return (
        select(*(getattr(p, name) for name in PLAN_COLUMNS))
        .where(*_site(account_id, site_id))
        .order_by(p.created_at.desc(), p.id.desc())
    )
