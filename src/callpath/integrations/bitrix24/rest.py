"""A Bitrix24 incoming webhook's REST calls: the URL, the request, the answer.

The webhook's URL is `https://PORTAL/rest/{user id}/{code}/`, and a method is called at
`…/{code}/{method}.json`. The code is the secret: whoever has the URL acts as that user
within the webhook's rights, so the URL is shown with its code masked after it was given.
Answers are JSON: `{"result": …}`, or `{"error": CODE, "error_description": …}` with a
4xx/5xx status (QUERY_LIMIT_EXCEEDED is 503, a wrong or deleted webhook 401)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from callpath.domain.outbox import retryable
from callpath.integrations.http import EXCERPT, Outcome, OutRequest

_PATH = re.compile(r"^/(?:.*/)?rest/(\d{1,12})/([A-Za-z0-9_-]{4,64})/?$")
_METHOD = re.compile(r"^[a-z][a-z0-9_.]{1,80}$")
# Codes that say "not now" (answered 503 to the worker, which retries), whatever status
# they came with; every other error code is a refusal the same request would meet again.
_PASSING = {
    "QUERY_LIMIT_EXCEEDED",
    "OPERATION_TIME_LIMIT",
    "INTERNAL_SERVER_ERROR",
    "ERROR_UNEXPECTED_ANSWER",
}


class BadWebhook(ValueError):
    """Not an incoming webhook's URL."""


def base_url(raw: str) -> str:
    """The incoming webhook's base URL, checked and normalised (`…/rest/USER/CODE/`).
    A URL copied with a method on its end (`…/CODE/profile.json`) loses the method."""
    text = (raw or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadWebhook("give the incoming webhook's URL, https://PORTAL/rest/USER/CODE/")
    path = parts.path
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if "." in last and not _PATH.match(path):
        path = path.rstrip("/").rsplit("/", 1)[0] + "/"  # a method name pasted with it
    found = _PATH.match(path)
    if not found or parts.query or parts.fragment or parts.username or parts.password:
        raise BadWebhook(
            "not an incoming webhook's URL: expected https://PORTAL/rest/USER/CODE/ "
            "(Developer resources → Other → Incoming webhook)"
        )
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/") + "/", "", ""))


def code_of(url: str) -> str | None:
    found = _PATH.match(urlsplit(url).path)
    return found.group(2) if found else None


def masked(url: str) -> str:
    """The URL as shown after it was given: its code hidden but for a hint of it."""
    code = code_of(url)
    if not code:
        return url
    return url.replace(f"/{code}/", f"/{code[:2]}…{code[-2:] if len(code) > 8 else ''}/", 1)


def hide_code(text: str, url: str) -> str:
    """`text` (an error, a log line) without the webhook's code in it."""
    code = code_of(url)
    return text.replace(code, "***") if code else text


def call(
    base: str, method: str, params: Mapping[str, Any], allow_private: bool = False
) -> OutRequest:
    """A method called with its parameters as JSON (what the REST API takes alike)."""
    if not _METHOD.match(method):
        raise ValueError(f"not a REST method name: {method[:40]!r}")
    body = json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    return OutRequest("POST", f"{base}{method}.json", headers, body, allow_private)


@dataclass(frozen=True, slots=True)
class Answer:
    """A call's answer read: `result` when it succeeded, else the error and a status
    for the delivery log that says whether to try again (`outcome`)."""

    ok: bool
    result: Any
    error: str
    outcome: Outcome


def read(outcome: Outcome, url: str) -> Answer:
    """What a call brought back. A status the worker would retry stays as it came; an
    error JSON with a 2xx status (a proxy in between, an old installation) is mapped to
    503 when it says "not now", else 400, so the worker neither delivers nor loops."""
    safe = _clean(outcome, url)
    if outcome.status is None:
        return Answer(False, None, safe.excerpt or "no answer", safe)
    try:
        data = json.loads(outcome.body or b"null")
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        status = outcome.status if not safe.ok else 502
        why = f"not a REST answer (HTTP {outcome.status})"
        return Answer(False, None, why, _with(safe, status))
    if "error" in data:
        code = str(data.get("error") or "")[:80]
        text = str(data.get("error_description") or "")[:200]
        why = hide_code(f"{code}: {text}" if text else code or "error", url)
        status = outcome.status
        if safe.ok:
            status = 503 if code in _PASSING else 400
        elif code in _PASSING and not retryable(status):
            status = 503
        return Answer(False, None, why, _with(safe, status, why))
    if not safe.ok:
        return Answer(False, None, f"HTTP {outcome.status}", safe)
    if "result" not in data:
        return Answer(False, None, "an answer without a result", _with(safe, 502))
    return Answer(True, data["result"], "", safe)


def _clean(outcome: Outcome, url: str) -> Outcome:
    return Outcome(
        outcome.status,
        outcome.latency_ms,
        hide_code(outcome.excerpt, url)[:EXCERPT],
        outcome.retry_after,
        outcome.body,
    )


def _with(outcome: Outcome, status: int | None, excerpt: str | None = None) -> Outcome:
    return Outcome(
        status,
        outcome.latency_ms,
        (excerpt or outcome.excerpt)[:EXCERPT],
        outcome.retry_after,
        outcome.body,
    )
