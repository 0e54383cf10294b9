"""A flood of logins against a real `callpath serve`: passwords are checked off the event
loop, and failed logins are limited per client address and per account."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, update

from callpath.storage.db import transaction
from callpath.storage.tables import users
from tests.helpers import PASSWORD, ServerProcess, add_login, free_port, seed_site, wait_for

WRONG = "not the password"


@pytest.fixture
def proxied(engine: Engine, database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """`callpath serve` behind a trusted proxy (loopback), so that X-Forwarded-For gives
    each test client an address of its own."""
    env = {"CALLPATH_TRUSTED_PROXIES": "127.0.0.1/32"}
    with ServerProcess(database_url, free_port(), tmp_path / "server.log", env=env) as proc:
        yield proc


def _login(
    server: ServerProcess, email: str, password: str, ip: str, accept: str = "text/html"
) -> httpx.Response:
    return httpx.post(
        server.url + "/app/login",
        data={"email": email, "password": password},
        headers={"X-Forwarded-For": ip, "Accept": accept},
        follow_redirects=False,
        timeout=120,
    )


def _refused(r: httpx.Response, why: str) -> None:
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 900
    assert why in r.text


def test_a_flood_from_one_address_is_refused_while_others_log_in(
    proxied: ServerProcess, engine: Engine
) -> None:
    owner = add_login(engine, seed_site(engine), "owner")
    attacker = "203.0.113.66"
    for n in range(10):  # guesses at e-mails, each one checked and wrong
        assert _login(proxied, f"guess{n}@shop.example", WRONG, attacker).status_code == 401
    with ThreadPoolExecutor(8) as pool:
        flood = list(
            pool.map(
                lambda n: _login(proxied, f"guess{n}@shop.example", WRONG, attacker),
                range(40),
            )
        )
    for r in flood:
        _refused(r, "Too many failed logins from this address")
    assert 'class="err"' in flood[0].text  # the login page, saying why
    _refused(_login(proxied, owner, PASSWORD, attacker), "from this address")
    as_json = _login(proxied, owner, PASSWORD, attacker, accept="application/json")
    assert as_json.status_code == 429 and "Retry-After" in as_json.headers
    assert as_json.json()["error"] == "too many failed logins from this address"
    assert _login(proxied, owner, PASSWORD, "198.51.100.7").status_code == 303


def test_guesses_at_one_account_from_many_addresses_lock_only_that_account(
    proxied: ServerProcess, engine: Engine
) -> None:
    site = seed_site(engine)
    owner, analyst = add_login(engine, site, "owner"), add_login(engine, site, "analyst")
    assert _login(proxied, owner, PASSWORD, "198.51.100.7").status_code == 303  # their office
    for n in range(10):
        assert _login(proxied, owner, WRONG, f"203.0.113.{n}").status_code == 401
    _refused(_login(proxied, owner, PASSWORD, "192.0.2.1"), "for this account")
    assert _login(proxied, analyst, PASSWORD, "192.0.2.1").status_code == 303
    # The owner's own address, where they logged in before, still lets them in.
    assert _login(proxied, owner, PASSWORD, "198.51.100.7").status_code == 303


def _cpu_seconds(pid: int) -> float:
    """CPU time used by the process's threads so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_server_answers_while_a_password_is_being_checked(
    server: ServerProcess, engine: Engine
) -> None:
    """A user whose stored hash takes many seconds of CPU to verify: once the server is
    visibly busy verifying it, /healthz and the tracker are still answered before the
    login is. Verifying on the event loop would hold both until it ends."""
    site = seed_site(engine)
    email = add_login(engine, site, "owner")
    slow = PasswordHasher(time_cost=1000, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with transaction(engine) as conn:
        conn.execute(update(users).where(users.c.email == email).values(password_hash=slow))
    pid = server.pid
    before = _cpu_seconds(pid)
    with ThreadPoolExecutor(1) as pool:
        login = pool.submit(_login, server, email, PASSWORD, "")
        wait_for(lambda: _cpu_seconds(pid) - before > 1.0, seconds=120)  # hashing now
        assert not login.done()
        assert httpx.get(server.url + "/healthz", timeout=120).status_code == 200
        visit = httpx.post(
            server.url + "/t/v1/session",
            content=json.dumps({"site": site.key, "url": "https://shop.example/"}),
            timeout=120,
        )
        assert visit.status_code == 200 and visit.json()["number"] in site.pool
        assert not login.done()
        assert login.result(timeout=600).status_code == 303
