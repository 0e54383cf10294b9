"""REST API for the analytics reports: `GET /api/v1/reports/{name}`.

Every report takes `site` (its id or key), `from` and `to` (days in the site's timezone)
and `format` (json, csv or xlsx); the tables also take `model`, `group`, `sort`, `order`,
`limit`, `margin` and filters (`web/report_query.py`). A parameter the report does not
know is a 400: a typo must not pass for a filter.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from callpath.web import report_query
from callpath.web.auth import ApiUser
from callpath.web.context import ctx

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get("/reports/{name}", summary="An analytics report (json, csv or xlsx)")
def get_report(name: str, request: Request, who: ApiUser) -> Any:
    params = report_query.checked(request.query_params.multi_items(), report_query.allowed(name))
    fmt = report_query.choice(params, "format", report_query.FORMATS, "json")
    sep = report_query.separator(params)
    head, body, cells = report_query.run(ctx(request).engine, who, name, params)
    if fmt == "json":
        return {**head, **body}
    return report_query.file_response(name, head, cells, fmt, sep)
