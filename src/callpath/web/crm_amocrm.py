"""amoCRM's webhook (`POST /hooks/amocrm/{destination}/{token}`): its leads' stage and
price changes recorded as deals (`integrations.amocrm.inbound`).

amoCRM does not sign webhooks, so the random token in the URL (`callpath amocrm
connect` prints it) is the credential: an unknown destination or a wrong token is 401,
compared in constant time, before anything is read into the database. A form that is
not amoCRM's is 400 with the reason; one about other entities only is 200, recorded
nothing (amoCRM would retry an error, then switch the webhook off)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from callpath.integrations.amocrm import inbound, status_hook
from callpath.storage.db import transaction
from callpath.web.bodies import read_limited
from callpath.web.context import Context, ctx
from callpath.web.dbcall import run_db
from callpath.web.edge_responses import HOOK_ERRORS
from callpath.web.errors import ClientError

router = APIRouter(prefix="/hooks/amocrm", tags=["crm"], responses=HOOK_ERRORS)
MAX_BODY = 262_144
NO_STORE = {"Cache-Control": "no-store"}


@router.post(
    "/{destination_id}/{token}",
    summary="amoCRM webhook: leads' status and price changes, recorded as deals",
)
async def lead_changes(destination_id: str, token: str, request: Request) -> JSONResponse:
    c = ctx(request)
    raw = await read_limited(request, MAX_BODY)
    changes: list[status_hook.LeadChange] | status_hook.BadForm
    try:
        changes = status_hook.parse(raw)
    except status_hook.BadForm as exc:
        changes = exc  # answered after the token: a stranger learns nothing of the form
    done = await run_db(c, _record, c, destination_id[:20], token[:100], changes)
    if done is None:
        raise ClientError(401, "unknown destination or wrong token")
    if isinstance(changes, status_hook.BadForm):
        raise ClientError(400, str(changes))
    return JSONResponse({"deals": done.deals, "ignored": done.ignored}, headers=NO_STORE)


def _record(c: Context, dest_id: str, token: str, changes: Any) -> inbound.Recorded | None:
    """None: not authorised. Checked without a write lock (a stranger's requests never
    hold up routing on SQLite)."""
    with transaction(c.engine, write=False) as conn:
        destination = inbound.authorised(conn, dest_id, token)
    if destination is None:
        return None
    if isinstance(changes, status_hook.BadForm) or not changes:
        return inbound.Recorded()
    with transaction(c.engine) as conn:
        return inbound.record(conn, destination, changes, time.time())
