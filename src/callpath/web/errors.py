"""One error type for client mistakes, rendered as JSON with a reason (or, for a browser
on /app, as a page headed by what its status means)."""

from __future__ import annotations

import logging
import sqlite3
from http import HTTPStatus

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from callpath.reports.calls import BadFilter
from callpath.services.setup import NotFound, SetupError

log = logging.getLogger("callpath.web")

# The error page's heading, in a person's words; a status not named here gets its
# standard phrase.
HEADINGS = {
    400: "Cannot do that",
    401: "Log in first",
    403: "Not allowed",
    404: "Not found",
    405: "Not available this way",
    409: "Conflict",
    410: "No longer valid",
    413: "Too large",
    422: "Check what you sent",
    429: "Too many requests",
    503: "Unavailable for now",
}


class ClientError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class LoginRequired(ClientError):
    """Raised for pages: answered with a redirect to the login form."""


async def _login_required(_request: Request, _exc: Exception) -> RedirectResponse:
    return RedirectResponse("/app/login", status_code=303)


def _for_a_person(request: Request) -> bool:
    """An admin page asked for by a browser: answered with a page, not JSON."""
    path = request.url.path
    accept = request.headers.get("accept", "")
    return path.startswith("/app") and not path.endswith(".csv") and "text/html" in accept


def heading(status: int) -> str:
    """The error page's heading for `status`."""
    if status in HEADINGS:
        return HEADINGS[status]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "Cannot do that" if status < 500 else "Something went wrong"
    return phrase[:1] + phrase[1:].lower()


def _answer(
    request: Request,
    status: int,
    body: dict[str, object],
    headers: dict[str, str] | None = None,
) -> Response:
    if not _for_a_person(request):
        return JSONResponse(body, status_code=status, headers=headers)
    from callpath.web.pages import render  # pages need the app's templates, loaded late

    page: HTMLResponse = render(
        request,
        "error.html",
        status=status,
        who=None,
        heading=heading(status),
        reason=body["error"],
        details=body.get("details", []),
    )
    return page


async def _client_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClientError)
    cors = {"Access-Control-Allow-Origin": "*"}
    return _answer(request, exc.status, {"error": exc.reason}, cors)


async def _bad_input(request: Request, exc: Exception) -> Response:
    """Errors whose message tells the client what to correct (404: not the account's)."""
    status = 404 if isinstance(exc, NotFound) else 400
    return _answer(request, status, {"error": str(exc)})


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
        for e in exc.errors()[:5]
    ]
    return _answer(request, 422, {"error": "invalid request", "details": problems})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return _answer(
        request, exc.status_code, {"error": str(exc.detail)}, getattr(exc, "headers", None)
    )


async def _database_down(request: Request, exc: Exception) -> Response:
    """The database is away, hung, or another process holds SQLite's write lock longer
    than a request may wait (`CALLPATH_DATABASE_WAIT_MS`). The snippet keeps the page's
    own number on any non-200; say why, and that it passes. The driver's text (host,
    port, file) goes to the log only."""
    busy = "locked" in str(exc).lower()
    log.info("database unavailable for %s: %s", request.url.path, str(exc)[:300])
    reason = (
        "database busy, try again shortly" if busy else "database unavailable, try again shortly"
    )
    headers = {"Access-Control-Allow-Origin": "*", "Retry-After": "1" if busy else "5"}
    return _answer(request, 503, {"error": reason}, headers)


def install(app: FastAPI) -> None:
    # SQLAlchemy's error, and the drivers' own from statements run straight on them
    # (storage/prepared.py): a 503 with a reason, never a 500.
    for unavailable in (OperationalError, sqlite3.OperationalError, psycopg.OperationalError):
        app.add_exception_handler(unavailable, _database_down)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(ClientError, _client_error)
    app.add_exception_handler(SetupError, _bad_input)
    app.add_exception_handler(BadFilter, _bad_input)
    app.add_exception_handler(RequestValidationError, _validation_error)
