"""How each kind of destination is sent one event: the delivery worker's one entry.

A sender takes its context (the one HTTP client, `integrations.http.Client`, and the
links store: what this destination made of our calls, by its ids), the destination's
row (url, secret, allow_private, config), the event (its id, type, site, payload) and
the time, and returns what came back. A sender may make more than one request (a CRM
that is asked before it is told); its outcome is the last one's, or the first failure's.
A new kind registers its sender in `SENDERS`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callpath.integrations.amocrm import sender as amocrm
from callpath.integrations.bitrix24 import sender as bitrix24
from callpath.integrations.ga4 import measurement as ga4
from callpath.integrations.http import Outcome
from callpath.integrations.meta import conversions as meta
from callpath.integrations.metrica import sender as metrica
from callpath.integrations.notify import sender as notify
from callpath.integrations.sending import Context, Sender
from callpath.integrations.webhook import request as webhook
from callpath.services import outbox


def _webhook(
    ctx: Context, destination: Mapping[str, Any], event: Mapping[str, Any], now: float
) -> Outcome:
    return ctx.client.send(webhook.request(destination, event, outbox.iso(event["event_at"]), now))


def _notify(
    ctx: Context, destination: Mapping[str, Any], event: Mapping[str, Any], now: float
) -> Outcome:
    if ctx.notify is None:
        return Outcome(None, 0, "this process sends no notifications")
    return notify.send(ctx.client, ctx.links, ctx.notify, destination, event, now)


SENDERS: dict[str, Sender] = {
    "webhook": _webhook,
    "metrica": metrica.send,
    "ga4": ga4.send,
    "meta": meta.send,
    "amocrm": amocrm.send,
    "bitrix24": bitrix24.send,
    "email": _notify,
    "telegram": _notify,
}
