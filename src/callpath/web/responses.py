"""What `/api/v1` answers: one model per resource, declared as each operation's response
so `/openapi.json` names every field and a client can be generated from it.

Every model refuses a field it does not declare (`additionalProperties: false`): an
answer that grew a field the document does not name fails the tests instead of drifting.
Times are ISO-8601 in UTC (`2026-03-01T09:30:00.125000Z`) unless a field says otherwise;
money is a decimal string with two places ("1234.50") in the currency beside it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Time = str  # ISO-8601, UTC
Money = str  # "1234.50"


class Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stored(BaseModel):
    """A part read back from a JSON column as it was written then: every field may be
    missing and a key an older or newer version wrote is kept, never a failed answer."""

    model_config = ConfigDict(extra="allow")


class Error(Outbound):
    """Every 4xx and 503 answer."""

    error: str = Field(description="What was wrong, for a person to read")


class InvalidRequest(Error):
    """422: the body or a parameter does not have the declared shape."""

    details: list[str] = Field(description='Up to five "where: what" lines')


class Site(Outbound):
    id: int
    key: str = Field(description="The snippet's site key")
    name: str
    domains: list[str]
    timezone: str = Field(description="IANA zone; dates in reports are this zone's days")
    currency: str
    region: str = Field(description="ISO 3166 country the site's local numbers are read in")
    original_numbers: list[str] = Field(description="The site's own numbers the snippet replaces")
    default_destination: str | None = Field(description="Where calls go (E.164)")
    ping_interval: int = Field(description="Seconds")
    hold_after_leave: int = Field(description="Seconds")
    cooldown: int = Field(description="Seconds")
    session_timeout: int = Field(description="Seconds")
    excluded_channels: list[str]
    match_window: int = Field(description="Seconds")


class SitePage(Outbound):
    items: list[Site]
    next_cursor: str | None = Field(description="Give as `cursor` for the next page")


class Number(Outbound):
    id: int
    site_id: int
    e164: str
    kind: str = Field(description="static | pool | default")
    forward_to: str | None
    label: str | None
    channel_source: str | None = Field(description="A static number's channel")
    channel_medium: str | None
    channel_campaign: str | None
    provider: str | None
    region: str | None
    monthly_cost: float | None
    active: bool
    pool_group: str | None = Field(description="A pool number's sub-pool")


class NumberPage(Outbound):
    items: list[Number]
    next_cursor: str | None


class Channel(Outbound):
    source: str | None
    medium: str | None
    campaign: str | None
    keyword: str | None


class Recording(Outbound):
    reference: str = Field(description="The provider's URL or reference")
    stored: bool = Field(description="A copy is kept by this server")
    bytes: int | None


class Candidate(Stored):
    """A visit the call might have come from, not chosen."""

    method: str
    confidence: float
    session_id: str | None = None
    visitor_id: str | None = None
    reason: str | None = None


class Match(Outbound):
    method: str = Field(
        description="pool | static | visit_code | outbound | none …: how the visit was found"
    )
    confidence: float = Field(description="0 to 1")
    alternatives: list[Candidate]


class VisitCodeEntry(Outbound):
    code: str
    session_id: str
    entered_at: Time
    entered_by: str | None


class MatchWithCode(Match):
    visit_code: VisitCodeEntry | None = Field(description="The visit code entered, if any")


class Call(Outbound):
    id: str
    site_id: int | None
    started_at: Time
    answered_at: Time | None
    ended_at: Time | None
    state: str = Field(description="ringing | answered | ended")
    status: str | None = Field(description="answered | missed | busy | failed …, once known")
    caller: str | None = Field(description="E.164; masked for the operator role")
    repeat: bool
    first_call_id: str | None
    tracking_number: str | None
    number_label: str | None
    forward_to: str | None
    wait: float | None = Field(description="Seconds")
    talk: float | None = Field(description="Seconds")
    duration: float | None = Field(description="Seconds")
    direction: str = Field(description="inbound | outbound")
    recording_url: str | None
    recording: Recording | None
    channel: Channel
    landing_url: str | None
    device: str | None
    browser: str | None
    os: str | None
    country: str | None
    region: str | None
    city: str | None
    session_id: str | None
    visitor_id: str | None
    match: Match


class CallDetail(Call):
    match: MatchWithCode


class CallPage(Outbound):
    items: list[Call]
    next_cursor: str | None


class Session(Outbound):
    id: str
    site_id: int
    visitor_id: str
    started_at: Time
    last_seen_at: Time
    landing_url: str
    referrer: str | None
    source: str
    medium: str
    campaign: str | None
    keyword: str | None
    content: str | None
    utm: dict[str, str] = Field(description="The utm_* parameters, without the prefix")
    click_ids: dict[str, str] = Field(description="gclid, yclid, fbclid … as given")
    device: str | None
    browser: str | None
    os: str | None
    country: str | None
    region: str | None
    city: str | None
    number: str | None = Field(description="The number the visit was shown")


class SessionPage(Outbound):
    items: list[Session]
    next_cursor: str | None


class Deal(Outbound):
    id: int
    site_id: int
    external_id: str | None
    title: str | None
    amount: Money
    currency: str
    status: str = Field(description="open | won | lost")
    closed_at: Time | None
    link: str = Field(description="What tied it to a visit: call | visit_code | …")
    call_id: str | None
    session_id: str | None
    visitor_id: str | None
    caller: str | None
    visit_code: str | None
    created_at: Time
    updated_at: Time


class DealPage(Outbound):
    items: list[Deal]
    next_cursor: str | None


class CostImport(Outbound):
    rows: int
    from_: str | None = Field(alias="from", description="The file's first day")
    to: str | None = Field(description="The file's last day")
    total: Money
    currency: str
    replaced: int = Field(description="Rows of an earlier file this one replaced")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CostDay(Outbound):
    day: str
    source: str
    medium: str
    campaign: str
    clicks: int | None
    amount: Money


class Costs(Outbound):
    currency: str
    items: list[CostDay]


class LeadRules(Outbound):
    unique_days: int | None = Field(description="First-time within this many days; null: ever")
    target_talk: int = Field(description="A target call talks at least this many seconds")
    target_first_time_only: bool
    abandoned_seconds: int
    callback_minutes: int
    spam_burst_calls: int
    spam_burst_minutes: int
    lookback_days: int = Field(description="How far back a journey reaches for attribution")
    half_life_days: int = Field(description="The time-decay model's half-life")


class Classified(Outbound):
    classified: int = Field(description="Calls classified again")


class Credit(Outbound):
    session_id: str | None = Field(description="null: a static number's channel, no visit")
    source: str
    medium: str
    campaign: str | None
    keyword: str | None
    at: Time = Field(description="When the touch (visit) started")
    share: float = Field(description="The touch's share of the lead, 0 to 1")


class Value(Outbound):
    amount: Money
    currency: str


class Lead(Outbound):
    id: str
    kind: str = Field(description="call (forms, callbacks and e-mails later)")
    site_id: int
    call_id: str | None
    caller: str | None
    spam_reason: str | None
    first_time: bool
    target: bool
    missed: bool
    abandoned: bool
    lost: bool
    spam: bool
    started_at: Time
    recovered_after: float | None = Field(description="Seconds until the caller got through")
    called_back_after: float | None = Field(description="Seconds until the business called")
    spam_score: float
    classified_at: Time
    value: list[Value] = Field(description="Won deals' amounts per currency")
    credits: list[Credit] = Field(description="The journey's touches under `model`")


class LeadPage(Outbound):
    model: str
    items: list[Lead]
    next_cursor: str | None


class BlockedNumber(Outbound):
    e164: str
    note: str | None
    created_at: Time


class BlockList(Outbound):
    items: list[BlockedNumber]


class Blocked(Outbound):
    number: str = Field(description="The number as stored (E.164)")


class Unblocked(Outbound):
    number: str
    removed: bool


# The errors every operation may answer, for the routers' `responses`.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "Bad input: the reason says what to correct"},
    401: {"model": Error, "description": "No token or login, or not a valid one"},
    403: {"model": Error, "description": "The role may not do this"},
    404: {"model": Error, "description": "Not in this account"},
    422: {"model": InvalidRequest, "description": "The body or a parameter has the wrong shape"},
    503: {"model": Error, "description": "The database is busy or away: try again"},
}
CSV: dict[str, Any] = {
    "description": "UTF-8 CSV; cells that could run as spreadsheet formulas are neutralised",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}
