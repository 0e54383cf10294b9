"""Setting a pool number's group: the API, the admin form and the CLI, with their errors."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from callpath import settings as settings_mod
from callpath.cli import app as cli_app
from callpath.services import accounts
from callpath.storage.db import transaction
from callpath.storage.tables import tracking_numbers
from callpath.web.app import create_app
from tests.helpers import Seeded, seed_site

PASSWORD = "correct horse battery"


@pytest.fixture
def site(engine: Engine) -> Seeded:
    seeded = seed_site(engine, pool_size=0, default=False)
    with transaction(engine) as conn:
        accounts.create_user(
            conn, seeded.account_id, "me@shop.example", PASSWORD, "owner", time.time()
        )
    return seeded


@pytest.fixture
def client(site: Seeded, database_url: str) -> TestClient:
    web = create_app(settings_mod.load({"CALLPATH_DATABASE_URL": database_url}))
    client = TestClient(web, raise_server_exceptions=False)
    r = client.post(
        "/app/login",
        data={"email": "me@shop.example", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def test_api_sets_and_shows_a_numbers_group(client: TestClient, site: Seeded) -> None:
    url = f"/api/v1/sites/{site.site_id}/numbers"
    made = client.post(
        url, json={"number": "84957000001", "kind": "pool", "pool_group": "Yandex/CPC"}
    )
    assert made.status_code == 201, made.text
    assert made.json()["pool_group"] == "yandex/cpc"
    plain = client.post(url, json={"number": "84957000002", "kind": "pool"})
    assert plain.json()["pool_group"] is None
    listed = client.get(url).json()["items"]
    assert [n["pool_group"] for n in listed] == ["yandex/cpc", None]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"kind": "static", "label": "Billboard", "pool_group": "cpc"}, "only pool numbers"),
        ({"kind": "default", "pool_group": "country:DE"}, "only pool numbers"),
        ({"kind": "pool", "pool_group": "yandex cpc"}, "no spaces"),
        ({"kind": "pool", "pool_group": "a/b/c"}, "source/medium"),
        ({"kind": "pool", "pool_group": "country:Germany"}, "country:XX"),
    ],
)
def test_api_refuses_a_bad_group_with_its_reason(
    client: TestClient, site: Seeded, body: dict[str, str], reason: str
) -> None:
    r = client.post(f"/api/v1/sites/{site.site_id}/numbers", json={"number": "84957000003", **body})
    assert r.status_code == 400, r.text
    assert "pool_group" in r.json()["error"] and reason in r.json()["error"]


def test_admin_form_sets_the_group_and_the_table_shows_it(client: TestClient, site: Seeded) -> None:
    form = {"number": "84957000004", "kind": "pool", "pool_group": "country:de"}
    r = client.post(f"/app/sites/{site.site_id}/numbers", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(f"/app/sites/{site.site_id}").text
    assert "<td>country:DE</td>" in page
    bad = client.post(
        f"/app/sites/{site.site_id}/numbers",
        data={"number": "84957000005", "kind": "static", "label": "B", "pool_group": "cpc"},
    )
    assert bad.status_code == 400
    assert "only pool numbers" in bad.text


def test_cli_number_add_with_a_group(engine: Engine, site: Seeded, database_url: str) -> None:
    runner, env = CliRunner(), {"CALLPATH_DATABASE_URL": database_url}
    args = ["number", "add", "--site", str(site.site_id)]
    ok = runner.invoke(cli_app, [*args, "--group", "yandex/cpc", "84957000006"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "group yandex/cpc" in ok.output
    with engine.connect() as conn:
        assert conn.execute(select(tracking_numbers.c.pool_group)).scalar_one() == "yandex/cpc"
    bad = runner.invoke(
        cli_app, [*args, "--kind", "default", "--group", "cpc", "84957000007"], env=env
    )
    assert bad.exit_code == 2
    assert "only pool numbers" in bad.output
