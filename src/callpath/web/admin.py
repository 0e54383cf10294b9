"""Admin pages (`/app`): log in, see sites, their numbers and recent visits."""

from __future__ import annotations

import math
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from callpath.reports import live
from callpath.services import auth, setup
from callpath.services.auth import MANAGERS, Principal
from callpath.services.login_limits import Refusal
from callpath.storage import call_repo, site_repo
from callpath.storage.db import transaction
from callpath.telephony import PROVIDER_SECRET
from callpath.web import login_check
from callpath.web.auth import COOKIE, PageUser, current, set_login
from callpath.web.context import ctx
from callpath.web.forms import read_form
from callpath.web.pages import render
from callpath.web.params import PathId
from callpath.web.scope import owned_site

router = APIRouter(prefix="/app", include_in_schema=False)


def _base(request: Request) -> str:
    return ctx(request).settings.public_url or str(request.base_url).rstrip("/")


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html", who=None, error=None, email="")


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    """The password is checked off the event loop, and only within the failed-login
    limits (429 past them): a flood of guesses never delays calls or the tracker."""
    form = await read_form(request)
    email, password = form.get("email", "")[:254], form.get("password", "")[:1024]
    token = await login_check.log_in(request, email, password)
    if isinstance(token, Refusal):
        return login_check.refused(request, token, email)
    if token is None:
        return render(
            request,
            "login.html",
            status=401,
            who=None,
            error="Wrong e-mail or password.",
            email=email,
        )
    response = RedirectResponse("/app", status_code=303)
    set_login(request, response, token)
    return response


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    await read_form(request)  # the same-origin check: no logging out from another site
    token = request.cookies.get(COOKIE)
    if token:
        await run_in_threadpool(_close, ctx(request).engine, token)
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _close(engine: Engine, token: str) -> None:
    with transaction(engine) as conn:
        auth.close_session(conn, token)


@router.get("", response_model=None)
def home(request: Request) -> Response:
    who = current(request)
    if who is None:
        return RedirectResponse("/app/login", status_code=303)
    return sites_view(request, who)


@router.get("/sites")
def sites_list() -> RedirectResponse:
    """The sites are listed at /app; /app/sites takes the form that adds one, and someone
    who types it lands on the list."""
    return RedirectResponse("/app", status_code=303)


def sites_view(
    request: Request,
    who: Principal,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The account's sites; with `error`, why the add-a-site form was refused."""
    with transaction(ctx(request).engine, write=False) as conn:
        sites = site_repo.list_sites(conn, who.account_id)
    return render(
        request,
        "sites.html",
        status=status,
        who=who,
        sites=sites,
        base=_base(request),
        error=error,
        form=form,
        manager=who.role in MANAGERS,
    )


NEW_INTEGRATION = "cp_new_integration"  # names the integration whose secret to show once
SECRET_SHOWN_FOR = 600  # seconds after it was made


def new_integration_redirect(site_id: int, integration_id: str) -> RedirectResponse:
    """After an integration is added: to the site page, which shows its secret once."""
    response = RedirectResponse(f"/app/sites/{site_id}#new-integration", status_code=303)
    response.set_cookie(
        NEW_INTEGRATION,
        integration_id,
        max_age=SECRET_SHOWN_FOR,
        path=f"/app/sites/{site_id}",
        httponly=True,
        samesite="strict",
    )
    return response


@router.get("/sites/{site_id}")
def site_page(
    site_id: PathId, request: Request, who: PageUser, saved: bool = False
) -> HTMLResponse:
    made = _just_made(request, who, site_id)
    response = site_view(request, who, site_id, saved=saved, new_integration=made)
    if NEW_INTEGRATION in request.cookies:
        response.delete_cookie(NEW_INTEGRATION, path=f"/app/sites/{site_id}")
    return response


def _just_made(request: Request, who: Principal, site_id: int) -> setup.CreatedIntegration | None:
    """The integration the cookie names, if this site's, the account's and made in the last
    minutes, for a manager: its secret is shown once, on the page after the form."""
    given = request.cookies.get(NEW_INTEGRATION, "")[:40]
    if not given or who.role not in MANAGERS:
        return None
    with transaction(ctx(request).engine, write=False) as conn:
        try:
            row = setup.site_integration(conn, who.account_id, site_id, given)
        except setup.NotFound:
            return None
    if row["created_at"] < time.time() - SECRET_SHOWN_FOR:
        return None
    return setup.CreatedIntegration(row["id"], row["secret"], row["kind"], row["site_id"])


def site_view(
    request: Request,
    who: Principal,
    site_id: int,
    error: str | None = None,
    form: dict[str, str] | None = None,
    new_integration: setup.CreatedIntegration | None = None,
    settings_error: str | None = None,
    saved: bool = False,
) -> HTMLResponse:
    """The site page; with `error` (a number or integration form's) or `settings_error`,
    answered 400 and the form kept as typed. `saved`: the settings form just saved."""
    now = time.time()
    with transaction(ctx(request).engine, write=False) as conn:
        site = owned_site(conn, who.account_id, site_id)
        numbers = live.pool_state(conn, who.account_id, site_id, now, float(site["cooldown"]))
        sessions = live.recent_sessions(conn, who.account_id, site_id)
        exhausted = live.exhaustions(conn, who.account_id, site_id, now - 86_400)
        hooks = [
            i for i in call_repo.list_integrations(conn, who.account_id) if i["site_id"] == site_id
        ]
    zone = ZoneInfo(site["timezone"])
    for s in sessions:
        s["started"] = datetime.fromtimestamp(s["started_at"], zone).strftime("%Y-%m-%d %H:%M:%S")
    return render(
        request,
        "site.html",
        status=400 if error or settings_error else 200,
        who=who,
        site=site,
        numbers=numbers,
        sessions=sessions,
        exhausted=exhausted,
        no_destination=setup.no_destination(site),
        zone=zone.key,
        base=_base(request),
        error=error,
        settings_error=settings_error,
        saved=saved,
        settle=_settle(request),
        manager=who.role in MANAGERS,
        form=form or {},
        integrations=[
            {**i, "endpoint": endpoint(_base(request), i["kind"], i["id"])} for i in hooks
        ],
        integration_kinds=integration_kinds(),
        new_integration=new_integration,
        new_endpoint=endpoint(_base(request), new_integration.kind, new_integration.id)
        if new_integration
        else None,
    )


def _settle(request: Request) -> int:
    """Seconds until every process of a server uses a site's new settings: its site cache,
    and its route cache's integrations (read from the database once older than that)."""
    c = ctx(request)
    routes = min(c.settings.route_refresh_seconds, c.pipeline.integration_max_age)
    return math.ceil(max(c.settings.site_cache_seconds, routes))


# How the site page's integration form names each kind (a kind without one shows its key).
KIND_LABELS = {
    "generic": "Generic webhook (any phone system)",
    "sip": "Kamailio SIP edge (callpath sip config)",
    "asterisk": "Asterisk / FreePBX (callpath asterisk listen)",
    "twilio": "Twilio (the account's auth token)",
    "zadarma": "Zadarma (the API secret key)",
}


def integration_kinds() -> list[tuple[str, str]]:
    """The form's choices: every kind setup accepts, those that take the provider's
    secret marked."""
    return [
        (kind, KIND_LABELS.get(kind, kind) + (" *" if kind in PROVIDER_SECRET else ""))
        for kind in setup.INTEGRATION_KINDS
    ]


def endpoint(base: str, kind: str, integration_id: str) -> str:
    """Where an integration's phone system talks to callpath."""
    if kind == "sip":
        return f"{base}/hooks/sip/route?integration={integration_id} and {base}/hooks/sip/event"
    if kind == "asterisk":
        return f"none: run callpath asterisk listen --integration {integration_id}"
    return f"{base}/hooks/{kind}/{integration_id}"
