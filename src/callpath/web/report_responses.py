"""What `GET /api/v1/reports/{name}` answers as JSON, one model per kind of report.

The tables' rows are keyed by their `columns` (the group's dimensions, then the
metrics), which change with `group` and the report: a row is an object whose keys are
those columns, not a fixed set of fields.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from callpath.web.responses import Outbound

Cell = str | int | float | None


class ReportSite(Outbound):
    id: int
    key: str
    name: str
    currency: str
    timezone: str


class ReportHead(Outbound):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    report: str
    site: ReportSite
    from_: str = Field(alias="from", description="First day (the site's timezone)")
    to: str = Field(description="Last day, counted whole")


class TableReport(ReportHead):
    """channels, landing-pages, devices, geo, numbers, models, and timeline's table."""

    model: str | None = Field(description="The attribution model (null for numbers)")
    group: str = Field(description="The dimension the rows are grouped by")
    filters: dict[str, str]
    columns: list[str] = Field(description="The rows' keys, in order")
    rows: list[dict[str, Cell]] = Field(
        description="One object per row, keyed by `columns`; a metric with no meaning "
        "(CPL with no leads) is null"
    )
    totals: dict[str, Cell] | None = Field(
        description="The metrics over every row (null for models side by side)"
    )
    row_count: int = Field(description="Rows before `limit`")
    notes: list[str]


class TimelineReport(TableReport):
    calls_by_channel: dict[str, dict[str, float]] = Field(
        description='Credited calls per period and "source/medium": {period: {channel: calls}}'
    )


class CallCenterSummary(Outbound):
    calls: int
    answered: int
    missed: int
    abandoned: int
    lost: int = Field(description="Missed, and neither called back nor got through")
    to_call_back: int = Field(description="Lost and not marked handled")
    handled: int
    got_through: int
    called_back: int
    spam: int
    answer_rate: float | None = Field(description="Percent")
    average_wait_to_answer: float | None = Field(description="Seconds")
    average_wait_to_hang_up: float | None = Field(description="Seconds")
    average_time_to_get_through: float | None = Field(description="Seconds")
    average_time_to_call_back: float | None = Field(description="Seconds")


class Heatmap(Outbound):
    """Counts per weekday (rows, Monday first) and hour (columns), in the site's zone."""

    weekdays: list[str]
    hours: list[int]
    calls: list[list[int]]
    missed: list[list[int]]
    lost: list[list[int]]


class MissedCaller(Outbound):
    call_id: str
    started: str = Field(description="Local time with its offset")
    caller: str | None = Field(description="In full, to every role: to be called back")
    number: str | None
    channel: str | None
    waited: float | None = Field(description="Seconds")
    status: str = Field(description="lost | called back | got through | handled")
    got_through_after: int | None = Field(description="Seconds")
    called_back_after: int | None = Field(description="Seconds")
    handled_at: str | None = Field(description="Local time")
    handled_by: str | None
    handled_note: str | None


class CallCenterReport(ReportHead):
    summary: CallCenterSummary
    heatmap: Heatmap
    missed_callers: list[MissedCaller] = Field(description="Newest first")


class TouchCredit(Outbound):
    session_id: str | None
    source: str | None
    medium: str | None
    share: float


class VisitEvent(Outbound):
    kind: Literal["visit"]
    at: str = Field(description="Local time with its offset")
    session_id: str
    visitor_id: str
    landing_url: str
    referrer: str | None
    source: str
    medium: str
    campaign: str | None
    keyword: str | None
    device: str | None
    country: str | None
    pages: list[str]


class CallEvent(Outbound):
    kind: Literal["call"]
    at: str = Field(description="Local time with its offset")
    id: str
    caller: str | None
    tracking_number: str | None
    status: str | None
    talk: float | None
    session_id: str | None
    match_method: str
    confidence: float
    direction: str
    first_time: bool | None = Field(description="null until the call is classified")
    target: bool | None
    lost: bool | None
    spam: bool | None
    credits: dict[str, list[TouchCredit]] = Field(description="{model: touches}")


class DealEvent(Outbound):
    kind: Literal["deal"]
    at: str = Field(description="Local time with its offset")
    deal_id: int
    title: str | None
    amount: float
    currency: str
    status: str
    call_id: str | None


Event = Annotated[VisitEvent | CallEvent | DealEvent, Field(discriminator="kind")]


class JourneyReport(ReportHead):
    visitors: list[str]
    callers: list[str]
    events: list[Event] = Field(description="Oldest first")


AnyReport = TimelineReport | TableReport | CallCenterReport | JourneyReport
