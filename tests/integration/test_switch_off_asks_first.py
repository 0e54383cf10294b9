"""Retiring a number and disabling an integration from the site page ask first (a page
saying what follows, whose button confirms), and a simulated call names a disabled
integration instead of opening a second one beside it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from callpath.cli import app as cli_app
from callpath.services import setup
from callpath.storage.db import transaction
from callpath.storage.tables import integrations, tracking_numbers
from tests.helpers import Hook, Seeded, page_login

runner = CliRunner()


def _number_id(engine: Engine, e164: str) -> int:
    with engine.connect() as conn:
        n = tracking_numbers.c
        return int(conn.execute(select(n.id).where(n.e164 == e164)).scalar_one())


def _active(engine: Engine, table: object, row_id: object) -> bool:
    with engine.connect() as conn:
        c = table.c  # type: ignore[attr-defined]
        return bool(conn.execute(select(c.active).where(c.id == row_id)).scalar_one())


def test_retire_shows_a_confirmation_first(app: object, engine: Engine, site: Seeded) -> None:
    page: TestClient = page_login(app, engine, site, "admin")
    number_id = _number_id(engine, site.pool[0])
    url = f"/app/sites/{site.site_id}/numbers/{number_id}/active"
    asked = page.post(url, data={"active": "0"}, follow_redirects=False)
    assert asked.status_code == 200
    assert "Retire " in asked.text and "still get through" in asked.text
    assert 'name="confirm" value="1"' in asked.text and f'action="{url}"' in asked.text
    assert _active(engine, tracking_numbers, number_id)  # nothing changed yet
    done = page.post(url, data={"active": "0", "confirm": "1"}, follow_redirects=False)
    assert done.status_code == 303
    assert not _active(engine, tracking_numbers, number_id)
    back = page.post(url, data={"active": "1"}, follow_redirects=False)  # no question
    assert back.status_code == 303 and _active(engine, tracking_numbers, number_id)


def test_disable_shows_a_confirmation_first(
    app: object, engine: Engine, site: Seeded, hook: Hook
) -> None:
    page: TestClient = page_login(app, engine, site, "owner")
    url = f"/app/sites/{site.site_id}/integrations/{hook.integration_id}/active"
    asked = page.post(url, data={"active": "0"})
    assert asked.status_code == 200 and "will be refused (401)" in asked.text
    assert _active(engine, integrations, hook.integration_id)
    page.post(url, data={"active": "0", "confirm": "1"})
    assert not _active(engine, integrations, hook.integration_id)


def test_the_confirmation_page_is_scoped_to_the_account(
    app: object, engine: Engine, site: Seeded
) -> None:
    page: TestClient = page_login(app, engine, site, "admin")
    r = page.post(f"/app/sites/{site.site_id}/integrations/int_nope/active", data={"active": "0"})
    assert r.status_code == 404
    r = page.post(f"/app/sites/{site.site_id}/numbers/999999/active", data={"active": "0"})
    assert r.status_code == 404


def test_simulate_names_a_disabled_integration(
    engine: Engine, database_url: str, site: Seeded, hook: Hook
) -> None:
    with transaction(engine) as conn:
        setup.set_integration_active(conn, site.account_id, hook.integration_id, False)
    result = runner.invoke(
        cli_app,
        ["call", "simulate", "--to", site.pool[0], "--server", "http://127.0.0.1:9"],
        env={"CALLPATH_DATABASE_URL": database_url},
    )
    assert result.exit_code == 2
    assert f"{hook.integration_id} is disabled" in result.output
    assert f"callpath integration enable {hook.integration_id}" in result.output
    with engine.connect() as conn:
        assert conn.execute(select(integrations.c.id)).scalars().all() == [hook.integration_id]
