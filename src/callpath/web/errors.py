"""One error type for client mistakes, rendered as JSON with a reason."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from callpath.reports.calls import BadFilter
from callpath.services.setup import SetupError


class ClientError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class LoginRequired(ClientError):
    """Raised for pages: answered with a redirect to the login form."""


async def _login_required(_request: Request, _exc: Exception) -> RedirectResponse:
    return RedirectResponse("/app/login", status_code=303)


async def _client_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClientError)
    return JSONResponse(
        {"error": exc.reason}, status_code=exc.status, headers={"Access-Control-Allow-Origin": "*"}
    )


async def _bad_input(_request: Request, exc: Exception) -> JSONResponse:
    """Errors whose message tells the client what to correct."""
    return JSONResponse({"error": str(exc)}, status_code=400)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
        for e in exc.errors()[:5]
    ]
    return JSONResponse({"error": "invalid request", "details": problems}, status_code=422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        {"error": str(exc.detail)},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _database_down(_request: Request, _exc: Exception) -> JSONResponse:
    # The snippet keeps the page's own number on any non-200; say why, and that it passes.
    return JSONResponse(
        {"error": "database unavailable, try again shortly"},
        status_code=503,
        headers={"Access-Control-Allow-Origin": "*", "Retry-After": "5"},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(ClientError, _client_error)
    app.add_exception_handler(SetupError, _bad_input)
    app.add_exception_handler(BadFilter, _bad_input)
    app.add_exception_handler(RequestValidationError, _validation_error)
