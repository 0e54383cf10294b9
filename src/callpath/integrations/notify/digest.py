"""Digests: the overview's figures of yesterday (daily) or of the last Monday-to-Sunday
(weekly, on Mondays), queued for each notification destination that asked, once a local
day at its `digest_at` time (`domain.notify.digests_due`).

The figures are the reports engine's, as the overview shows them (the default model's
calls, target calls, missed, leads, revenue, spend; lost from the call-center report),
taken when the digest is queued, per site: the destination's site, or each of the
account's sites. `queue_due` is run by the delivery process between its rounds; a day's
digest is queued once however many processes try (`services.notify.queue_digest`)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from callpath.domain import notify as rules
from callpath.domain.attribution import DEFAULT_MODEL
from callpath.reports import analytics, call_center
from callpath.reports.dimensions import TOTAL
from callpath.reports.measures import Scope
from callpath.reports.period import Period
from callpath.services import notify
from callpath.storage import outbox_repo, site_repo
from callpath.storage.db import transaction

log = logging.getLogger("callpath.notify")
Row = dict[str, Any]


def figures(conn: Connection, site: Row, first: date, last: date) -> Row:
    """One site's overview figures for its local days [first, last]."""
    period = Period(str(site["timezone"]), first, last, conn.dialect.name)
    scope = Scope(int(site["id"]), str(site["currency"]), period, DEFAULT_MODEL, {})
    totals = analytics.breakdown(conn, scope, TOTAL, analytics.Shape()).totals or {}
    center = call_center.report(conn, int(site["id"]), period)["summary"]
    return {
        "site_id": site["id"],
        "name": site["name"],
        "currency": site["currency"],
        **{name: _n(totals.get(name)) for name in ("calls", "target", "missed", "leads")},
        "lost": center["lost"],
        "revenue": _n(totals.get("revenue")),
        "cost": None if totals.get("cost") is None else _n(totals.get("cost")),
    }


def payload(conn: Connection, destination: Row, digest: rules.Digest) -> Row:
    account_id = int(destination["account_id"])
    if destination["site_id"] is not None:
        site = site_repo.site_row(conn, site_id=int(destination["site_id"]))
        sites = [site] if site is not None else []
    else:
        sites = site_repo.list_sites(conn, account_id)
    return {
        "type": rules.DIGEST,
        "kind": digest.kind,
        "from": digest.first.isoformat(),
        "to": digest.last.isoformat(),
        "sites": [figures(conn, s, digest.first, digest.last) for s in sites],
    }


def queue_due(engine: Engine, now: float) -> int:
    """Queue the digests due now that are not queued yet; how many were."""
    with transaction(engine, write=False) as conn:
        wanted = [
            d
            for d in outbox_repo.of_kinds(conn, rules.KINDS)
            if any(n.startswith("digest_") for n in rules.Config.of(d["config"]).on)
        ]
    queued = 0
    for destination in wanted:
        try:
            queued += _queue_one(engine, destination, now)
        except Exception:  # one destination's bad data must not stop the others' digests
            log.exception("digest for destination %s", destination["id"])
    return queued


def _queue_one(engine: Engine, destination: Row, now: float) -> int:
    config = rules.Config.of(destination["config"])
    with transaction(engine, write=False) as conn:
        zone = notify.zone_of(conn, int(destination["account_id"]), destination["site_id"])
        local = datetime.fromtimestamp(now, ZoneInfo(zone))
        due = [
            (d, payload(conn, destination, d))
            for d in rules.digests_due(config, local)
            if not notify.digest_sent(conn, int(destination["id"]), d.mark)
        ]
    made = 0
    for digest, body in due:
        made += notify.queue_digest(engine, destination, digest.mark, body, now) is not None
    return made


def _n(value: Any) -> float:
    return round(float(value or 0.0), 2)
