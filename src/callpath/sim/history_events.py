"""The raw webhook events behind each call of the demo's history.

A call row is what its events fold into (`services.calls.apply`). The history writes
both, the events marked applied, so that anything that folds a call again (a visit code
entered on its page, a late recording) starts from what the PBX "said": a call written
without its events would fold into an empty one and lose its caller and outcome.
"""

from __future__ import annotations

import json
from typing import Any

from callpath.telephony.generic.adapter import parse

Row = dict[str, Any]


def events_of(call: Row) -> list[Row]:
    """The generic webhook's events of `call` (a calls row): started, answered if it
    was, and ended, each as `call_events` stores it."""
    line, customer = call["tracking_number"], call["caller"]
    outbound = call["direction"] == "outbound"  # the PBX says: from the line, to them
    caller, called = (line, customer) if outbound else (customer, line)
    base = {"call_id": call["provider_call_id"], "caller": caller, "direction": call["direction"]}
    bodies = [{**base, "event": "started", "at": call["started_at"], "called": called}]
    if call["answered_at"] is not None:
        bodies.append({**base, "event": "answered", "at": call["answered_at"]})
    ended = {"status": call["status"], "talk": call["talk"], "duration": call["duration"]}
    bodies.append({**base, "event": "ended", "at": call["ended_at"], **ended})
    return [_row(call, body) for body in bodies]


def _row(call: Row, body: Row) -> Row:
    raw = json.dumps(body, separators=(",", ":"))
    event, dedup_key = parse(raw.encode("utf-8"))  # as if the PBX had sent it
    return {
        "account_id": call["account_id"],
        "integration_id": call["integration_id"],
        "dedup_key": dedup_key,
        "call_key": call["id"],
        "kind": event.kind,
        "received_at": event.at,
        "body": raw,
        "response": {"call": call["id"], "event": event.kind},
        "applied_at": call["updated_at"],
    }
