"""Leads: every call, and what it counts as by its site's rules (`domain/leads.py`).

A call's lead is written shortly after the call is saved (`classify_due`, run by the apply
process and the call worker between their rounds, in batches: never inside a call's own
save, so routing and folding do not wait on it), with its caller's neighbouring calls,
since a new call can change what they count as (a missed call got through after all; a
burst of silent calls). A rule change, or a block-list change, is applied to history by
`classify_period`: the verdicts are derived, the calls themselves are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from sqlalchemy import Connection, Engine

from callpath.domain import phone
from callpath.domain.attribution import MODELS, Touch, shares
from callpath.domain.channel import NOT_SET
from callpath.domain.leads import DAY, Call, Rules, Verdict, classify
from callpath.services import outbox
from callpath.services.site_input import NotFound, SetupError
from callpath.storage import lead_repo
from callpath.storage.db import transaction

Row = dict[str, Any]
Clock = Callable[[], float]
DUE_BATCH = 25  # calls classified in one round (its writes: one short transaction)
DUE_LOOK_BACK = 7 * 86_400.0  # a call changed longer ago than this is left to `classify_period`
NEIGHBOURS = 200  # of a caller's calls around the due ones, at most this many are judged
RULE_NAMES = tuple(f.name for f in fields(Rules))


def rules_for(conn: Connection, account_id: int, site_id: int) -> Rules:
    return Rules.of(_site(conn, account_id, site_id)["lead_rules"])


def set_rules(conn: Connection, account_id: int, site_id: int, given: Mapping[str, Any]) -> Rules:
    """Change the rules named in `given` (the others keep their values). Classifying
    history again is a separate step (`classify_period`), for the period the user picks."""
    unknown = sorted(set(given) - set(RULE_NAMES))
    if unknown:
        raise SetupError(f"{unknown[0]}: not a lead rule (rules: {', '.join(RULE_NAMES)})")
    current = rules_for(conn, account_id, site_id)
    try:
        rules = Rules.of({**current.as_dict(), **given})
    except (TypeError, ValueError) as exc:
        raise SetupError(str(exc)) from exc
    lead_repo.set_rules(conn, site_id, rules.as_dict())
    return rules


def classify_period(
    conn: Connection, account_id: int, site_id: int, since: float, until: float, now: float
) -> int:
    """Classify the site's calls started in [since, until) again; how many."""
    site = _site(conn, account_id, site_id)
    rules = Rules.of(site["lead_rules"])
    reach = rules.reach()
    rows = lead_repo.calls_between(conn, site_id, since - reach, until + reach)
    judged = _classify(conn, site, rules, rows, since - reach, now)
    kept = [(lead, call) for lead, call in judged if since <= lead["started_at"] < until]
    _save(conn, site, rules, kept, now)
    return len(kept)


def classify_due(engine: Engine, clock: Clock, limit: int = DUE_BATCH) -> int:
    """Classify the calls saved since their lead was (or that have none), with their
    callers' calls a new one may change; how many were due. Everything is read first
    (no write lock: SQLite's readers do not hold up its writer), then written in one
    short transaction of a few bulk statements, so routing's writes wait on it for
    milliseconds at most. Runs after the apply process's and the call worker's rounds,
    never inside a call's own save. A call changed after `now` is due again next time
    (its `updated_at` is newer than the lead's `classified_at`)."""
    now = clock()
    with transaction(engine, write=False) as conn:
        due = lead_repo.due_calls(conn, now - DUE_LOOK_BACK, limit)
        if not due:
            return 0
        by_site: dict[int, list[Row]] = {}
        for row in due:
            by_site.setdefault(int(row["site_id"]), []).append(row)
        leads: list[Row] = []
        credited: list[str] = []
        credits: list[Row] = []
        for site_id, rows in by_site.items():
            site_leads, site_credited, site_credits = _judge_site_due(conn, site_id, rows, now)
            leads += site_leads
            credited += site_credited
            credits += site_credits
        takers = outbox.lead_takers(conn, {int(lead["account_id"]) for lead in leads})
    with transaction(engine) as conn:
        outbox.leads_saved(conn, leads, now, takers)
        lead_repo.save(conn, leads)
        lead_repo.save_credits(conn, credited, credits)
    return len(due)


def _judge_site_due(
    conn: Connection, site_id: int, due: list[Row], now: float
) -> tuple[list[Row], list[str], list[Row]]:
    """The leads to write (the due calls and the neighbours they may change), the ids
    whose credits are recomputed (the due calls), and those credits. Reads only."""
    site = lead_repo.rules(conn, site_id)
    if site is None:
        return [], [], []
    rules = Rules.of(site["lead_rules"])
    reach = rules.reach()
    judged: dict[str, Row] = {}
    credited: list[str] = []
    credits: list[Row] = []
    for caller, calls in _by_caller(due).items():
        times = [float(c["started_at"]) for c in calls]
        if caller is None:
            rows = calls
        else:
            since, until = min(times) - 2 * reach, max(times) + 2 * reach
            rows = lead_repo.caller_calls_near(
                conn, site_id, caller, since, until, NEIGHBOURS + len(calls)
            )
        wanted = {c["id"] for c in calls}
        for lead, call in _classify(conn, site, rules, rows, min(times) - 2 * reach, now):
            t = lead["started_at"]
            if lead["id"] in wanted:
                credited.append(lead["id"])
                credits += _credits(conn, site, rules, call) if lead["kind"] == "call" else []
            if lead["id"] in wanted or any(abs(t - u) <= reach for u in times):
                judged[lead["id"]] = lead
    return list(judged.values()), credited, credits


def _by_caller(rows: list[Row]) -> dict[str | None, list[Row]]:
    grouped: dict[str | None, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row["caller"] or None, []).append(row)
    return grouped


def _save(
    conn: Connection, site: Row, rules: Rules, judged: list[tuple[Row, Row]], now: float
) -> None:
    """The leads, and their credit under every attribution model."""
    rows = [lead for lead, _call in judged]
    outbox.leads_saved(conn, rows, now)
    lead_repo.save(conn, rows)
    credits = [
        row
        for lead, call in judged
        if lead["kind"] == "call"
        for row in _credits(conn, site, rules, call)
    ]
    lead_repo.save_credits(conn, [lead["id"] for lead, _call in judged], credits)


def _credits(conn: Connection, site: Row, rules: Rules, call: Row) -> list[Row]:
    """The call's journey (its visitor's visits, and those of the caller's other devices,
    within the lookback) credited by each model. A call matched to no visit has one touch:
    its own channel (a static number's), or "(not set)"."""
    at = float(call["started_at"])
    since = at - rules.lookback_days * DAY
    visitors = {call["visitor_id"]} if call["visitor_id"] else set()
    if call["caller"]:
        visitors |= lead_repo.caller_visitors(conn, site["id"], call["caller"], since, at + 1)
    visits = lead_repo.journey(conn, site["id"], visitors, since, at + 1)
    touches = [
        Touch(v["started_at"], v["source"], v["medium"], v["campaign"], v["keyword"], v["id"])
        for v in visits
    ] or [
        Touch(
            at,
            call["source"] or NOT_SET,
            call["medium"] or NOT_SET,
            call["campaign"],
            call["keyword"],
        )
    ]
    rows = []
    for model in MODELS:
        for n, (touch, share) in enumerate(
            zip(touches, shares(touches, model, at, rules.half_life_days), strict=True)
        ):
            if share > 0:
                rows.append(
                    {
                        "lead_id": call["id"],
                        "model": model,
                        "n": n,
                        "session_id": touch.session_id,
                        "at": touch.at,
                        "source": touch.source,
                        "medium": touch.medium,
                        "campaign": touch.campaign,
                        "keyword": touch.keyword,
                        "share": share,
                    }
                )
    return rows


def _classify(
    conn: Connection, site: Row, rules: Rules, rows: list[Row], context_start: float, now: float
) -> list[tuple[Row, Row]]:
    """Leads of `rows` (calls in time order), each caller's calls judged together; each
    with its call."""
    by_caller: dict[str | None, list[Row]] = {}
    for row in rows:
        by_caller.setdefault(row["caller"] or None, []).append(row)
    callers = [c for c in by_caller if c is not None]
    last = lead_repo.last_calls_before(conn, site["id"], callers, context_start)
    blocked = lead_repo.blocked(conn, site["account_id"], callers)
    leads: list[tuple[Row, Row]] = []
    for caller, calls in by_caller.items():
        facts = [_facts(r) for r in calls]
        if caller is None:  # no caller id: each call alone
            verdicts = [classify([f], rules, known_caller=False)[0] for f in facts]
        else:
            verdicts = classify(
                facts,
                rules,
                known_caller=True,
                blocked=caller in blocked,
                last_before=last.get(caller),
            )
        leads += [(_lead(site, r, v, now), r) for r, v in zip(calls, verdicts, strict=True)]
    return leads


def _facts(row: Row) -> Call:
    return Call(
        row["id"],
        float(row["started_at"]),
        row["ended_at"],
        bool(row["answered"]),
        float(row["talk"] or 0.0),
        ended=row["state"] == "ended",
        outbound=row["direction"] == "outbound",
    )


def _lead(site: Row, row: Row, v: Verdict, now: float) -> Row:
    return {
        "id": row["id"],
        "kind": "outbound" if row["direction"] == "outbound" else "call",  # outbound: no lead
        "account_id": site["account_id"],
        "site_id": site["id"],
        "call_id": row["id"],
        "started_at": row["started_at"],
        "caller": row["caller"],
        "first_time": v.first_time,
        "target": v.target,
        "missed": v.missed,
        "abandoned": v.abandoned,
        "lost": v.lost,
        "recovered_after": v.recovered_after,
        "called_back_after": v.called_back_after,
        "spam": v.spam,
        "spam_score": v.spam_score,
        "spam_reason": v.spam_reason,
        "classified_at": now,
    }


def _site(conn: Connection, account_id: int, site_id: int) -> Row:
    site = lead_repo.rules(conn, site_id)
    if site is None or site["account_id"] != account_id:
        raise NotFound(f"no site {site_id} in this account")
    return site


def block(conn: Connection, account_id: int, number: str, note: str | None, now: float) -> str:
    """Put a number on the account's block list (its calls are spam from the next
    classification on); its E.164 form."""
    e164 = phone.try_e164(number.strip(), "ZZ")
    if e164 is None:
        raise SetupError(f"number: give it in international form (+CC…), not {number[:40]!r}")
    lead_repo.block(conn, account_id, e164, (note or "").strip()[:200] or None, now)
    return e164
