"""The overview of every site of the account (`/app/reports?site=all`): each site's key
figures for the period against the previous one, and totals per currency (money in
different currencies is never added up)."""

from __future__ import annotations

from typing import Any

from callpath.domain import report_metrics as metrics
from callpath.services import auth
from callpath.web import report_query
from callpath.web.reports_view import KPIS, change

ALL = "all"


def summary(
    engine: Any,
    who: auth.Principal,
    sites: list[dict[str, Any]],
    params: dict[str, str],
    previous: Any,
) -> dict[str, Any]:
    """{"rows": one per site, "totals": one per currency, "head": the first site's
    period}; `previous(params, head)` gives the parameters of the period before."""
    rows, head = [], None
    for site in sites:
        asked = {**params, "site": str(site["id"])}
        head_now, now, _ = report_query.run(engine, who, "channels", asked)
        _, before, _ = report_query.run(engine, who, "channels", previous(asked, head_now))
        head = head or head_now
        rows.append(
            {
                "site": head_now["site"],
                "totals": now["totals"],
                "change": {name: change(now, before, name) for name, _ in KPIS},
            }
        )
    return {"rows": rows, "totals": _per_currency(rows), "head": head}


def _per_currency(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    summed: dict[str, metrics.Measures] = {}
    for row in rows:
        total = summed.setdefault(row["site"]["currency"], metrics.empty(True))
        metrics.add(total, {k: row["totals"].get(k) for k in (*metrics.ADDITIVE, "cost")})
    return [{"currency": c, "totals": metrics.derive(m)} for c, m in sorted(summed.items())]
