"""`callpath integration add`, `callpath call simulate` (against a running server) and
`callpath token add`, as a user runs them."""

from __future__ import annotations

import re
import time

import httpx
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from callpath.cli import app
from callpath.storage.tables import calls, integrations
from callpath.telephony.generic import adapter as generic
from tests.helpers import ServerProcess, seed_site

runner = CliRunner()


def test_integration_add_prints_a_working_url_and_secret(
    engine: Engine, database_url: str, server: ServerProcess
) -> None:
    site = seed_site(engine, pool_size=1)
    env = {"CALLPATH_DATABASE_URL": database_url}
    result = runner.invoke(
        app, ["integration", "add", "--site", site.key, "--server", server.url], env=env
    )
    assert result.exit_code == 0, result.output
    url = re.search(r"url:\s+(\S+)", result.output)
    secret = re.search(r"secret:\s+(\S+)", result.output)
    assert url and secret and url.group(1).startswith(server.url + "/hooks/generic/int_")
    body = (
        b'{"event":"started","call_id":"cli-1","at":1.8e9,"called":"'
        + site.pool[0].encode()
        + b'"}'
    )
    stamp = str(int(time.time()))
    r = httpx.post(
        url.group(1),
        content=body,
        headers={
            "X-Callpath-Timestamp": stamp,
            "X-Callpath-Signature": generic.sign(secret.group(1), stamp, body),
        },
    )
    assert r.status_code == 200 and r.json()["forward_to"] == site.original
    bad = runner.invoke(app, ["integration", "add", "--site", "nope"], env=env)
    assert bad.exit_code == 2 and "no site" in bad.output
    by_id = runner.invoke(  # like the number and site commands, --site takes the id too
        app, ["integration", "add", "--site", str(site.site_id), "--server", server.url], env=env
    )
    assert by_id.exit_code == 0 and "/hooks/generic/int_" in by_id.output, by_id.output


def test_call_simulate_drives_a_whole_call(
    engine: Engine, database_url: str, server: ServerProcess
) -> None:
    site = seed_site(engine, pool_size=1, statics=("Billboard",))
    env = {"CALLPATH_DATABASE_URL": database_url}
    args = ["call", "simulate", "--to", site.static["Billboard"], "--server", server.url]
    answered = runner.invoke(app, [*args, "--from", "8 916 123-45-67", "--duration", "42"], env=env)
    assert answered.exit_code == 0, answered.output
    assert "forwarded to +74951096375" in answered.output
    missed = runner.invoke(app, [*args, "--from", "+79161234567", "--missed"], env=env)
    assert missed.exit_code == 0, missed.output
    rows = _wait_for_calls(engine, 2)
    assert {(r.status, r.talk, r.match_method, r.source) for r in rows} == {
        ("answered", 42.0, "static", "Billboard"),
        ("missed", 0.0, "static", "Billboard"),
    }
    assert sorted(r.repeat for r in rows) == [False, True]
    with engine.connect() as conn:
        assert [r.name for r in conn.execute(select(integrations.c.name))] == ["simulator"]


def _wait_for_calls(engine: Engine, n: int) -> list:  # type: ignore[type-arg]
    deadline = time.monotonic() + 120  # generously: a busy machine is slow
    while True:
        with engine.connect() as conn:
            rows = conn.execute(select(calls).where(calls.c.state == "ended")).all()
        if len(rows) >= n or time.monotonic() > deadline:
            return list(rows)
        time.sleep(0.1)


def test_call_simulate_explains_what_went_wrong(engine: Engine, database_url: str) -> None:
    seed_site(engine, pool_size=1)
    env = {"CALLPATH_DATABASE_URL": database_url}
    unknown = runner.invoke(app, ["call", "simulate", "--to", "+74959990000"], env=env)
    assert unknown.exit_code == 2 and "not a tracking number" in unknown.output
    junk = runner.invoke(app, ["call", "simulate", "--to", "call me"], env=env)
    assert junk.exit_code == 2 and "phone number" in junk.output


def test_call_simulate_says_when_no_server_listens(engine: Engine, database_url: str) -> None:
    site = seed_site(engine, pool_size=1)
    env = {"CALLPATH_DATABASE_URL": database_url}
    result = runner.invoke(
        app, ["call", "simulate", "--to", site.pool[0], "--server", "http://127.0.0.1:9"], env=env
    )
    assert result.exit_code == 2
    assert "cannot reach" in result.output


def test_token_add_prints_a_token_that_opens_the_api(
    engine: Engine, database_url: str, server: ServerProcess
) -> None:
    env = {"CALLPATH_DATABASE_URL": database_url}
    assert runner.invoke(app, ["demo", "--no-history"], env=env).exit_code == 0
    result = runner.invoke(app, ["token", "add", "--user", "demo@callpath.local"], env=env)
    assert result.exit_code == 0
    token = re.search(r"(cp_\S+)", result.output)
    assert token
    r = httpx.get(
        server.url + "/api/v1/sites", headers={"Authorization": f"Bearer {token.group(1)}"}
    )
    assert [s["key"] for s in r.json()["items"]] == ["demo"]
    missing = runner.invoke(app, ["token", "add", "--user", "who@nowhere.example"], env=env)
    assert missing.exit_code == 2
    empty = runner.invoke(app, ["token", "add", "--user", " "], env=env)
    assert empty.exit_code == 2 and "--user: the e-mail of the user" in empty.output
