"""REST API for leads: what each call counts as, the site's rules for it, classifying
history again after a rule changes, and the account's spam block list."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ConfigDict, Field, StrictBool, StrictInt

from callpath.domain.attribution import DEFAULT_MODEL, MODELS
from callpath.domain.deals import amount_text
from callpath.services import auth, leads
from callpath.storage import deal_repo, lead_repo
from callpath.storage.db import transaction
from callpath.web.auth import ApiUser
from callpath.web.call_view import iso
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.filters import moment
from callpath.web.models import Inbound
from callpath.web.params import PathId, QueryId, known_query
from callpath.web.responses import (
    ERRORS,
    Blocked,
    BlockList,
    Classified,
    LeadPage,
    LeadRules,
    Unblocked,
)
from callpath.web.scope import owned_site

router = APIRouter(
    prefix="/api/v1", tags=["leads"], dependencies=[Depends(known_query)], responses=ERRORS
)
READERS = auth.PLANNERS  # owners, admins, analysts: callers' numbers and revenue
EDITORS = auth.MANAGERS  # owners and admins: the rules, classifying again, the block list


def _may(who: auth.Principal, roles: tuple[str, ...], what: str) -> None:
    if who.role not in roles:
        raise ClientError(403, f"only {', '.join(roles)} and their API tokens {what}")


class RulesIn(Inbound):
    """The rules to change; those not given keep their values. A name that is not a rule
    is refused (a typo must not pass for a change)."""

    model_config = ConfigDict(extra="forbid")

    unique_days: StrictInt | None = Field(default=None, ge=1, le=3650)
    target_talk: StrictInt | None = Field(default=None, ge=0, le=86_400)
    target_first_time_only: StrictBool | None = None
    abandoned_seconds: StrictInt | None = Field(default=None, ge=0, le=3600)
    callback_minutes: StrictInt | None = Field(default=None, ge=1, le=10_080)
    spam_burst_calls: StrictInt | None = Field(default=None, ge=2, le=1000)
    spam_burst_minutes: StrictInt | None = Field(default=None, ge=1, le=1440)
    lookback_days: StrictInt | None = Field(default=None, ge=1, le=365)
    half_life_days: StrictInt | None = Field(default=None, ge=1, le=90)


class PeriodIn(Inbound):
    start: str = Field(alias="from", max_length=40)
    end: str = Field(alias="to", max_length=40)


class BlockIn(Inbound):
    number: str = Field(max_length=40)
    note: str | None = Field(default=None, max_length=200)


@router.get(
    "/sites/{site_id}/lead-rules",
    summary="What a call of the site counts as",
    response_model=LeadRules,
)
def get_rules(site_id: PathId, request: Request, who: ApiUser) -> dict[str, Any]:
    _may(who, READERS, "read lead rules")
    with transaction(ctx(request).engine, write=False) as conn:
        return leads.rules_for(conn, who.account_id, site_id).as_dict()


@router.patch(
    "/sites/{site_id}/lead-rules",
    summary="Change the rules given; classify history again with .../leads/classify",
    response_model=LeadRules,
)
def change_rules(site_id: PathId, body: RulesIn, request: Request, who: ApiUser) -> dict[str, Any]:
    _may(who, EDITORS, "change lead rules")
    given = body.model_dump(exclude_unset=True)  # `"unique_days": null` is "ever"
    with transaction(ctx(request).engine) as conn:
        return leads.set_rules(conn, who.account_id, site_id, given).as_dict()


@router.post(
    "/sites/{site_id}/leads/classify",
    summary="Classify a period's calls again",
    response_model=Classified,
)
def classify(site_id: PathId, body: PeriodIn, request: Request, who: ApiUser) -> dict[str, Any]:
    """`from` and `to` are dates (the site's timezone; `to` counts whole) or ISO-8601 times
    with their offset."""
    _may(who, EDITORS, "classify leads")
    with transaction(ctx(request).engine) as conn:
        site = owned_site(conn, who.account_id, site_id)
        since = moment(body.start, site["timezone"])
        until = moment(body.end, site["timezone"], end=True)
        if since is None or until is None or until <= since:
            raise ClientError(400, "from, to: a period that ends after it starts")
        done = leads.classify_period(conn, who.account_id, site_id, since, until, time.time())
    return {"classified": done}


def _lead_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: row[k] for k in ("id", "kind", "site_id", "call_id", "caller", "spam_reason")},
        **{
            k: bool(row[k]) for k in ("first_time", "target", "missed", "abandoned", "lost", "spam")
        },
        "started_at": iso(row["started_at"]),
        "recovered_after": row["recovered_after"],
        "called_back_after": row["called_back_after"],
        "spam_score": round(float(row["spam_score"]), 3),
        "classified_at": iso(row["classified_at"]),
    }


Cursor = Annotated[str | None, Query(max_length=80)]
Limit = Annotated[int, Query(ge=1, le=500)]
Model = Annotated[str, Query(pattern=f"^({'|'.join(MODELS)})$")]


@router.get("/leads", summary="The account's leads, newest first", response_model=LeadPage)
def list_leads(
    request: Request,
    who: ApiUser,
    site_id: QueryId = None,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    model: Model = DEFAULT_MODEL,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """`from`/`to`: ISO-8601 times with their offset, or dates (UTC). Each lead comes
    with its credits under `model`: the touches of its journey and their shares."""
    _may(who, READERS, "read leads")
    after = _cursor(cursor)
    with transaction(ctx(request).engine, write=False) as conn:
        rows = lead_repo.page(
            conn,
            who.account_id,
            site_id,
            moment(start, "UTC"),
            moment(end, "UTC", end=True),
            after,
            limit + 1,
        )
        more, rows = len(rows) > limit, rows[:limit]
        credits = lead_repo.credits_of(conn, [r["id"] for r in rows], model)
        won = deal_repo.won_by_call(conn, who.account_id, [str(r["call_id"]) for r in rows])
    last = rows[-1] if rows else None
    by_lead: dict[str, list[dict[str, Any]]] = {}
    for credit in credits:
        by_lead.setdefault(credit["lead_id"], []).append(_credit_view(credit))
    return {
        "model": model,
        "items": [
            {
                **_lead_view(r),
                "value": _value(won.get(str(r["call_id"]))),
                "credits": by_lead.get(r["id"], []),
            }
            for r in rows
        ],
        "next_cursor": f"{last['started_at']!r}:{last['id']}" if more and last else None,
    }


def _value(cents: dict[str, int] | None) -> list[dict[str, str]]:
    """The won deals' amounts, per currency ("1234.50"): empty until a deal is won."""
    return [{"amount": amount_text(c), "currency": cur} for cur, c in sorted((cents or {}).items())]


def _credit_view(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("session_id", "source", "medium", "campaign", "keyword")
    return {**{k: row[k] for k in keys}, "at": iso(row["at"]), "share": round(row["share"], 6)}


def _cursor(text: str | None) -> tuple[float, str] | None:
    if text is None:
        return None
    stamp, _, lead_id = text.partition(":")
    try:
        return float(stamp), lead_id
    except ValueError:
        raise ClientError(400, "cursor: not a cursor this server gave out") from None


@router.get("/blocked-numbers", summary="The account's spam block list", response_model=BlockList)
def list_blocked(request: Request, who: ApiUser) -> dict[str, Any]:
    _may(who, EDITORS, "see the block list")
    with transaction(ctx(request).engine, write=False) as conn:
        rows = lead_repo.block_list(conn, who.account_id)
    items = [
        {"e164": r["e164"], "note": r["note"], "created_at": iso(r["created_at"])} for r in rows
    ]
    return {"items": items}


@router.post(
    "/blocked-numbers",
    status_code=201,
    summary="Block a number (its calls are spam)",
    response_model=Blocked,
)
def add_blocked(body: BlockIn, request: Request, who: ApiUser) -> dict[str, Any]:
    """Calls from the number count as spam from the next classification on: its new
    calls at once, history when a period is classified again."""
    _may(who, EDITORS, "change the block list")
    with transaction(ctx(request).engine) as conn:
        e164 = leads.block(conn, who.account_id, body.number, body.note, time.time())
    return {"number": e164}


@router.delete(
    "/blocked-numbers/{number}",
    summary="Take a number off the block list",
    response_model=Unblocked,
)
def remove_blocked(number: str, request: Request, who: ApiUser) -> dict[str, Any]:
    _may(who, EDITORS, "change the block list")
    with transaction(ctx(request).engine) as conn:
        removed = lead_repo.unblock(conn, who.account_id, number[:40])
    if not removed:
        raise ClientError(404, "that number is not on the block list")
    return {"number": number, "removed": True}
