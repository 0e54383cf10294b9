"""Events for the account's destinations, written in the transaction of what they report.

A call's save (`calls.apply`), a batch of leads (`leads`) and a deal (`deals.record`) each
call in here inside their own transaction: the event and its deliveries commit with the
change or not at all, so a crash between "saved" and "queued" cannot lose one, and a
rolled-back change sends nothing. Nothing is read or written for an account without a
destination that takes the event (one indexed lookup). Sending is the delivery worker's
(`workers.delivery`), never the writer's: routing and the tracker do not come here at all
(calls are folded after their answer, by the apply process).

A payload is a snapshot of the moment it was written: the call, its visit (channel, UTM,
click ids, analytics client ids, landing page, device, place) and how it was matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from callpath.domain.deals import amount_text
from callpath.domain.outbox import subscribed
from callpath.storage import outbox_repo

Row = dict[str, Any]
VERDICT = ("first_time", "target", "missed", "abandoned", "lost", "spam")
_UNMATCHED = ("none", "outbound")


def emit(
    conn: Connection,
    account_id: int,
    site_id: int | None,
    event_type: str,
    subject: str,
    payload: Mapping[str, Any],
    now: float,
    takers: Sequence[Row] | None = None,
) -> int | None:
    """Queue the event for every destination that takes it; its id (None: nobody does)."""
    found = takers if takers is not None else outbox_repo.subscribers(conn, account_id, site_id)
    ids = [int(d["id"]) for d in found if subscribed(str(d["events"]), event_type)]
    if not ids:
        return None
    event = {
        "account_id": account_id,
        "site_id": site_id,
        "type": event_type,
        "subject": subject,
        "payload": dict(payload),
        "created_at": now,
    }
    return outbox_repo.enqueue(conn, event, ids, now)


# ------------------------------------------------------------------ calls


def call_takers(conn: Connection, values: Mapping[str, Any]) -> list[Row]:
    """The destinations that take this call's events (none: the save writes no event).
    Looked up before the save's write transaction (SQLite: the write lock routing waits
    for is not held for it); a destination added in between takes the next change."""
    takers = outbox_repo.subscribers(conn, int(values["account_id"]), values["site_id"])
    return takers if any(str(t["events"]).find("call.") >= 0 for t in takers) else []


def lead_takers(conn: Connection, account_ids: Iterable[int]) -> dict[int, list[Row]]:
    """Per account, the destinations that take lead events (accounts with none left
    out), looked up before the leads' write transaction."""
    found = {}
    for account_id in set(account_ids):
        takers = outbox_repo.subscribers(conn, account_id, None)
        if any(str(t["events"]).find("lead.") >= 0 for t in takers):
            found[account_id] = takers
    return found


@dataclass(frozen=True, slots=True)
class CallWatch:
    """A call about to be saved, as it was: what its save changes decides its events."""

    takers: list[Row]
    before: Row | None

    @classmethod
    def before_save(
        cls, conn: Connection, values: Mapping[str, Any], takers: list[Row]
    ) -> CallWatch | None:
        """None when no destination takes call events (`call_takers`; nothing read)."""
        if not takers:
            return None
        return cls(takers, outbox_repo.call_before(conn, str(values["id"])))

    def after_save(self, conn: Connection, values: Mapping[str, Any], now: float) -> list[str]:
        """The events the save made, queued; their types."""
        kinds = call_changes(self.before, values)
        if not kinds:
            return []
        payload = call_payload(conn, values)
        for kind in kinds:
            emit(
                conn,
                int(values["account_id"]),
                values["site_id"],
                kind,
                str(values["id"]),
                payload,
                now,
                self.takers,
            )
        return kinds


def call_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    """call.started for a call seen the first time, call.ended when it ends, call.matched
    when its visit (or how it was matched) is new. Calls out are never matched."""
    kinds = []
    if before is None:
        kinds.append("call.started")
    if after["state"] == "ended" and (before is None or before["state"] != "ended"):
        kinds.append("call.ended")
    method = after["match_method"]
    if method not in _UNMATCHED and (
        before is None
        or before["session_id"] != after["session_id"]
        or before["match_method"] != method
    ):
        kinds.append("call.matched")
    return kinds


def call_payload(conn: Connection, call: Mapping[str, Any]) -> Row:
    session = outbox_repo.session_of(conn, call["session_id"]) if call["session_id"] else None
    return {"call": call_view(call), "attribution": attribution(call, session)}


def call_view(call: Mapping[str, Any]) -> Row:
    return {
        "id": call["id"],
        "site_id": call["site_id"],
        "direction": call.get("direction", "inbound"),
        "state": call["state"],
        "status": call["status"],
        "caller": call["caller"],
        "tracking_number": call["tracking_number"],
        "forward_to": call.get("forward_to"),
        "started_at": iso(call["started_at"]),
        "answered_at": iso(call["answered_at"]),
        "ended_at": iso(call["ended_at"]),
        "duration": call["duration"],
        "talk": call["talk"],
        "wait": call["wait"],
        "recording_url": call.get("recording_url"),
    }


def attribution(call: Mapping[str, Any], session: Mapping[str, Any] | None) -> Row:
    """How the call was matched, to which channel and visit."""
    return {
        "method": call["match_method"],
        "confidence": call["confidence"],
        "repeat": bool(call["repeat"]),
        "first_call_id": call["first_call_id"],
        "visitor_id": call["visitor_id"],
        "channel": {
            "source": call["source"],
            "medium": call["medium"],
            "campaign": call["campaign"],
            "keyword": call["keyword"],
        },
        "session": session_view(session) if session else None,
    }


def session_view(session: Mapping[str, Any]) -> Row:
    return {
        "id": session["id"],
        "visitor_id": session["visitor_id"],
        "started_at": iso(session["started_at"]),
        "landing_url": session["landing_url"],
        "referrer": session["referrer"],
        "source": session["source"],
        "medium": session["medium"],
        "campaign": session["campaign"],
        "keyword": session["keyword"],
        "content": session["content"],
        "utm": dict(session["utm"] or {}),
        "click_ids": dict(session["click_ids"] or {}),
        "client_ids": dict(session["client_ids"] or {}),
        "device": session["device"],
        "country": session["country"],
        "region": session["region"],
        "city": session["city"],
        "visit_code": session["visit_code"],
    }


# ------------------------------------------------------------------ leads


def leads_saved(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]],
    now: float,
    takers_by_account: dict[int, list[Row]] | None = None,
) -> int:
    """Call before the leads are written: lead.created for a lead new to the table,
    lead.classified for one whose verdict changed; how many events. `takers_by_account`:
    `lead_takers` looked up beforehand (else now)."""
    calls_only = [r for r in rows if r["kind"] == "call"]
    by_account: dict[int, list[Mapping[str, Any]]] = {}
    for row in calls_only:
        by_account.setdefault(int(row["account_id"]), []).append(row)
    if takers_by_account is None:
        takers_by_account = lead_takers(conn, by_account)
    made = 0
    for account_id, mine in by_account.items():
        takers = takers_by_account.get(account_id)
        if not takers:
            continue
        old = outbox_repo.verdicts(conn, [str(r["id"]) for r in mine])
        for row in mine:
            kind = _lead_change(old.get(str(row["id"])), row)
            if kind is None:
                continue
            site_takers = [t for t in takers if _for_site(t, row["site_id"])]
            made += (
                emit(
                    conn,
                    account_id,
                    row["site_id"],
                    kind,
                    str(row["id"]),
                    lead_payload(conn, row),
                    now,
                    site_takers,
                )
                is not None
            )
    return made


def _for_site(taker: Mapping[str, Any], site_id: int) -> bool:
    return taker.get("site_id") is None or taker.get("site_id") == site_id


def _lead_change(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> str | None:
    if before is None:
        return "lead.created"
    if any(bool(before[k]) != bool(after[k]) for k in VERDICT):
        return "lead.classified"
    return None


def lead_payload(conn: Connection, lead: Mapping[str, Any]) -> Row:
    call = outbox_repo.call_of(conn, str(lead["call_id"]))
    payload: Row = {"lead": lead_view(lead)}
    if call is not None:
        payload.update(call_payload(conn, call))
    return payload


def lead_view(lead: Mapping[str, Any]) -> Row:
    return {
        "id": lead["id"],
        "kind": lead["kind"],
        "call_id": lead["call_id"],
        "site_id": lead["site_id"],
        "caller": lead["caller"],
        "started_at": iso(lead["started_at"]),
        **{k: bool(lead[k]) for k in VERDICT},
        "spam_score": lead.get("spam_score"),
        "spam_reason": lead.get("spam_reason"),
        "called_back_after": lead.get("called_back_after"),
        "recovered_after": lead.get("recovered_after"),
    }


# ------------------------------------------------------------------ deals


def deal_saved(
    conn: Connection, before: Mapping[str, Any] | None, after: Mapping[str, Any], now: float
) -> int | None:
    """deal.updated when a deal is new or its money, status or link changed."""
    watched = ("amount_cents", "currency", "status", "closed_at", "call_id", "visitor_id")
    if before is not None and all(before.get(k) == after.get(k) for k in watched):
        return None
    call = outbox_repo.call_of(conn, str(after["call_id"])) if after.get("call_id") else None
    session_id = (call or {}).get("session_id") or after.get("session_id")
    session = outbox_repo.session_of(conn, str(session_id)) if session_id else None
    payload: Row = {
        "deal": deal_view(after),
        "call": call_view(call) if call else None,
        "attribution": attribution(call, session) if call else _visit_only(session),
    }
    return emit(
        conn,
        int(after["account_id"]),
        after["site_id"],
        "deal.updated",
        str(after["id"]),
        payload,
        now,
    )


def _visit_only(session: Mapping[str, Any] | None) -> Row | None:
    if session is None:
        return None
    return {
        "method": "visit",
        "channel": {k: session[k] for k in ("source", "medium", "campaign", "keyword")},
        "visitor_id": session["visitor_id"],
        "session": session_view(session),
    }


def deal_view(deal: Mapping[str, Any]) -> Row:
    return {
        "id": deal["id"],
        "external_id": deal.get("external_id"),
        "title": deal.get("title"),
        "amount": amount_text(int(deal["amount_cents"])),
        "amount_cents": int(deal["amount_cents"]),
        "currency": deal["currency"],
        "status": deal["status"],
        "closed_at": iso(deal.get("closed_at")),
        "link": deal.get("link"),
        "call_id": deal.get("call_id"),
        "visitor_id": deal.get("visitor_id"),
        "caller": deal.get("caller"),
        "visit_code": deal.get("visit_code"),
    }


def iso(at: float | None) -> str | None:
    if at is None:
        return None
    return (
        datetime.fromtimestamp(float(at), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )
