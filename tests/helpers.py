"""Test helpers: seeding sites and numbers, running the real server in a subprocess."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Connection, Engine, func, select

from callpath.domain.pool import PoolSettings
from callpath.services import accounts, auth, setup
from callpath.storage.db import transaction
from callpath.telephony.generic import adapter as generic
from tests.served import Served
from tests.throwaway_pg import PgCluster as PgCluster  # re-exported: the tests' one import
from tests.throwaway_pg import free_port as free_port
from tests.throwaway_pg import postgres_bin

_numbers = itertools.count(1)


class Clock:
    """A virtual clock for the services (they read time only through it)."""

    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def next_number() -> str:
    """A fresh valid Moscow number for this test process (tables are wiped per test)."""
    return f"+7495{3_000_000 + next(_numbers):07d}"


@dataclass
class Seeded:
    account_id: int
    site_id: int
    key: str
    original: str
    default: str | None
    pool: list[str] = field(default_factory=list)
    static: dict[str, str] = field(default_factory=dict)


def seed_site(
    engine: Engine,
    *,
    pool_size: int = 5,
    original: str = "+74951096375",
    default: bool = True,
    statics: tuple[str, ...] = (),
    pool: PoolSettings | None = None,
    domains: tuple[str, ...] = (),
    excluded: tuple[str, ...] = (),
    account_id: int | None = None,
    default_number: str | None = None,
    pool_numbers: Sequence[str] | None = None,
    name: str = "Test site",
) -> Seeded:
    """An account (or `account_id`'s) with one site, its default number and `pool_size`
    pool numbers (fresh ones, or exactly `pool_numbers`): the tests' and the benchmarks'
    one way to make them."""
    now = time.time()
    with transaction(engine) as conn:
        account = account_id or accounts.create_account(conn, "Test account", now)
        site = setup.create_site(
            conn,
            account,
            setup.SiteInput(
                name=name,
                original_numbers=[original],
                domains=list(domains),
                default_destination=original,
                pool=pool or PoolSettings(),
                excluded_channels=list(excluded),
            ),
            now,
        )
        seeded = Seeded(account, int(site["id"]), str(site["key"]), original, None)
        if default:
            seeded.default = default_number or next_number()
            _add(conn, seeded, seeded.default, "default", None, now)
        for label in statics:
            seeded.static[label] = next_number()
            _add(conn, seeded, seeded.static[label], "static", label, now)
        for number in pool_numbers or [next_number() for _ in range(pool_size)]:
            seeded.pool.append(number)
            _add(conn, seeded, number, "pool", None, now)
    return seeded


def _add(
    conn: Connection, s: Seeded, number: str, kind: str, label: str | None, now: float
) -> None:
    setup.add_number(
        conn, s.account_id, s.site_id, setup.NumberInput(number=number, kind=kind, label=label), now
    )


class ServerProcess(Served):
    """`callpath serve` as a user runs it, on 127.0.0.1:`port`, logging to `log`.

    Stopped with SIGTERM and given longer than `serve` gives its apply process
    (`ApplierProcess.stop`, 30 s), so that process's last pass never runs on into the
    next test."""

    def __init__(
        self,
        database_url: str,
        port: int,
        log: Path,
        workers: int = 1,
        env: dict[str, str] | None = None,
        healthy: bool = True,
    ) -> None:
        cmd = [sys.executable, "-m", "callpath", "serve", "--port", str(port)]
        environment = {
            **os.environ,
            "CALLPATH_DATABASE_URL": database_url,
            "CALLPATH_SITE_CACHE_SECONDS": "0",
            "CALLPATH_SPOOL_DIR": str(log.parent / "spool"),
            **(env or {}),
        }
        # healthy False: ready once it answers at all (503 while its database is down)
        super().__init__(
            "callpath serve",
            [*cmd, "--workers", str(workers)],
            environment,
            port,
            log,
            ready=(200,) if healthy else (200, 503),
        )


@dataclass
class Hook:
    """A generic integration of a seeded site: where to post and how to sign."""

    integration_id: str
    secret: str

    @property
    def path(self) -> str:
        return f"/hooks/generic/{self.integration_id}"

    def headers(self, body: bytes, at: float | None = None) -> dict[str, str]:
        stamp = str(int(time.time() if at is None else at))
        return {
            "Content-Type": "application/json",
            "X-Callpath-Timestamp": stamp,
            "X-Callpath-Signature": generic.sign(self.secret, stamp, body),
        }

    def post(self, client: Any, event: dict[str, Any]) -> Any:
        """POST one signed event with an httpx-compatible client (TestClient or httpx)."""
        body = json.dumps(event).encode()
        return client.post(self.path, content=body, headers=self.headers(body))


def add_hook(engine: Engine, site: Seeded) -> Hook:
    with transaction(engine) as conn:
        made = setup.create_integration(
            conn, site.account_id, site.site_id, "generic", "test PBX", time.time()
        )
    return Hook(made.id, made.secret)


def iso(moment: float) -> str:
    """An ISO-8601 UTC time as a PBX would send it."""
    return datetime.fromtimestamp(moment, UTC).isoformat()


# Tests that start a PostgreSQL cluster of their own (to kill or stop it) are slow, and
# need the server's binaries.
OWN_CLUSTER = [
    pytest.mark.slow,
    pytest.mark.skipif(
        postgres_bin() is None, reason="needs PostgreSQL (scripts/test installs it)"
    ),
]


def count(engine: Engine, table: Any) -> int:
    """Rows in `table`."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def pending_calls(engine: Engine) -> set[str]:
    """Keys of the calls with events stored but not applied yet."""
    from callpath.storage.tables import call_events

    query = select(call_events.c.call_key).where(call_events.c.applied_at.is_(None))
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def call_row(engine: Engine) -> dict[str, Any]:
    """The one call stored (fails if there is not exactly one)."""
    from callpath.storage.tables import calls

    with engine.connect() as conn:
        return dict(conn.execute(select(calls)).one()._mapping)


def calls_by_provider_id(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every call stored, by the provider's id of it."""
    from callpath.storage.tables import calls

    with engine.connect() as conn:
        return {r.provider_call_id: dict(r._mapping) for r in conn.execute(select(calls))}


def classified_leads(engine: Engine) -> dict[str, dict[str, Any]]:
    """The leads rows by call id, once the calls saved meanwhile are classified (what the
    apply process does between its rounds)."""
    from callpath.services import leads as leads_service
    from callpath.storage.tables import leads

    leads_service.classify_due(engine, time.time)
    with engine.connect() as conn:
        return {r.call_id: dict(r._mapping) for r in conn.execute(select(leads))}


PASSWORD = "correct horse battery"


def add_login(engine: Engine, site: Seeded, role: str, email: str | None = None) -> str:
    """A user of the site's account (password `PASSWORD`); its e-mail."""
    email = email or f"{role}{site.site_id}@shop.example"
    with transaction(engine) as conn:
        accounts.create_user(conn, site.account_id, email, PASSWORD, role, time.time())
    return email


def log_in(client: Any, email: str) -> Any:
    """The test client, logged in to /app as `email`."""
    login = {"email": email, "password": PASSWORD}
    assert client.post("/app/login", data=login, follow_redirects=False).status_code == 303
    return client


def api_headers(engine: Engine, site: Seeded, role: str = "admin") -> dict[str, str]:
    """An API token of a new user of the site's account, as request headers."""
    email, now = f"api-{role}{site.site_id}@shop.example", time.time()
    with transaction(engine) as conn:
        user_id = accounts.create_user(conn, site.account_id, email, PASSWORD, role, now)
        who = auth.Principal(user_id, site.account_id, email, role)
        return {"Authorization": f"Bearer {auth.create_token(conn, who, 'tests', now)}"}


def wait_for(check: Any, seconds: float = 20) -> Any:
    """`check()`'s first truthy value, polled every 0.1 s; AssertionError after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def add_number(engine: Engine, site: Seeded, e164: str, kind: str, group: str | None = None) -> int:
    """One more tracking number of the site (a pool number in sub-pool `group`); its id."""
    with transaction(engine) as conn:
        return setup.add_number(
            conn,
            site.account_id,
            site.site_id,
            setup.NumberInput(number=e164, kind=kind, pool_group=group),
            time.time(),
        )


T = TypeVar("T")


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on a thread of its own. The browser tests' session-long
    Playwright (its sync API) keeps an event loop running on the main thread of the test
    worker it ran on, where `asyncio.run` refuses to start for every later test."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(main))
        except BaseException as exc:  # handed to the caller
            error.append(exc)

    thread = threading.Thread(target=target, name="test-event-loop")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def page_login(app: Any, engine: Engine, site: Seeded, role: str) -> Any:
    """A browser-like client of `app`, logged in to the admin pages as a new user of the
    site's account with `role`."""
    from fastapi.testclient import TestClient

    email = f"page-{role}@shop.example"
    with transaction(engine) as conn:
        accounts.create_user(conn, site.account_id, email, PASSWORD, role, time.time())
    page = TestClient(app, raise_server_exceptions=False)
    r = page.post("/app/login", data={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text  # followed to the first page
    return page


# A city the tests' city database knows: GeoLite2-City's layout, as MaxMind's own test
# data places 81.2.69.0/24.
LONDON_NET = "81.2.69.0/24"
LONDON_IP = "81.2.69.142"
LONDON = {
    "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
    "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
    "city": {"names": {"en": "London"}},
}


def write_city_db(path: Path, records: dict[str, object]) -> Path:
    """A MaxMind-format city database at `path` holding `records` (network -> record),
    IPv6 with the IPv4 networks mapped in, as GeoLite2-City ships."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-City",
        languages=["en"],
        description={"en": "callpath tests"},
    )
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def browser(app: Any, email: str) -> Any:
    """A client of `app` that asks for pages as a browser does (errors come as pages),
    logged in to /app as `email` (password `PASSWORD`)."""
    from fastapi.testclient import TestClient

    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Accept"] = "text/html,application/xhtml+xml"
    return log_in(client, email)


def user_row(engine: Engine, email: str) -> dict[str, Any]:
    """The stored user with this e-mail, every column."""
    from callpath.storage.tables import users

    with transaction(engine, write=False) as conn:
        return dict(conn.execute(select(users).where(users.c.email == email)).one()._mapping)
