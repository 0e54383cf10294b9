"""An analytics report asked for by query parameters, for the API and the pages alike.

Every report takes `site` (its id or key), `from` and `to` (days in the site's timezone,
`to` counted whole; the last 30 days by default) and `format` (json, csv or xlsx; `sep=;`
for a CSV that a spreadsheet in a Russian or German locale splits right). The tables
(channels, landing-pages, devices, geo, numbers, timeline, models) also take `model`,
`group`, `sort`, `order`, `limit`, `margin` and a filter on any dimension
(`source=google&device=mobile`; `(not set)` matches a missing value). A parameter the
report does not know is a 400: a typo must not pass for a filter.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Response
from sqlalchemy import Connection

from callpath.domain.attribution import DEFAULT_MODEL, MODELS
from callpath.domain.calls import is_call_key
from callpath.reports import analytics, call_center, journey
from callpath.reports.analytics import Report, Shape
from callpath.reports.dimensions import FILTERS, GROUPS
from callpath.reports.measures import Scope
from callpath.reports.period import Period
from callpath.services import auth
from callpath.storage import site_repo
from callpath.storage.db import transaction
from callpath.storage.tables import MAX_ID
from callpath.web import params as params_mod
from callpath.web import report_files
from callpath.web.errors import ClientError

READERS = auth.PLANNERS  # revenue, spend and callers' journeys: owners, admins, analysts
MAX_DAYS = 3660
MAX_LIMIT = 10_000
FORMATS = ("json", "csv", "xlsx")
COMMON = frozenset({"site", "from", "to", "format", "sep"})
TABLE = COMMON | {"model", "group", "sort", "order", "limit", "margin", *FILTERS}


TABLES = {  # a table report's groups: the first is the default
    "channels": ("source", "campaign", "keyword"),
    "landing-pages": ("landing",),
    "devices": ("device", "browser", "os"),
    "geo": ("country", "region", "city"),
    "numbers": ("number",),
    "timeline": ("day", "week", "month"),
    "models": ("source", "campaign", "keyword"),
}
OTHERS = {
    "call-center": COMMON,
    "journey": COMMON | {"visitor", "call", "deal"},
}
NAMES = (*TABLES, *OTHERS)


def run(
    engine: Any, who: auth.Principal, name: str, params: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any], list[list[Any]]]:
    """(head, body, table) of report `name`: head names the site and period, body is the
    JSON answer's rest, table the rows a file holds. ClientError (4xx) for bad input."""
    if name not in NAMES:
        raise ClientError(404, f"no report {name[:40]!r} (reports: {', '.join(NAMES)})")
    if name != "call-center" and who.role not in READERS:
        raise ClientError(403, f"only {', '.join(READERS)} and their API tokens read reports")
    with transaction(engine, write=False) as conn:
        site = find_site(conn, who.account_id, params.get("site"))
        period = _period(params, site["timezone"], conn.dialect.name)
        head = {
            "report": name,
            "site": {k: site[k] for k in ("id", "key", "name", "currency", "timezone")},
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
        }
        if name in TABLES:
            body, cells = _table(conn, name, params, site, period)
        elif name == "call-center":
            body, cells = _call_center(conn, site, period)
        else:
            body, cells = _journey(conn, params, site)
    return head, body, cells


def leaders(
    engine: Any, who: auth.Principal, params: dict[str, str], groups: tuple[str, ...], n: int
) -> dict[str, list[dict[str, Any]]]:
    """The top `n` of each of `groups` (campaign, keyword ...) by target calls under the
    page's model, site, period and filters."""
    with transaction(engine, write=False) as conn:
        site = find_site(conn, who.account_id, params.get("site"))
        period = _period(params, site["timezone"], conn.dialect.name)
        model = choice(params, "model", MODELS, DEFAULT_MODEL)
        filters = {k: v for k, v in params.items() if k in FILTERS}
        scope = Scope(site["id"], site["currency"], period, model, filters)
        return {g: analytics.top_by_calls(conn, scope, GROUPS[g], n) for g in groups}


def allowed(name: str) -> frozenset[str]:
    """The parameters report `name` takes (an unknown report: the common ones)."""
    return TABLE if name in TABLES else OTHERS.get(name, COMMON)


def checked(items: list[tuple[str, str]], allowed: frozenset[str]) -> dict[str, str]:
    """The query's parameters, each known, given once and of a bounded size."""
    params: dict[str, str] = {}
    for key, value in items:
        params_mod.refuse_unknown((key,), allowed, "this report")
        if key in params:
            raise ClientError(400, f"{key}: given twice")
        if len(value) > 255:
            raise ClientError(400, f"{key}: at most 255 characters")
        params[key] = value
    return params


def choice(params: dict[str, str], name: str, options: tuple[str, ...], default: str) -> str:
    value = params.get(name, default)
    if value not in options:
        raise ClientError(400, f"{name}: one of {', '.join(options)}")
    return value


def find_site(conn: Connection, account_id: int, given: str | None) -> dict[str, Any]:
    if not given:
        raise ClientError(400, "site: the site's id or key")
    if given.isdigit() and int(given) <= MAX_ID:
        site = site_repo.site_row(conn, site_id=int(given))
    else:
        site = site_repo.site_row(conn, key=given)
    if site is None or site["account_id"] != account_id:
        raise ClientError(404, "no such site")
    return site


def _period(params: dict[str, str], zone: str, dialect: str) -> Period:
    today = datetime.now(ZoneInfo(zone)).date()
    last = _day(params, "to") or today
    first = _day(params, "from") or last - timedelta(days=29)
    if last < first:
        raise ClientError(400, "from, to: a period that ends after it starts")
    if (last - first).days >= MAX_DAYS:
        raise ClientError(400, f"from, to: at most {MAX_DAYS} days")
    try:
        return Period(zone, first, last, dialect)
    except (OverflowError, ValueError) as exc:
        raise ClientError(400, "from, to: out of range") from exc


def _day(params: dict[str, str], name: str) -> date | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ClientError(400, f"{name}: a day as YYYY-MM-DD, not {text[:40]!r}") from exc
    if not 1971 <= day.year <= 9000:
        raise ClientError(400, f"{name}: out of range")
    return day


def _table(
    conn: Connection, name: str, params: dict[str, str], site: dict[str, Any], period: Period
) -> tuple[dict[str, Any], list[list[Any]]]:
    groups = TABLES[name]
    group = choice(params, "group", groups, groups[0])
    model = choice(params, "model", MODELS, DEFAULT_MODEL)
    filters = {k: v for k, v in params.items() if k in FILTERS}
    scope = Scope(site["id"], site["currency"], period, model, filters)
    shape = _shape(params)
    dim = GROUPS[group]
    if name == "models":
        report = analytics.models_side_by_side(conn, scope, dim, shape)
    else:
        report = analytics.breakdown(conn, scope, dim, shape)
    if "sort" in params and shape.sort not in report.columns:
        raise ClientError(400, f"sort: one of {', '.join(report.columns)}")
    body = {
        "model": None if name == "numbers" else model,
        "group": group,
        "filters": filters,
        **_report_body(report),
    }
    if name == "timeline":
        body["calls_by_channel"] = analytics.calls_by_channel(conn, scope, group)
    return body, report_files.table(report.columns, report.rows, report.totals)


def _shape(params: dict[str, str]) -> Shape:
    sort = params.get("sort", "calls")
    order = choice(params, "order", ("desc", "asc"), "desc")
    limit = _number(params, "limit", 1, MAX_LIMIT, 1000)
    margin = _number(params, "margin", 0, 100, 100)
    return Shape(sort, order == "desc", int(limit), margin / 100.0)


def _number(params: dict[str, str], name: str, low: int, high: int, default: int) -> float:
    text = params.get(name)
    if text is None:
        return float(default)
    try:
        value = float(text)
    except ValueError as exc:
        raise ClientError(400, f"{name}: a number {low}..{high}") from exc
    if not low <= value <= high:
        raise ClientError(400, f"{name}: a number {low}..{high}")
    return value


def _report_body(report: Report) -> dict[str, Any]:
    return {
        "columns": report.columns,
        "rows": report.rows,
        "totals": report.totals,
        "row_count": report.row_count,
        "notes": report.notes,
    }


CALL_CENTER_COLUMNS = (
    "started",
    "caller",
    "number",
    "channel",
    "waited",
    "status",
    "got_through_after",
    "called_back_after",
    "handled_at",
    "handled_by",
    "handled_note",
)


def _call_center(
    conn: Connection, site: dict[str, Any], period: Period
) -> tuple[dict[str, Any], list[list[Any]]]:
    """Callers' numbers are shown in full to every role, operators too: the missed
    callers list is there to be called back."""
    body = call_center.report(conn, site["id"], period)
    rows = body["missed_callers"]
    return body, report_files.table(CALL_CENTER_COLUMNS, rows, None)


JOURNEY_COLUMNS = (
    "at",
    "kind",
    "source",
    "medium",
    "campaign",
    "landing_url",
    "caller",
    "status",
    "amount",
    "currency",
)


def _journey(
    conn: Connection, params: dict[str, str], site: dict[str, Any]
) -> tuple[dict[str, Any], list[list[Any]]]:
    given = [name for name in ("visitor", "call", "deal") if params.get(name)]
    if len(given) != 1:
        raise ClientError(400, "journey: give one of visitor, call or deal")
    visitors: set[str] = set()
    callers: set[str] = set()
    if given[0] == "visitor":
        visitors = {params["visitor"]}
    else:
        found = _journey_start(conn, site["id"], given[0], params[given[0]])
        if found is None:
            raise ClientError(404, f"{given[0]}: none such on this site")
        visitors, callers = found
    body = journey.journey(conn, site["id"], site["timezone"], visitors, callers)
    return body, report_files.table(JOURNEY_COLUMNS, body["events"], None)


def _journey_start(
    conn: Connection, site_id: int, kind: str, value: str
) -> tuple[set[str], set[str]] | None:
    if kind == "call":
        return journey.start_of(conn, site_id, call_id=value) if is_call_key(value) else None
    if not value.isdigit() or int(value) > MAX_ID:
        return None
    return journey.start_of(conn, site_id, deal_id=int(value))


def separator(params: dict[str, str]) -> str:
    sep = {",": ",", ";": ";", "comma": ",", "semicolon": ";"}.get(params.get("sep", ","))
    if sep is None:
        raise ClientError(400, "sep: , or ;")
    return sep


def file_response(
    name: str, head: dict[str, Any], cells: list[list[Any]], fmt: str, sep: str
) -> Response:
    stem = f"{name}-{head['site']['key']}-{head['from']}-{head['to']}"
    if fmt == "xlsx":
        content = report_files.as_xlsx(cells, name)
        media = report_files.XLSX_TYPE
    else:
        content = report_files.as_csv(cells, sep)
        media = report_files.CSV_TYPE
    disposition = f'attachment; filename="{stem}.{fmt}"'
    return Response(content, media_type=media, headers={"Content-Disposition": disposition})
