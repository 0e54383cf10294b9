"""Metrica's sender: an ended call (from its lead's events) into the calls upload, a won
deal into the offline conversions of the goal the user named; each at most once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callpath.domain.deals import amount_text
from callpath.integrations import events
from callpath.integrations.fields import usable
from callpath.integrations.http import Outcome, skipped
from callpath.integrations.metrica import api
from callpath.integrations.metrica.calls_csv import ID_KINDS, calls_csv
from callpath.integrations.sending import Context, at_most_once


def send(
    ctx: Context, destination: Mapping[str, Any], event: Mapping[str, Any], now: float
) -> Outcome:
    config = destination["config"] or {}
    payload = event["payload"] or {}
    if event["type"] == "deal.updated":
        return _deal(ctx, destination, config, payload, now)
    why = events.not_sendable(payload)
    if why:
        return skipped(why)
    call = events.export_call(payload)
    made = calls_csv([call], str(config.get("id_kind") or "client-id"))
    if not made.rows:
        return skipped("the visit has no Metrica id of the kind this counter takes")
    request = api.calls_upload(
        str(destination["url"]),
        str(config["counter"]),
        str(destination["secret"]),
        made.text,
        bool(destination["allow_private"]),
    )
    return at_most_once(
        ctx, destination, ("call", call.id), call.id, now, lambda: ctx.client.send(request)
    )


def _deal(
    ctx: Context,
    destination: Mapping[str, Any],
    config: Mapping[str, Any],
    payload: Mapping[str, Any],
    now: float,
) -> Outcome:
    deal = payload.get("deal") or {}
    goal = config.get("deal_goal")
    if not goal or deal.get("status") != "won":
        return skipped("only won deals go to Metrica, when a goal for them is set")
    column, where, name = ID_KINDS[str(config.get("id_kind") or "client-id")]
    session = (payload.get("attribution") or {}).get("session") or {}
    found = usable(session.get(where) or {}, name)
    if found is None:
        return skipped("the deal's visit has no Metrica id of the kind this counter takes")
    at = events.moment(deal.get("closed_at")) or now
    text = api.deal_csv(
        column,
        found,
        str(goal),
        min(at, now),  # Metrica refuses a time still to come
        amount_text(int(deal.get("amount_cents") or 0)),
        str(deal.get("currency") or ""),
    )
    request = api.conversions_upload(
        str(destination["url"]),
        str(config["counter"]),
        str(destination["secret"]),
        text,
        bool(destination["allow_private"]),
    )
    deal_id = str(deal.get("id"))
    return at_most_once(
        ctx, destination, ("deal", deal_id), deal.get("call_id"), now,
        lambda: ctx.client.send(request),
    )  # fmt: skip
