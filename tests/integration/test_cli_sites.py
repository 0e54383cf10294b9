"""`callpath site list|set`: every site with its numbers; settings changed by key or id,
only those given; bad input is a message and exit code 2, never a traceback."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from callpath.cli import app
from callpath.services import setup
from callpath.storage import site_repo
from callpath.storage.db import transaction
from tests.helpers import Seeded, add_number, seed_site

runner = CliRunner()
HUGE = "99999999999999999999"


@pytest.fixture
def env(engine: Engine, database_url: str) -> dict[str, str]:
    return {"CALLPATH_DATABASE_URL": database_url}


@pytest.fixture
def site(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=3, statics=("Flyer",))


def _cli(args: list[str], env: dict[str, str], code: int = 0) -> str:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output


def _row(engine: Engine, site_id: int) -> dict[str, Any]:
    with transaction(engine, write=False) as conn:
        row = site_repo.site_row(conn, site_id=site_id)
    assert row is not None
    return row


def test_site_list_shows_every_accounts_sites_with_their_numbers(
    engine: Engine, env: dict[str, str], site: Seeded
) -> None:
    other = seed_site(engine, pool_size=0, default=False)
    lines = _cli(["site", "list"], env).splitlines()
    assert lines[0].split("\t") == [
        site.key,
        f"site {site.site_id}",
        f"account {site.account_id}",
        "Test site",
        f"-> {site.original}",
        "Europe/Moscow",
        "3 pool, 1 static, 1 default",
    ]
    assert lines[1].startswith(f"{other.key}\tsite {other.site_id}\taccount {other.account_id}")
    assert lines[1].endswith("0 pool, 0 static, 0 default")
    mine = _cli(["site", "list", "--account", str(other.account_id)], env)
    assert other.key in mine and site.key not in mine
    assert _cli(["site", "list", "--account", "999999"], env) == "no sites\n"


def test_site_set_changes_the_options_given_by_key_or_id(
    engine: Engine, env: dict[str, str], site: Seeded
) -> None:
    before = _row(engine, site.site_id)
    out = _cli(
        [
            "site",
            "set",
            site.key,
            "--default-destination",
            "8 495 222-33-44",
            "--domains",
            "Shop.example, www.shop.example",
            "--hold-after-leave",
            "240",
        ],
        env,
    )
    assert f"site {site.site_id} ({site.key}) changed:" in out
    assert "default_destination: +74952223344" in out and "hold_after_leave: 240" in out
    after = _row(engine, site.site_id)
    assert after["domains"] == ["shop.example", "www.shop.example"]
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"default_destination", "domains", "hold_after_leave"}
    out = _cli(
        ["site", "set", str(site.site_id), "--timezone", "Asia/Almaty", "--domains", ""], env
    )
    assert "domains: any" in out
    after = _row(engine, site.site_id)
    assert (after["timezone"], after["domains"], after["key"]) == ("Asia/Almaty", [], site.key)
    assert "-> +74952223344\tAsia/Almaty" in _cli(["site", "list"], env)


def test_a_key_of_digits_names_its_site_not_the_site_with_that_id(
    engine: Engine, env: dict[str, str], site: Seeded
) -> None:
    # Keys are random hex: one in ~300 is all digits, and was once read as an id.
    with transaction(engine) as conn:
        digits = str(10**11 + site.site_id)
        made = setup.create_site(
            conn, site.account_id, setup.SiteInput(name="Digits"), time.time(), key=digits
        )
    assert f"site {made['id']} ({digits}) changed" in _cli(
        ["site", "set", digits, "--name", "D"], env
    )
    assert _row(engine, int(made["id"]))["name"] == "D"
    assert _row(engine, site.site_id)["name"] == "Test site"
    out = _cli(["site", "set", str(site.site_id), "--name", "By id"], env)
    assert f"site {site.site_id} ({site.key}) changed" in out


def test_a_new_default_destination_reminds_of_the_sip_edge(
    engine: Engine, env: dict[str, str], site: Seeded
) -> None:
    assert "Kamailio" not in _cli(["site", "set", site.key, "--name", "Renamed"], env)
    with transaction(engine) as conn:
        setup.create_integration(conn, site.account_id, site.site_id, "sip", "edge", time.time())
    out = _cli(["site", "set", site.key, "--default-destination", "+74952223344"], env)
    assert f"callpath sip config --site {site.key}" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nokey", "--name", "x"], "no site nokey"),
        (["0", "--name", "x"], "site: 0 is not a site id"),
        ([HUGE, "--name", "x"], "is not a site id"),
        (["9" * 5000, "--name", "x"], "is not a site id"),
        (["{key}"], "nothing to change"),
        (["{key}", "--timezone", "Mars/Base"], "unknown timezone 'Mars/Base'"),
        (["{key}", "--region", "ZZ"], "region"),
        (["{key}", "--currency", "ÄÖÜ"], "currency"),
        (["{key}", "--domains", "*.shop.example"], "subdomains"),
        (["{key}", "--hold-after-leave", "5"], "hold_after_leave must be 60..86400 s"),
        (["{key}", "--cooldown", HUGE], "cooldown must be 0..86400 s"),
        (["{key}", "--match-window", HUGE], "match_window must be 0..604800 s"),
        (["{key}", "--cooldown", "soon"], "--cooldown"),
        (["{key}", "--default-destination", ""], "not removed"),
        (["{key}", "--default-destination", "twelve"], "default destination"),
        (["{key}", "--name", "  "], "site name must not be empty"),
        (["{key}", "--exclude", "x" * 100_000], "255"),
        (["{key}", "--name", "\udcff"], "not valid UTF-8"),
    ],
)
def test_bad_input_is_a_message_and_changes_nothing(
    engine: Engine, env: dict[str, str], site: Seeded, args: list[str], expected: str
) -> None:
    before = _row(engine, site.site_id)
    given = [a.replace("{key}", site.key) for a in args]
    out = _cli(["site", "set", *given], env, code=2)
    assert expected in out
    assert _row(engine, site.site_id) == before


def test_site_commands_check_the_database_first(tmp_path: Any) -> None:
    env = {"CALLPATH_DATABASE_URL": f"sqlite:///{tmp_path}/empty.sqlite3"}
    for args in (["site", "list"], ["site", "set", "x", "--name", "y"]):
        assert "callpath migrate" in _cli(args, env, code=2)


def test_site_list_counts_only_active_numbers(
    engine: Engine, env: dict[str, str], site: Seeded
) -> None:
    add_number(engine, site, "+74957000555", "default")  # retires the seeded default
    _cli(["number", "retire", "--site", site.key, site.pool[0]], env)
    assert "2 pool, 1 static, 1 default" in _cli(["site", "list"], env)
