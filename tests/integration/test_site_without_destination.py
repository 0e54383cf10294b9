"""A site made without a default destination: said so when it is made, shown on its page,
and given no routing (numbers without their own forward-to, integrations that forward
calls) until it has one."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from callpath.cli import app as cli_app
from callpath.services import accounts, setup
from callpath.storage.db import transaction
from callpath.storage.tables import integrations, tracking_numbers
from tests.helpers import Seeded, api_headers, next_number, page_login

runner = CliRunner()


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {"CALLPATH_DATABASE_URL": database_url}


@pytest.fixture
def bare(engine: Engine) -> Seeded:
    """A site with neither a default destination nor an original number."""
    with transaction(engine) as conn:
        account = accounts.create_account(conn, "Bare", time.time())
        made = setup.create_site(conn, account, setup.SiteInput(name="Bare"), time.time())
    return Seeded(account, int(made["id"]), str(made["key"]), "", None)


def _count(engine: Engine, table: object, site_id: int) -> int:
    with transaction(engine, write=False) as conn:
        query = select(func.count()).where(table.c.site_id == site_id)  # type: ignore[attr-defined]
        return int(conn.execute(query).scalar_one())


def test_site_add_warns_when_it_has_no_destination(env: dict[str, str]) -> None:
    result = runner.invoke(cli_app, ["site", "add", "--name", "Bare"], env=env)
    assert result.exit_code == 0
    assert "warning: the site has no default destination" in result.output
    assert "--default-destination NUMBER" in result.output


def test_the_command_refuses_numbers_and_integrations_until_it_has_one(
    engine: Engine, env: dict[str, str], bare: Seeded
) -> None:
    refused = [
        ["number", "add", "--site", bare.key, next_number()],
        ["integration", "add", "--site", bare.key, "--kind", "sip"],
        ["integration", "add", "--site", bare.key],
    ]
    for args in refused:
        result = runner.invoke(cli_app, args, env=env)
        assert result.exit_code == 2, args
        assert "has no default destination" in result.output, args
    assert _count(engine, tracking_numbers, bare.site_id) == 0
    assert _count(engine, integrations, bare.site_id) == 0
    own = ["number", "add", "--site", bare.key, next_number(), "--forward-to", "+74951112233"]
    assert runner.invoke(cli_app, own, env=env).exit_code == 0
    listens = ["integration", "add", "--site", bare.key, "--kind", "asterisk"]
    assert runner.invoke(cli_app, listens, env=env).exit_code == 0  # its PBX routes calls
    fixed = ["site", "set", bare.key, "--default-destination", "+74951112233"]
    assert runner.invoke(cli_app, fixed, env=env).exit_code == 0
    assert runner.invoke(cli_app, refused[0], env=env).exit_code == 0
    assert runner.invoke(cli_app, refused[2], env=env).exit_code == 0


def test_the_api_refuses_a_number_without_a_destination(
    client: TestClient, engine: Engine, bare: Seeded
) -> None:
    r = client.post(
        f"/api/v1/sites/{bare.site_id}/numbers",
        json={"number": next_number(), "kind": "pool"},
        headers=api_headers(engine, bare),
    )
    assert r.status_code == 400
    assert "has no default destination" in r.json()["error"]


def test_the_site_page_warns_and_its_forms_refuse(
    app: object, engine: Engine, bare: Seeded, site: Seeded
) -> None:
    page = page_login(app, engine, bare, "owner")
    shown = page.get(f"/app/sites/{bare.site_id}")
    assert 'id="no-destination"' in shown.text
    assert "Calls to this site have nowhere to go" in shown.text
    r = page.post(f"/app/sites/{bare.site_id}/integrations", data={"kind": "generic"})
    assert r.status_code == 400
    assert "has no default destination" in r.text
    assert _count(engine, integrations, bare.site_id) == 0
    other = page_login(app, engine, site, "admin")
    assert 'id="no-destination"' not in other.get(f"/app/sites/{site.site_id}").text
