"""What every inbound webhook does once it read its provider's request.

The answer waits only for verification, the routing decision and storing the raw
event; folding and matching run after it went out (`dbcall.apply_after`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import BackgroundTasks

from callpath import telephony
from callpath.services.calls import Integration
from callpath.services.pipeline import Reply, Unavailable
from callpath.telephony.base import BadEvent, Unauthorized
from callpath.web.context import Context
from callpath.web.dbcall import apply_after, run_routing
from callpath.web.errors import ClientError

NO_STORE = {"Cache-Control": "no-store"}  # every answer is about one call, for one caller
Verify = Callable[[Integration, float], None]
T = TypeVar("T")


def checked(make: Callable[[], T]) -> T:
    """What the provider's adapter reads or writes of a request (its form, the event to
    store); its refusal (`BadEvent`) is a 400 with the adapter's reason."""
    try:
        return make()
    except BadEvent as exc:
        raise ClientError(400, str(exc)) from exc


async def receive(
    c: Context,
    background: BackgroundTasks,
    kind: str,
    integration_id: str,
    body: bytes,
    verify: Verify,
    *,
    unauthorized: int = 401,
) -> Reply:
    """Verify, route and store one provider event (`CallPipeline.receive`), then fold it
    after the answer."""
    reply = await run_hook(
        c,
        c.pipeline.receive,
        kind,
        integration_id,
        body,
        verify,
        telephony.parser(kind),
        unauthorized=unauthorized,
    )
    apply_after(c, background, reply)
    return reply


async def run_hook(c: Context, fn: Any, *args: Any, unauthorized: int = 401) -> Reply:
    """Run a pipeline entry point; its refusals become HTTP errors with a reason."""
    try:
        reply: Reply = await run_routing(c, fn, *args)
    except Unauthorized as exc:
        raise ClientError(unauthorized, str(exc)) from exc
    except BadEvent as exc:
        raise ClientError(400, str(exc)) from exc
    except Unavailable as exc:
        raise ClientError(503, str(exc)) from exc
    return reply
