"""Zadarma's user API, the one request callpath makes: the PBX call statistics.

`GET /v1/statistics/pbx/?start=…&end=…&version=2` lists the calls of a period (at most a
month, 1000 lines a request) with `pbx_call_id`, `disposition` and `seconds`; dates are
the account's wall clock, like a notification's `call_start`. Each request carries
`Authorization: KEY:SIGNATURE`, SIGNATURE = base64(hex(HMAC-SHA1(secret, path + query +
md5(query)))) over the parameters sorted by name and form-encoded (PHP's
`http_build_query`, RFC 1738). The statistics methods allow 3 requests a minute; more are
answered 429. Novofon serves the same API at its own address (`base_url`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

BASE_URL = "https://api.zadarma.com"
STATISTICS_PATH = "/v1/statistics/pbx/"
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
MAX_LINES = 1000


class ApiError(Exception):
    """The API did not answer with statistics; `retry_after`: seconds it asked us to wait."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Account:
    base_url: str
    key: str
    secret: str


def query(params: dict[str, str]) -> str:
    """The parameters as signed and sent: sorted by name, form-encoded (spaces as `+`)."""
    return urlencode(sorted(params.items()))


def signature(path: str, params: dict[str, str], secret: str) -> str:
    text = query(params)
    message = path + text + hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 (their scheme)
    digest = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.hexdigest().encode("ascii")).decode("ascii")


def pbx_statistics(
    client: httpx.Client, account: Account, start: str, end: str
) -> list[dict[str, Any]]:
    """The incoming calls of the PBX from `start` to `end` (`YYYY-MM-DD HH:MM:SS`, the
    account's zone); `ApiError` for anything but a success."""
    params = {"call_type": "in", "end": end, "start": start, "version": "2"}
    params["limit"] = str(MAX_LINES)
    auth = f"{account.key}:{signature(STATISTICS_PATH, params, account.secret)}"
    url = f"{account.base_url.rstrip('/')}{STATISTICS_PATH}?{query(params)}"
    try:
        response = client.get(url, headers={"Authorization": auth}, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise ApiError(f"statistics request failed: {type(exc).__name__}") from exc
    if response.status_code == 429:
        raise ApiError("rate limited (429)", _retry_after(response))
    return _lines(response)


def _lines(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code != 200 or not isinstance(data, dict):
        message = data.get("message") if isinstance(data, dict) else None
        raise ApiError(f"statistics: HTTP {response.status_code} {str(message or '')[:200]}")
    if data.get("status") != "success" or not isinstance(data.get("stats"), list):
        raise ApiError(f"statistics: {str(data.get('message') or 'no stats')[:200]}")
    return [line for line in data["stats"] if isinstance(line, dict)]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if 0 < seconds <= 3600 else None
