"""Every admin page, as a new user opens it on the demo's history, on a phone (390 px) and
on a laptop (1366 px): it answers 200, the page never scrolls sideways (wide tables
scroll in their own box), nothing logs an error, and the controls a thumb taps (buttons,
fields, the menu) are at least 40 px tall on the phone. A full-page screenshot of each
is kept under `var/test-artefacts/pages/` (or `$CALLPATH_TEST_ARTEFACTS/pages/`) for a
person to look at."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine, func, select

from callpath.services import deals
from callpath.storage.db import transaction
from callpath.storage.tables import calls, deliveries, sites, users
from tests.helpers import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = {"phone": (390, 844), "laptop": (1366, 768)}
TAP = 40  # px: the smallest control a thumb is asked to hit
TAPPED = (
    "button:visible, input:not([type=hidden]):not([type=checkbox]):not([type=radio]):visible,"
    " select:visible, textarea:visible, header a:visible"
)


@dataclass(frozen=True, slots=True)
class Demo:
    email: str
    password: str
    site_id: int
    call_id: str
    helper_id: int  # a second user of the demo's account
    reset: str  # the path of a password reset link of theirs
    hook_id: int  # a webhook of the account (to a receiver that is down)
    delivery_id: int  # a deal's delivery to it


def _artefacts() -> Path:
    base = Path(os.environ.get("CALLPATH_TEST_ARTEFACTS") or ROOT / "var" / "test-artefacts")
    out = base / "pages"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def demo(engine: Engine, server: ServerProcess, database_url: str) -> Demo:
    """`callpath demo` with its 60 days of history, as `scripts/run` seeds it."""
    env = {**os.environ, "CALLPATH_DATABASE_URL": database_url}
    done = _callpath(env, "demo")
    email = re.search(r"login:\s+(\S+)", done)
    password = re.search(r"password:\s+(\S+)", done)
    assert email and password, done
    helper = "helper@demo.example"
    _callpath(env, "user", "add", "--email", helper, "--role", "analyst")
    reset = re.search(
        r"(/app/reset/[\w-]+)", _callpath(env, "user", "reset-password", "--email", helper)
    )
    assert reset
    with engine.connect() as conn:
        site_id = conn.execute(select(sites.c.id).where(sites.c.key == "demo")).scalar_one()
        answered = (
            select(calls.c.id)
            .where(calls.c.site_id == site_id, calls.c.session_id.is_not(None))
            .order_by(calls.c.started_at.desc())
            .limit(1)
        )
        call_id = conn.execute(answered).scalar_one()
        helper_id = conn.execute(select(users.c.id).where(users.c.email == helper)).scalar_one()
    hook_id, delivery_id = _webhook(engine, env, site_id, str(call_id))
    return Demo(
        email.group(1),
        password.group(1),
        site_id,
        str(call_id),
        helper_id,
        reset[1],
        hook_id,
        delivery_id,
    )


def _webhook(engine: Engine, env: dict[str, str], site_id: int, call_id: str) -> tuple[int, int]:
    """A webhook to a receiver that is down, and a won deal of a call queued for it."""
    with engine.connect() as conn:
        account = conn.execute(select(sites.c.account_id).where(sites.c.id == site_id)).scalar_one()
    added = _callpath(
        env,
        "webhook", "add", "--account", str(account), "--url", "http://127.0.0.1:9/callpath",
        "--events", "all", "--allow-private", "--name", "Office CRM",
    )  # fmt: skip
    deal = deals.DealInput(amount="48000", status="won", external_id="crm-77", call_id=call_id)
    with transaction(engine) as conn:
        deals.record(conn, int(account), deal, time.time())
    with engine.connect() as conn:
        delivery = conn.execute(select(func.max(deliveries.c.id))).scalar_one()
    return int(added.split()[1]), int(delivery)


def _callpath(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "callpath", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _pages(d: Demo) -> dict[str, str]:
    """Name -> address of every admin page a user of the demo can open."""
    return {
        "login": "/app/login",
        "sites": "/app",
        "site": f"/app/sites/{d.site_id}",
        "pool": f"/app/sites/{d.site_id}/pool",
        "calls": "/app/calls",
        "call": f"/app/calls/{d.call_id}",
        "reports": f"/app/reports?site={d.site_id}",
        "reports-campaigns": f"/app/reports?site={d.site_id}&group=campaign",
        "reports-all-sites": "/app/reports?site=all",
        "call-center": f"/app/reports/call-center?site={d.site_id}",
        "journey": f"/app/reports/journey?call={d.call_id}",
        "deals": "/app/deals",
        "tokens": "/app/tokens",
        "users": "/app/users",
        "users-reset-password": f"/app/users/{d.helper_id}/reset-password",
        "me": "/app/me",
        "webhooks": "/app/webhooks",
        "webhook": f"/app/webhooks/{d.hook_id}",
        "webhook-delivery": f"/app/webhooks/{d.hook_id}/deliveries/{d.delivery_id}",
        "webhook-remove": f"/app/webhooks/{d.hook_id}/remove",
        "demo": "/demo",
        "reset-password": d.reset,
    }


@pytest.fixture(params=list(WIDTHS))
def device(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[str, Page]]:
    width, height = WIDTHS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    yield request.param, context.new_page()
    context.close()


def _log_in(page: Page, base: str, d: Demo) -> None:
    page.goto(f"{base}/app/login")
    page.fill("input[name=email]", d.email)
    page.fill("input[name=password]", d.password)
    with page.expect_navigation():
        page.click("button[type=submit], input[type=submit]")
    assert "/app/login" not in page.url, page.content()[:500]


def _fit(page: Page) -> dict[str, Any]:
    return dict(
        page.evaluate(
            "() => ({page: document.documentElement.scrollWidth, view: window.innerWidth})"
        )
    )


def _small_targets(page: Page) -> list[str]:
    small = []
    for handle in page.locator(TAPPED).element_handles():
        box = handle.bounding_box()
        if box and box["height"] < TAP - 0.5:
            small.append(
                f"{handle.evaluate('e => e.outerHTML.slice(0, 80)')} {box['height']:.0f}px"
            )
    return small


def _check(page: Page, size: str, errors: list[str]) -> list[str]:
    found = []
    fit = _fit(page)
    if fit["page"] > fit["view"]:
        found.append(f"scrolls sideways: {fit['page']} px wide in {fit['view']} px")
    if size == "phone":
        found += [f"small tap target: {s}" for s in _small_targets(page)]
    found += [f"console: {e}" for e in errors]
    errors.clear()
    return found


def test_every_page_fits_the_screen(
    device: tuple[str, Page], server: ServerProcess, demo: Demo
) -> None:
    size, page = device
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    out = _artefacts()
    problems: dict[str, list[str]] = {}
    for name, path in _pages(demo).items():
        if name != "login" and "/app/login" in page.url:
            _log_in(page, server.url, demo)
        answer = page.goto(server.url + path)
        assert answer is not None and answer.status == 200, (name, answer and answer.status)
        page.wait_for_load_state("load")
        page.screenshot(path=str(out / f"{name}-{size}.png"), full_page=True)
        found = _check(page, size, errors)
        if found:
            problems[name] = found
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())
