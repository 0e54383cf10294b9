"""Leads: every call, and what it counts as by its site's rules (`domain/leads.py`).

A call's lead is written when the call is saved (`calls.apply` calls `after_save`), with
its caller's neighbouring calls, since a new call can change what they count as (a missed
call got through after all; a burst of silent calls). A rule change, or a block-list
change, is applied to history by `classify_period`: the verdicts are derived, the calls
themselves are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from sqlalchemy import Connection

from callpath.domain import phone
from callpath.domain.leads import Call, Rules, Verdict, classify
from callpath.services.site_input import NotFound, SetupError
from callpath.storage import lead_repo

Row = dict[str, Any]
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
    written = _classify(conn, site, rules, rows, since - reach, now)
    lead_repo.save(conn, [w for w in written if since <= w["started_at"] < until])
    return sum(1 for w in written if since <= w["started_at"] < until)


def after_save(conn: Connection, call: Mapping[str, Any], now: float) -> None:
    """The lead of a call just saved, and its caller's calls it may change."""
    site_id = call.get("site_id")
    if site_id is None:
        return  # a call to a number of no site: nobody's lead
    site = lead_repo.rules(conn, site_id)
    if site is None:
        return
    rules = Rules.of(site["lead_rules"])
    reach, t = rules.reach(), float(call["started_at"])
    if call.get("caller"):
        rows = lead_repo.caller_calls(conn, site_id, call["caller"], t - 2 * reach, t + 2 * reach)
    else:
        alone = lead_repo.call_facts(conn, call["id"])
        rows = [alone] if alone is not None else []
    written = _classify(conn, site, rules, rows, t - 2 * reach, now)
    lead_repo.save(conn, [w for w in written if abs(w["started_at"] - t) <= reach])


def _classify(
    conn: Connection, site: Row, rules: Rules, rows: list[Row], context_start: float, now: float
) -> list[Row]:
    """Leads of `rows` (calls in time order), each caller's calls judged together."""
    by_caller: dict[str | None, list[Row]] = {}
    for row in rows:
        by_caller.setdefault(row["caller"] or None, []).append(row)
    callers = [c for c in by_caller if c is not None]
    last = lead_repo.last_calls_before(conn, site["id"], callers, context_start)
    blocked = lead_repo.blocked(conn, site["account_id"], callers)
    leads: list[Row] = []
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
        leads += [_lead(site, r, v, now) for r, v in zip(calls, verdicts, strict=True)]
    return leads


def _facts(row: Row) -> Call:
    return Call(
        row["id"],
        float(row["started_at"]),
        row["ended_at"],
        bool(row["answered"]),
        float(row["talk"] or 0.0),
        ended=row["state"] == "ended",
    )


def _lead(site: Row, row: Row, v: Verdict, now: float) -> Row:
    return {
        "id": row["id"],
        "kind": "call",
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
