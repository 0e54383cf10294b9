"""A channel (source, medium, campaign) belongs to static numbers only: a pool or default
number's calls take the channel of the visit it was shown to, so one given there is
refused by the command, the API and the site page alike, and a page never prints
"None" for a part of a channel that is missing."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select
from typer.testing import CliRunner

from callpath.cli import app as cli_app
from callpath.storage.db import transaction
from callpath.storage.tables import tracking_numbers
from tests.helpers import Seeded, api_headers, next_number, page_login

runner = CliRunner()


def _stored(engine: Engine, e164: str) -> bool:
    with transaction(engine, write=False) as conn:
        query = select(tracking_numbers.c.id).where(tracking_numbers.c.e164 == e164)
        return conn.execute(query).first() is not None


@pytest.mark.parametrize("kind", ["pool", "default"])
def test_the_command_refuses_a_source_on_a_non_static_number(
    engine: Engine, database_url: str, site: Seeded, kind: str
) -> None:
    number = next_number()
    result = runner.invoke(
        cli_app,
        ["number", "add", "--site", site.key, number, "--kind", kind, "--source", "yandex"],
        env={"CALLPATH_DATABASE_URL": database_url},
    )
    assert result.exit_code == 2
    assert "only a static number has a channel" in result.output
    assert not _stored(engine, number)


def test_the_api_refuses_a_medium_on_a_pool_number(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    number = next_number()
    r = client.post(
        f"/api/v1/sites/{site.site_id}/numbers",
        json={"number": number, "kind": "pool", "medium": "cpc"},
        headers=api_headers(engine, site),
    )
    assert r.status_code == 400
    assert r.json()["error"].startswith("medium: only a static number has a channel")
    assert "give a group" in r.json()["error"]
    assert not _stored(engine, number)


def test_the_form_refuses_it_and_keeps_what_was_typed(
    app: object, engine: Engine, site: Seeded
) -> None:
    page = page_login(app, engine, site, "admin")
    number = next_number()
    r = page.post(
        f"/app/sites/{site.site_id}/numbers",
        data={"number": number, "kind": "pool", "source": "yandex"},
    )
    assert r.status_code == 400
    assert "only a static number has a channel" in r.text
    assert f'value="{number}"' in r.text and 'value="yandex"' in r.text
    assert not _stored(engine, number)


def test_a_static_number_keeps_its_channel(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    r = client.post(
        f"/api/v1/sites/{site.site_id}/numbers",
        json={"number": next_number(), "kind": "static", "source": "billboard"},
        headers=api_headers(engine, site),
    )
    assert r.status_code == 201
    assert (r.json()["channel_source"], r.json()["channel_medium"]) == ("billboard", "offline")


def test_a_number_with_a_source_only_shows_no_none(
    app: object, engine: Engine, site: Seeded
) -> None:
    """A pool number stored with a source before it was refused shows what it has."""
    number = next_number()
    with transaction(engine) as conn:
        conn.execute(
            insert(tracking_numbers).values(
                account_id=site.account_id,
                site_id=site.site_id,
                e164=number,
                kind="pool",
                channel_source="yandex",
                active=True,
                created_at=time.time(),
            )
        )
    text = page_login(app, engine, site, "admin").get(f"/app/sites/{site.site_id}").text
    row = text.split(f'<td data-e164="{number}">', 1)[1].split("</tr>", 1)[0]
    assert "(yandex)" in row
    assert "None" not in row and "/ None" not in text
