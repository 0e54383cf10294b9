"""A notification sent as a Telegram message: the Bot API's `sendMessage`, through the
one HTTP client, plain text (no parse mode: nothing in it is read as markup).

Telegram answers `{"ok": true, ...}`, or `{"ok": false, "error_code": N, "description":
...}`: 429 carries `parameters.retry_after` (seconds), honoured as a Retry-After; 400
(chat not found), 401 (a wrong token) and 403 (the bot was blocked or removed from the
group) are refusals, not retried (`domain.outbox.retryable`). The token is part of the
URL, so it is kept out of every excerpt."""

from __future__ import annotations

import json
from typing import Any

from callpath.integrations.http import Client, Outcome, OutRequest
from callpath.integrations.notify.messages import Message

TEXT_MAX = 4096  # Telegram's limit for one message


def request(api: str, token: str, chat: str, message: Message, allow_private: bool) -> OutRequest:
    body = {
        "chat_id": int(chat) if chat.lstrip("-").isdigit() else chat,
        "text": message.telegram()[:TEXT_MAX],
        "disable_web_page_preview": True,
    }
    return OutRequest(
        "POST",
        f"{api.rstrip('/')}/bot{token}/sendMessage",
        {"Content-Type": "application/json"},
        json.dumps(body, ensure_ascii=False).encode(),
        allow_private,
    )


def send(
    client: Client, api: str, token: str, chat: str, message: Message, allow_private: bool
) -> Outcome:
    outcome = client.send(request(api, token, chat, message, allow_private))
    excerpt = outcome.excerpt.replace(token, "***") if token else outcome.excerpt
    if outcome.status is None:
        return Outcome(None, outcome.latency_ms, excerpt)
    answer = _json(outcome.body)
    status = outcome.status
    if outcome.ok and answer.get("ok") is not True:
        status = 502  # a 200 that is no answer of the Bot API: retried
    code = answer.get("error_code")
    if not outcome.ok and isinstance(code, int) and 400 <= code < 600:
        status = code
    retry_after = outcome.retry_after
    wait = (answer.get("parameters") or {}).get("retry_after")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and wait >= 0:
        retry_after = float(wait)
    return Outcome(status, outcome.latency_ms, excerpt, retry_after)


def _json(body: bytes) -> dict[str, Any]:
    try:
        found = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return found if isinstance(found, dict) else {}
