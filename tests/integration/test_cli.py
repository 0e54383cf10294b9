"""The `callpath` command, through Typer's runner, on the test database."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from callpath import settings as settings_mod
from callpath.cli import app
from callpath.services import auth
from callpath.storage import user_repo
from callpath.storage.db import transaction
from callpath.storage.tables import (
    calls,
    costs,
    deals,
    leads,
    sessions,
    sites,
    tracking_numbers,
    users,
)
from callpath.web.app import create_app

runner = CliRunner()


@pytest.fixture
def env(engine: Engine, database_url: str) -> dict[str, str]:
    return {"CALLPATH_DATABASE_URL": database_url}


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["migrate", "--help"],
        ["demo", "--help"],
        ["site", "add", "--help"],
        ["number", "add", "--help"],
        ["integration", "add", "--help"],
        ["call", "simulate", "--help"],
        ["token", "add", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_migrate_is_idempotent(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["migrate"], env=env)
    assert result.exit_code == 0
    assert "latest schema" in result.output


def test_demo_seeds_once_and_prints_a_new_login_each_time(
    engine: Engine, env: dict[str, str]
) -> None:
    first = runner.invoke(app, ["demo", "--no-history"], env=env)
    second = runner.invoke(app, ["demo", "--no-history"], env=env)
    assert first.exit_code == second.exit_code == 0
    assert "demo@callpath.local" in first.output
    pw1 = first.output.split("password:")[1].strip()
    pw2 = second.output.split("password:")[1].strip()
    assert pw1 != pw2
    with engine.connect() as conn:
        kinds = conn.execute(select(tracking_numbers.c.kind)).scalars().all()
        assert conn.execute(select(sites.c.key)).scalars().all() == ["demo"]
        assert len(conn.execute(select(users.c.id)).all()) == 1
    assert sorted(kinds) == ["default"] + ["pool"] * 5 + ["static"] * 2


def test_demo_history_fills_the_reports_once(
    engine: Engine, env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    first = runner.invoke(app, ["demo"], env=env)
    assert first.exit_code == 0, first.output
    assert "demo history:" in first.output
    counts = _history_counts(engine)
    assert counts["sessions"] > 5000 and counts["calls"] > 200 and counts["deals"] > 20
    assert counts["costs"] > 100 and counts["leads"] == counts["calls"]
    again = runner.invoke(app, ["demo"], env=env)
    assert again.exit_code == 0 and "demo history:" not in again.output
    assert _history_counts(engine) == counts
    client = TestClient(
        create_app(settings_mod.load({**env, "CALLPATH_SPOOL_DIR": str(tmp_path)})),
        raise_server_exceptions=False,
    )
    headers = _owner_token(engine)
    rows = {}
    for model in ("last_non_direct", "first_touch"):
        r = client.get(f"/api/v1/reports/channels?site=demo&model={model}", headers=headers)
        assert r.status_code == 200, r.text
        rows[model] = {(x["source"], x["medium"]): x for x in r.json()["rows"]}
    paid = rows["last_non_direct"][("yandex", "cpc")]
    assert paid["calls"] > 0 and paid["cost"] > 0 and paid["cpl"] > 0 and paid["roi"] is not None
    board = rows["last_non_direct"][("billboard", "offline")]
    assert board["calls"] > 0 and board["cost"] == pytest.approx(1500 * 30 / 30.5, rel=0.05)
    direct = ("(direct)", "(none)")
    assert rows["first_touch"][direct]["calls"] != rows["last_non_direct"][direct]["calls"]


def _history_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (sessions, calls, deals, costs, leads)
        }


def _owner_token(engine: Engine) -> dict[str, str]:
    with transaction(engine) as conn:
        user = user_repo.by_email(conn, "demo@callpath.local")
        assert user is not None
        who = auth.Principal(user["id"], user["account_id"], user["email"], user["role"])
        return {"Authorization": f"Bearer {auth.create_token(conn, who, 'tests', time.time())}"}


def test_site_and_number_add(engine: Engine, env: dict[str, str]) -> None:
    result = runner.invoke(
        app,
        [
            "site",
            "add",
            "--name",
            "Shop",
            "--domain",
            "shop.example",
            "--original",
            "8 (495) 109-63-75",
            "--default-destination",
            "8 (495) 109-63-75",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "<script async src=" in result.output
    with engine.connect() as conn:
        site_id = conn.execute(select(sites.c.id)).scalar_one()
    ok = runner.invoke(
        app,
        [
            "number",
            "add",
            "--site",
            str(site_id),
            "--kind",
            "static",
            "--label",
            "Billboard",
            "8 495 222 33 01",
        ],
        env=env,
    )
    assert ok.exit_code == 0, ok.output
    with engine.connect() as conn:
        row = conn.execute(select(tracking_numbers)).one()
    assert (row.e164, row.kind, row.channel_source) == ("+74952223301", "static", "Billboard")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["number", "add", "--site", "999", "84952223301"], "no site 999"),
        (["site", "add", "--name", "X", "--original", "12"], "not a"),
        (["site", "add", "--name", "X", "--timezone", "Mars/Base"], "timezone"),
        (["site", "add", "--name", "X", "--hold-after-leave", "5"], "hold_after_leave"),
        (["site", "add", "--name", "X", "--domain", "localhost"], "domain"),
    ],
)
def test_bad_input_is_a_message_and_nonzero_exit(
    env: dict[str, str], args: list[str], message: str
) -> None:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_static_number_needs_a_channel(engine: Engine, env: dict[str, str]) -> None:
    runner.invoke(app, ["site", "add", "--name", "Shop"], env=env)
    with engine.connect() as conn:
        site_id = conn.execute(select(sites.c.id)).scalar_one()
    result = runner.invoke(
        app, ["number", "add", "--site", str(site_id), "--kind", "static", "84952223301"], env=env
    )
    assert result.exit_code == 2
    assert "channel" in result.output
