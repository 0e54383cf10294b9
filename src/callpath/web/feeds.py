"""Conversion feeds fetched by the ad platforms: `GET /feeds/google-ads/{feed_id}.csv`,
Google Ads' click conversions file of the feed's last days, behind HTTP Basic.

Every refusal is a 401 with a `WWW-Authenticate` challenge and a JSON reason; a feed that
does not exist, was removed or is of another kind is refused like a wrong password, so
the answer never tells whether a feed exists. Failed attempts are limited per client
address (in this process's memory) before any database access.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from callpath.integrations.google_ads import conversions_csv
from callpath.reports import exports
from callpath.services import feeds
from callpath.services.login_limits import AddressLimiter, Refusal
from callpath.storage.db import transaction
from callpath.web import login_check
from callpath.web.context import ctx
from callpath.web.responses import CSV, Error, InvalidRequest

log = logging.getLogger("callpath.web")
router = APIRouter(tags=["feeds"])

REALM = 'Basic realm="callpath"'
HEADER_MAX = 1024  # an Authorization header longer than this is no feed's credentials
NO_STORE = {"Cache-Control": "no-store"}


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(username, password) of an `Authorization: Basic …` header; None when there is
    no such header or it cannot be read."""
    if not header or len(header) > HEADER_MAX:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    username, colon, password = raw.decode("utf-8", "replace").partition(":")
    return (username, password) if colon else None


def limiter(request: Request) -> AddressLimiter:
    """The app's limiter of failed feed fetches, made on first use."""
    state = request.app.state
    made = getattr(state, "feed_limiter", None)
    if isinstance(made, AddressLimiter):
        return made
    made = AddressLimiter(time.monotonic)
    state.feed_limiter = made
    return made


@router.get(
    "/feeds/google-ads/{feed_id}.csv",
    summary="A Google Ads click conversions feed",
    response_class=Response,
    responses={
        200: CSV,
        401: {"model": Error, "description": "No credentials, or not this feed's"},
        422: {"model": InvalidRequest, "description": "The path has the wrong shape"},
        429: {"model": Error, "description": "Too many failed attempts from this address"},
        503: {"model": Error, "description": "The database is busy or away: try again"},
    },
)
def google_ads_feed(feed_id: str, request: Request) -> Response:
    """The feed's calls of its last days (ending now) as Google Ads' click conversions
    file, for a scheduled upload from HTTPS. HTTP Basic: the username is the feed's id,
    the password the one `callpath feed add` showed."""
    header = request.headers.get("authorization")
    if header is None:
        return _refused("credentials required (HTTP Basic: the feed's username and password)")
    address = login_check.address(request)
    guard = limiter(request)
    attempt = guard.attempt(address)
    if isinstance(attempt, Refusal):
        headers = {**NO_STORE, "Retry-After": str(attempt.retry_after)}
        body = {"error": attempt.reason, "retry_after": attempt.retry_after}
        return JSONResponse(body, status_code=429, headers=headers)
    given = basic_credentials(header)
    engine, now = ctx(request).engine, time.time()
    text = _file(engine, feed_id, given, now) if given is not None else None
    if text is None:
        return _refused("wrong username or password")
    guard.succeeded(address, attempt)
    headers = {**NO_STORE, "X-Content-Type-Options": "nosniff"}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


def _file(engine: Engine, feed_id: str, given: tuple[str, str], now: float) -> str | None:
    """The feed's file, None if the credentials do not open it."""
    with transaction(engine, write=False) as conn:
        feed = feeds.authenticate(conn, "google_ads", feed_id, *given)
        if feed is None:
            return None
        since, until = feed.window(now)
        found = exports.calls_between(
            conn, feed.account_id, feed.site_id, since, until, feed.currency
        )
    offset = conversions_csv.zone_offset(feed.timezone, until)
    made = conversions_csv.conversions_csv(found, feed.conversion_name, offset, feed.all_calls)
    if feed.stale(now):
        _touch(engine, feed, now)
    return made.text


def _touch(engine: Engine, feed: feeds.Feed, now: float) -> None:
    """Note the fetch for `callpath feed list`; the file goes out even if this fails."""
    try:
        with transaction(engine) as conn:
            feeds.touch(conn, feed, now)
    except DBAPIError as exc:
        log.info("feed %s: last fetch not noted: %s", feed.id, str(exc)[:200])


def _refused(reason: str) -> JSONResponse:
    headers = {**NO_STORE, "WWW-Authenticate": REALM}
    return JSONResponse({"error": reason}, status_code=401, headers=headers)
