"""REST API for ad spend: import a file (its raw text as the body), read it back by day."""

from __future__ import annotations

import re
import time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from callpath.domain.costs import FORMATS
from callpath.domain.deals import amount_text
from callpath.services import auth, costs
from callpath.storage import cost_repo
from callpath.storage.db import transaction
from callpath.web.auth import ApiUser
from callpath.web.bodies import read_limited
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.params import PathId, known_query
from callpath.web.responses import ERRORS, CostImport, Costs
from callpath.web.scope import owned_site

router = APIRouter(
    prefix="/api/v1/sites/{site_id}/costs",
    tags=["costs"],
    dependencies=[Depends(known_query)],
    responses=ERRORS,
)
MAX_BODY = 10 * 1024 * 1024
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
Format = Annotated[str, Query(pattern=f"^({'|'.join(FORMATS)})$")]
_TEXT = {"schema": {"type": "string"}}
SPEND_FILE = {  # the body is read raw, so the document is told what it is
    "requestBody": {
        "required": True,
        "description": "The spend file as UTF-8 text: CSV, or TSV for Yandex Direct",
        "content": {"text/csv": _TEXT, "text/tab-separated-values": _TEXT, "text/plain": _TEXT},
    }
}


def _may(who: auth.Principal, roles: tuple[str, ...], what: str) -> None:
    if who.role not in roles:
        raise ClientError(403, f"only {', '.join(roles)} and their API tokens {what}")


@router.post(
    "",
    summary="Import a spend file (the body, UTF-8): all rows or none",
    response_model=CostImport,
    openapi_extra=SPEND_FILE,
)
async def import_costs(
    site_id: PathId,
    request: Request,
    who: ApiUser,
    format: Format = "csv",
    micros: bool = False,
    vat: Annotated[str | None, Query(max_length=10)] = None,
    rate: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    """`micros`: Direct money in micros; `vat`: the amounts exclude VAT at this percent;
    `rate=USD=92.5` (repeatable): rows in another currency, converted. The file's days
    replace what an earlier file of the same format said about them."""
    _may(who, auth.MANAGERS, "import costs")
    raw = await read_limited(request, MAX_BODY)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ClientError(400, "the body is not UTF-8 text") from None
    rates = {_code(r): _number(r.partition("=")[2], "rate") for r in rate or []}
    vat_percent = _number(vat, "vat") if vat else None
    # Parsing a large file and writing it must not hold up the event loop that answers
    # routing and the tracker: a thread does it.
    done = await run_in_threadpool(
        _import,
        ctx(request).engine,
        who.account_id,
        site_id,
        text,
        format,
        micros,
        vat_percent,
        rates,
    )
    return {
        "rows": done.rows,
        "from": done.first,
        "to": done.last,
        "total": amount_text(done.total_cents),
        "currency": done.currency,
        "replaced": done.replaced,
    }


@router.get(
    "", summary="Spend per day and channel (source, medium, campaign)", response_model=Costs
)
def list_costs(
    site_id: PathId,
    request: Request,
    who: ApiUser,
    start: Annotated[str, Query(alias="from", max_length=10)],
    end: Annotated[str, Query(alias="to", max_length=10)],
) -> dict[str, Any]:
    _may(who, auth.PLANNERS, "read costs")
    if not (_DAY.fullmatch(start) and _DAY.fullmatch(end)) or end < start:
        raise ClientError(400, "from, to: days (YYYY-MM-DD), to on or after from")
    with transaction(ctx(request).engine, write=False) as conn:
        site = owned_site(conn, who.account_id, site_id)
        rows = cost_repo.daily(conn, site_id, start, end)
    items = [
        {
            **{k: r[k] for k in ("day", "source", "medium", "campaign", "clicks")},
            "amount": amount_text(int(r["amount_cents"])),
        }
        for r in rows
    ]
    return {"currency": site["currency"], "items": items}


def _import(
    engine: Engine,
    account_id: int,
    site_id: int,
    text: str,
    fmt: str,
    micros: bool,
    vat_percent: Decimal | None,
    rates: dict[str, Decimal],
) -> costs.Imported:
    with transaction(engine) as conn:
        return costs.import_file(
            conn,
            account_id,
            site_id,
            text,
            fmt,
            time.time(),
            micros=micros,
            vat_percent=vat_percent,
            rates=rates,
        )


def _code(item: str) -> str:
    code = item.partition("=")[0].strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ClientError(400, f"rate {item[:20]!r}: CUR=RATE, such as USD=92.5")
    return code


def _number(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ClientError(400, f"{what}: {text[:20]!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise ClientError(400, f"{what}: a number above 0")
    return value
