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


class Erlang(Outbound):
    """The queueing estimate of the pool size the site needs."""

    sessions: int
    peak_hour_arrivals: float
    mean_visit: float = Field(description="Seconds")
    hold_after: float = Field(description="Seconds")
    cooldown: float = Field(description="Seconds")
    load: float = Field(description="Numbers held at once on average in the peak hour")
    target: float
    numbers: int = Field(description="The recommended pool size")
    holding: float = Field(description="Seconds a visit holds its number")


class StoredErlang(Stored):
    """`Erlang` as a plan stored it."""

    sessions: int | None = None
    peak_hour_arrivals: float | None = None
    mean_visit: float | None = None
    hold_after: float | None = None
    cooldown: float | None = None
    load: float | None = None
    target: float | None = None
    numbers: int | None = None
    holding: float | None = None


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
    erlang: StoredErlang | None = None
    recorded_erlang: StoredErlang | None = None


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


class Assignment(Outbound):
    """The tracker's answer: the number to show this visit, and how long it is held."""

    visitor: str = Field(description="Keep it for the visitor's next visits")
    session: str = Field(description="Send it with pings, leave and events")
    number: str | None = Field(description="E.164; null: keep the page's own numbers")
    display: str | None = Field(description="The number formatted for the page")
    national: str | None = Field(description="Its national digits, for tel: links")
    hold_seconds: int = Field(description="Ping before this runs out to keep the number")
    reason: str = Field(
        description="pool | default | excluded | exhausted | bot | client_limit | "
        "rate_limited | none: why this number"
    )
    visit_code: str | None = Field(description="Shown beside the default number when exhausted")


class Ok(Outbound):
    ok: bool


def body_of(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` declaring a JSON body that the endpoint reads itself."""
    schema = model.model_json_schema()
    content = {"schema": schema}
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


class HookReply(Outbound):
    """The generic webhook's answer (and, for other events, Zadarma's)."""

    call: str | None = Field(default=None, description="callpath's id of the call")
    event: str | None = Field(default=None, description="The event as recorded")
    forward_to: str | None = Field(
        default=None, description="To `started`: where to forward the call (E.164); null: nowhere"
    )
    ignored: str | None = Field(
        default=None, description="Why the event was not recorded (200, so it is not resent)"
    )


class ZadarmaRedirect(Outbound):
    """The answer to NOTIFY_START with `?extension=`: the PBX sends the call on."""

    redirect: str | None = Field(default=None, description="The PBX extension")
    return_timeout: int | None = None
    rewrite_forward_number: str | None = Field(default=None, description="Digits, no +")


class SipReply(Outbound):
    ok: bool
    call: str | None


# The telephony hooks' errors: a bad signature is a 401, the SIP edge refuses a client
# outside its allow-list with a 403.
HOOK_ERRORS: dict[int | str, dict[str, Any]] = {
    status: ERRORS[status] for status in (400, 401, 403, 404, 422, 503)
}
TWIML: dict[str, Any] = {
    "description": "TwiML",
    "content": {"application/xml": {"schema": {"type": "string"}}},
}
