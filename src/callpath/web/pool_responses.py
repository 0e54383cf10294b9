"""What the pool endpoints answer (`/api/v1/sites/{site_id}/pool`): its live state and
its plans. A plan's parameters and result are read back from JSON columns, so those
parts are `Stored`: lenient about what an older or newer version wrote."""

from __future__ import annotations

from pydantic import Field

from callpath.web.responses import Outbound, Stored, Time


class Utilisation(Outbound):
    numbers: int = Field(description="Active pool numbers")
    visible: int = Field(description="Held by a page that is open and pinging")
    after_leave: int = Field(description="Held after the visitor left or hid the page")
    resting: int = Field(description="In the cooldown before a stranger may get it")
    free: int


class GroupUtilisation(Utilisation):
    group: str | None = Field(description="The sub-pool (null: the site's main pool)")


class ExhaustedDay(Outbound):
    date: str
    visits: int = Field(description="Visits shown the default number: the pool was empty")


class Refused(Outbound):
    client_limit: int = Field(description="Starts past one client's share of the pool")
    rate_limited: int = Field(description="Starts past one client's rate")


class Erlang(Stored):
    """The queueing estimate of the pool size the site needs (live, or as a plan stored
    it: there a field may be missing)."""

    sessions: int | None = None
    peak_hour_arrivals: float | None = None
    mean_visit: float | None = Field(default=None, description="Seconds")
    hold_after: float | None = Field(default=None, description="Seconds")
    cooldown: float | None = Field(default=None, description="Seconds")
    load: float | None = Field(
        default=None, description="Numbers held at once on average in the peak hour"
    )
    target: float | None = None
    numbers: int | None = Field(default=None, description="The recommended pool size")
    holding: float | None = Field(default=None, description="Seconds a visit holds its number")


class PlanParams(Stored):
    target: float | None = None
    days: float | None = None
    sizes: list[int] | None = None
    visits_per_day: float | None = None
    seed: int | None = None


class PlanPoint(Stored):
    size: int | None = None
    calls: int | None = None
    calls_30: int | None = Field(
        default=None, description="Calls within 30 minutes of their visit's start"
    )
    correct_30: float | None = Field(
        default=None, description="Share of those attributed to the right visit"
    )
    correct: float | None = None
    precision: float | None = None
    seconds: float | None = None


class PlanResult(Stored):
    """What `callpath pool plan --json` prints."""

    site: str | None = None
    params: PlanParams | None = None
    source: str | None = Field(default=None, description="recorded | trace | generated")
    note: str | None = None
    thin: str | None = Field(default=None, description="Why recorded traffic was not used")
    warnings: list[str] | None = None
    sessions: int | None = None
    calls: int | None = None
    pool_size: int | None = None
    points: list[PlanPoint] | None = None
    recommended: int | None = None
    erlang: Erlang | None = None
    recorded_erlang: Erlang | None = None


class Plan(Outbound):
    id: int
    site_id: int
    status: str = Field(description="running | done | failed")
    created_at: Time
    finished_at: Time | None
    params: PlanParams
    error: str | None
    recommended: int | None = Field(description="Pool size that meets the target")
    result: PlanResult | None


class PlanPage(Outbound):
    items: list[Plan]
    next_cursor: str | None


class PoolState(Outbound):
    site_id: int
    utilisation: Utilisation
    by_group: list[GroupUtilisation]
    exhausted_by_day: list[ExhaustedDay]
    refused_last_24h: Refused
    recorded_visits: int
    erlang: Erlang | None
    latest_plan: Plan | None
