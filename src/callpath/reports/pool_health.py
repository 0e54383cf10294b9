"""Pool health for the planner page: numbers held now and why, and exhaustion events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from callpath.domain.erlang import Estimate, Visit, estimate, window_begin
from callpath.domain.pool import PoolSettings
from callpath.storage import plan_repo, site_repo
from callpath.storage.tables import session_events, sessions, tracking_numbers

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Utilisation:
    numbers: int  # active pool numbers
    visible: int  # held by a page that is open and pinging
    after_leave: int  # held after the visitor left or hid the page
    resting: int  # free again, in the cooldown before a stranger may get it
    free: int

    @property
    def held(self) -> int:
        return self.visible + self.after_leave


def utilisation(
    conn: Connection, account_id: int, site_id: int, pool: PoolSettings, now: float
) -> Utilisation:
    """The whole pool (every group together)."""
    return total(by_group(conn, account_id, site_id, pool, now))


def total(groups: list[tuple[str | None, Utilisation]]) -> Utilisation:
    return Utilisation(*(sum(getattr(u, f) for _, u in groups) for f in _FIELDS))


def by_group(
    conn: Connection, account_id: int, site_id: int, pool: PoolSettings, now: float
) -> list[tuple[str | None, Utilisation]]:
    """Per sub-pool (None: the ungrouped numbers), ungrouped first. A page counts as
    visible while it pinged within two ping intervals and has not left since; any other
    live hold runs on after a leave (or a hidden tab)."""
    n, s = tracking_numbers.c, sessions.c
    rows = conn.execute(
        select(n.pool_group, n.held_until, s.last_seen_at, s.left_at)
        .select_from(tracking_numbers.outerjoin(sessions, s.id == n.held_session_id))
        .where(n.account_id == account_id, n.site_id == site_id, n.kind == "pool", n.active)
    ).all()
    counts: dict[str | None, list[int]] = {}
    for group, held_until, last_seen, left_at in rows:
        tally = counts.setdefault(group, [0, 0, 0, 0, 0])
        tally[0] += 1
        tally[_state(held_until, last_seen, left_at, pool, now)] += 1
    ordered = sorted(counts.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))
    return [(group, Utilisation(*tally)) for group, tally in ordered]


_FIELDS = ("numbers", "visible", "after_leave", "resting", "free")


def _state(
    held_until: float,
    last_seen: float | None,
    left_at: float | None,
    pool: PoolSettings,
    now: float,
) -> int:
    """The index in Utilisation's fields a number counts under (1 visible .. 4 free)."""
    if held_until > now:
        if last_seen is None or now - last_seen > 2 * pool.ping_interval:
            return 2
        return 1 if left_at is None or left_at < last_seen else 2
    if held_until > 0 and held_until + pool.cooldown > now:
        return 3
    return 4


def exhaustion_days(
    conn: Connection, account_id: int, site_id: int, zone: ZoneInfo, now: float, days: int = 14
) -> list[tuple[date, int]]:
    """Visits that found the pool empty, per local day, oldest first (one event a visit)."""
    today = datetime.fromtimestamp(now, zone).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), zone).timestamp()
    counts = {first + timedelta(days=i): 0 for i in range(days)}
    e = session_events.c
    for (at,) in conn.execute(select(e.at).where(*_exhausted(account_id, site_id), e.at >= since)):
        day = datetime.fromtimestamp(at, zone).date()
        if day in counts:
            counts[day] += 1
    return sorted(counts.items())


def _exhausted(account_id: int, site_id: int) -> tuple[Any, ...]:
    e = session_events.c
    return e.account_id == account_id, e.site_id == site_id, e.kind == "pool_exhausted"


def latest_exhaustions(
    conn: Connection, account_id: int, site_id: int, limit: int = 20
) -> list[Row]:
    """The latest exhaustion events with the visit that met them."""
    e, s = session_events.c, sessions.c
    rows = conn.execute(
        select(e.at, s.id, s.source, s.medium, s.landing_url, s.device, s.number_reason)
        .select_from(session_events.outerjoin(sessions, s.id == e.session_id))
        .where(*_exhausted(account_id, site_id))
        .order_by(e.at.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


REFUSALS = ("client_limit", "rate_limited")  # session_events kinds, one a visit
REFUSAL_WINDOW = 86_400.0


def refusals(conn: Connection, account_id: int, site_id: int, now: float) -> dict[str, int]:
    """Session starts given the default number in the last 24 h because their client held
    its share of the pool (`client_limit`) or started too fast (`rate_limited`)."""
    e = session_events.c
    rows = conn.execute(
        select(e.kind, func.count())
        .where(
            e.site_id == site_id,
            e.kind.in_(REFUSALS),
            e.at > now - REFUSAL_WINDOW,
            e.account_id == account_id,
        )
        .group_by(e.kind)
    )
    counts = dict.fromkeys(REFUSALS, 0)
    counts.update({str(kind): int(n) for kind, n in rows})
    return counts


def recorded_visits(conn: Connection, account_id: int, site_id: int, since: float) -> list[Visit]:
    """Human sessions since `since` that take pool numbers, for the Erlang estimate."""
    s = sessions.c
    rows = conn.execute(
        select(s.started_at, s.last_seen_at, s.left_at).where(
            plan_repo.human_filter(account_id, site_id, since)
        )
    )
    return [Visit(start, max(seen, left or 0.0)) for start, seen, left in rows]


RECENT = 7 * 86_400.0  # the window of recorded visits the Erlang estimate reads


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the pool page and `GET /api/v1/sites/{id}/pool` show."""

    zone: ZoneInfo
    groups: list[tuple[str | None, Utilisation]]
    days: list[tuple[date, int]]
    latest: list[Row]
    visits: int
    estimate: Estimate | None
    plan: Row | None  # the latest plan, as readers see it (`plan_repo.present`)
    refused: dict[str, int]  # REFUSALS in the last 24 h, by kind

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    @property
    def total(self) -> Utilisation:
        return total(self.groups)


def snapshot(conn: Connection, site: Row, now: float) -> Snapshot:
    """The pool of `site` (its row, scoped by the caller) at `now`."""
    account_id, site_id = int(site["account_id"]), int(site["id"])
    config = site_repo.load_site_config(conn, site_id=site_id)
    assert config is not None  # the caller holds its row
    zone = ZoneInfo(site["timezone"])
    since = now - RECENT
    visits = recorded_visits(conn, account_id, site_id, since)
    plan = plan_repo.present(plan_repo.latest(conn, account_id, site_id), now)
    target = float(plan["params"].get("target", 0.95)) if plan else 0.95
    first = min((v.start for v in visits), default=now)
    begin = window_begin(since, float(site["created_at"]), first)
    return Snapshot(
        zone=zone,
        groups=by_group(conn, account_id, site_id, config.pool, now),
        days=exhaustion_days(conn, account_id, site_id, zone, now),
        latest=latest_exhaustions(conn, account_id, site_id),
        visits=len(visits),
        estimate=estimate(visits, begin, now, zone, config.pool, target),
        plan=plan,
        refused=refusals(conn, account_id, site_id, now),
    )
