"""The `callpath` command, through Typer's runner, on the test database."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from callpath.cli import app
from callpath.storage.tables import sites, tracking_numbers, users

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
    first = runner.invoke(app, ["demo"], env=env)
    second = runner.invoke(app, ["demo"], env=env)
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
