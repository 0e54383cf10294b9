"""`callpath bitrix24 …` through Typer's runner: a portal connected (its handler URL
printed, its webhook code never again), its token set, listed, removed; a URL that is
no incoming webhook, or a private address without consent, refused in one line."""

from __future__ import annotations

from sqlalchemy import Engine
from typer.testing import CliRunner

from callpath.cli import app
from callpath.integrations.bitrix24 import connect
from callpath.storage.db import transaction
from tests.helpers import seed_site

runner = CliRunner()
CODE = "k3x9secretcode77"


def test_a_portal_is_connected_listed_and_removed(engine: Engine, database_url: str) -> None:
    site = seed_site(engine, pool_size=1)
    env = {"CALLPATH_DATABASE_URL": database_url}
    url = f"http://127.0.0.1:9/rest/7/{CODE}/profile.json"
    args = ["bitrix24", "connect", "--account", str(site.account_id), "--webhook-url", url]
    made = runner.invoke(
        app,
        [*args, "--site", site.key, "--allow-private", "--server", "https://track.example"],
        env=env,
    )
    assert made.exit_code == 0, made.output
    dest = int(made.output.split()[1])
    assert f"https://track.example/hooks/bitrix24/{dest}" in made.output
    assert "set-token" in made.output and CODE not in made.output
    assert (
        runner.invoke(
            app, ["bitrix24", "set-token", str(dest), "tok-1234567890"], env=env
        ).exit_code
        == 0
    )
    listed = runner.invoke(app, ["bitrix24", "list", "--account", str(site.account_id)], env=env)
    assert listed.exit_code == 0 and "token set" in listed.output and CODE not in listed.output
    assert "/rest/7/k3…77/" in listed.output and f"site {site.site_id}" in listed.output
    hooks = runner.invoke(app, ["webhook", "list", "--account", str(site.account_id)], env=env)
    assert CODE not in hooks.output
    with transaction(engine) as conn:
        (row,) = connect.listed(conn, site.account_id)
        assert row["has_token"] and row["events"] == "lead.created"
    gone = runner.invoke(app, ["bitrix24", "remove", str(dest)], env=env)
    assert gone.exit_code == 0
    again = runner.invoke(app, ["bitrix24", "remove", str(dest)], env=env)
    assert again.exit_code == 2 and "no Bitrix24 destination" in again.output


def test_bad_portals_are_refused_in_one_line(engine: Engine, database_url: str) -> None:
    site = seed_site(engine, pool_size=1)
    env = {"CALLPATH_DATABASE_URL": database_url}
    base = ["bitrix24", "connect", "--account", str(site.account_id), "--webhook-url"]
    for url, why in (
        ("https://shop.bitrix24.ru/crm/", "not an incoming webhook"),
        (f"http://127.0.0.1:9/rest/7/{CODE}/", "private or local address"),
    ):
        done = runner.invoke(app, [*base, url], env=env)
        assert done.exit_code == 2 and why in done.output, done.output
        assert CODE not in done.output
    token = runner.invoke(
        app, [*base, f"http://127.0.0.1:9/rest/7/{CODE}/", "--allow-private",
              "--application-token", "x"], env=env,
    )  # fmt: skip
    assert token.exit_code == 2 and "application token" in token.output
