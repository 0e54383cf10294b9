"""Importing ad spend: a whole file or nothing, and a period imported again replaces that
period (of the same kind of file) instead of adding to it.

Money is kept in the site's currency. A row in another currency needs the rate given at
import (`rates`: how many of the site's currency one unit is worth); a file with such a row
and no rate is refused, never summed as if it were the site's. `vat_percent`: the file's
amounts exclude VAT, which is added (costs are kept as paid).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from callpath.domain import costs
from callpath.services.site_input import NotFound, SetupError
from callpath.storage import cost_repo, site_repo


@dataclass(frozen=True, slots=True)
class Imported:
    rows: int
    first: str
    last: str
    total_cents: int
    replaced: int  # rows of the same days and kind that the file replaced
    currency: str


def import_file(
    conn: Connection,
    account_id: int,
    site_id: int,
    text: str,
    fmt: str,
    now: float,
    *,
    micros: bool = False,
    vat_percent: Decimal | None = None,
    rates: Mapping[str, Decimal] | None = None,
) -> Imported:
    site = site_repo.site_row(conn, site_id=site_id)
    if site is None or site["account_id"] != account_id:
        raise NotFound(f"no site {site_id} in this account")
    if vat_percent is not None and not Decimal(0) <= vat_percent <= Decimal(100):
        raise SetupError("vat: a percentage 0..100")
    try:
        parsed = costs.parse(text, fmt, micros=micros)
        values = [_values(r, site, fmt, vat_percent, rates or {}, now) for r in parsed]
    except costs.CostError as exc:
        raise SetupError(str(exc)) from exc
    days = [str(v["day"]) for v in values]
    first, last = min(days), max(days)
    replaced = cost_repo.replace(conn, site_id, fmt, first, last, values)
    total = sum(int(v["amount_cents"]) for v in values)
    return Imported(len(values), first, last, total, replaced, site["currency"])


def _values(
    row: costs.CostRow,
    site: dict[str, Any],
    fmt: str,
    vat: Decimal | None,
    rates: Mapping[str, Decimal],
    now: float,
) -> dict[str, Any]:
    amount = row.amount
    if row.currency is not None and row.currency != site["currency"]:
        rate = rates.get(row.currency)
        if rate is None:
            raise costs.CostError(
                f"line {row.line}: {row.currency} is not the site's {site['currency']}:"
                f" give its rate (--rate {row.currency}=…)"
            )
        amount = amount * rate
    if vat is not None:
        amount = amount * (1 + vat / 100)
    return {
        "account_id": site["account_id"],
        "site_id": site["id"],
        "origin": fmt,
        "day": row.day.isoformat(),
        "source": row.source,
        "medium": row.medium,
        "campaign": row.campaign,
        "term": row.term,
        "content": row.content,
        "amount_cents": costs.cents(amount),
        "clicks": row.clicks,
        "imported_at": now,
    }
