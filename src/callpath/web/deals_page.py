"""The deals page (`/app/deals`): the account's latest deals, whatever linked them (a
call, a visit code, the caller's phone, a visitor id), each with the way to its
buyer's journey. Owners, admins and analysts: operators see no money."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from callpath.domain.deals import STATUSES, amount_text
from callpath.services import auth
from callpath.storage import deal_repo, site_repo
from callpath.storage.db import transaction
from callpath.web.auth import PageUser
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.pages import render
from callpath.web.params import QueryId

router = APIRouter(prefix="/app/deals", include_in_schema=False)
SHOWN = 200


@router.get("")
def deals_page(
    request: Request, who: PageUser, site: QueryId = None, status: str | None = None
) -> HTMLResponse:
    if who.role not in auth.PLANNERS:
        raise ClientError(403, "deals show money: owners, admins and analysts")
    if status is not None and status not in STATUSES:
        raise ClientError(400, f"status: one of {', '.join(STATUSES)}")
    with transaction(ctx(request).engine, write=False) as conn:
        rows = deal_repo.newest(conn, who.account_id, site_id=site, status=status, limit=SHOWN)
        sites = site_repo.list_sites(conn, who.account_id)
    for row in rows:
        row["amount_text"] = amount_text(row["amount_cents"])
    return render(
        request,
        "deals.html",
        who=who,
        deals=rows,
        sites=sites,
        statuses=STATUSES,
        form={"site": site, "status": status},
        shown=SHOWN,
    )
