"""REST API for the analytics reports: `GET /api/v1/reports/{name}`.

Every report takes `site` (its id or key), `from` and `to` (days in the site's timezone)
and `format` (json, csv or xlsx); the tables also take `model`, `group`, `sort`, `order`,
`limit`, `margin` and filters (`web/report_query.py`). A parameter the report does not
know is a 400: a typo must not pass for a filter.

The parameters are read from the query by `report_query` (which ones a report takes
depends on the report), so the document is told them here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from callpath.domain.attribution import DEFAULT_MODEL, MODELS
from callpath.reports.dimensions import FILTERS
from callpath.web import report_files, report_query
from callpath.web.auth import ApiUser
from callpath.web.context import ctx
from callpath.web.report_responses import AnyReport
from callpath.web.responses import ERRORS

router = APIRouter(prefix="/api/v1", tags=["reports"], responses=ERRORS)
GROUPS = sorted({g for groups in report_query.TABLES.values() for g in groups})


def _param(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


PARAMETERS = [
    _param("site", "The site's id or key (required)"),
    _param("from", "First day, YYYY-MM-DD in the site's timezone (default: 30 days ago)"),
    _param("to", "Last day, counted whole (default: today)"),
    _param("format", "json, or a file of what json shows", enum=list(report_query.FORMATS)),
    _param("sep", "The CSV's separator", enum=[",", ";"]),
    _param("model", "Attribution model (tables)", enum=list(MODELS), default=DEFAULT_MODEL),
    _param("group", "The rows' dimension: the report's first by default (tables)", enum=GROUPS),
    _param("sort", "A column to sort by (tables; default calls)"),
    _param("order", "Sort order (tables)", enum=["desc", "asc"]),
    _param("limit", "Rows at most, 1 to 10000 (tables; default 1000)"),
    _param("margin", "Gross margin in percent for ROMI, 0 to 100 (tables; default 100)"),
    *(_param(f, f'Only this {f} ("(not set)": none) (tables)') for f in FILTERS),
    _param("visitor", "journey: one visitor id"),
    _param("call", "journey: the visitor of one call"),
    _param("deal", "journey: the visitor of one deal"),
]
_FILE = {"schema": {"type": "string", "format": "binary"}}
REPORT = {
    "model": AnyReport,
    "description": "The report; with `format=csv` or `xlsx`, the same table as a file",
    "content": {"text/csv": _FILE, report_files.XLSX_TYPE: _FILE},
}


@router.get(
    "/reports/{name}",
    summary="An analytics report (json, csv or xlsx)",
    description="Reports: " + ", ".join(report_query.NAMES) + ". Parameters a report does "
    "not take are a 400.",
    responses={200: REPORT},
    openapi_extra={"parameters": PARAMETERS},
)
def get_report(name: str, request: Request, who: ApiUser) -> Any:
    params = report_query.checked(request.query_params.multi_items(), report_query.allowed(name))
    fmt = report_query.choice(params, "format", report_query.FORMATS, "json")
    sep = report_query.separator(params)
    head, body, cells = report_query.run(ctx(request).engine, who, name, params)
    if fmt == "json":
        return {**head, **body}
    return report_query.file_response(name, head, cells, fmt, sep)
