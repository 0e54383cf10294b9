"""How each kind of destination is sent one event: the delivery worker's one entry.

A sender takes the one HTTP client (`integrations.http.Client`), the destination's row
(url, secret, allow_private, config), the event (its id, type, site, payload) and the
time, and returns what came back. A sender may make more than one request (a CRM that
is asked before it is told); its outcome is the last one's, or the first failure's."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from callpath.integrations.http import Client, Outcome
from callpath.integrations.webhook import request as webhook

Sender = Callable[[Client, Mapping[str, Any], Mapping[str, Any], float], Outcome]


def _webhook(
    client: Client, destination: Mapping[str, Any], event: Mapping[str, Any], now: float
) -> Outcome:
    return client.send(webhook.request(destination, event, _iso(event["event_at"]), now))


def _iso(at: float) -> str:
    return (
        datetime.fromtimestamp(float(at), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


SENDERS: dict[str, Sender] = {"webhook": _webhook}
