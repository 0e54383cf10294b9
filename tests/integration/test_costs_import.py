"""Ad spend imported end to end (API and command): a whole file or nothing, a period
imported again replaces it, other currencies only with a rate, VAT added when asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from callpath.cli import app as cli_app
from callpath.storage.tables import costs
from tests.helpers import Seeded, api_headers, seed_site

MARCH = (
    "Date,UTMSource,UTMMedium,UTMCampaign,Expenses,Clicks\n"
    "2026-03-01,yandex,cpc,spring,1000.10,10\n"
    "2026-03-01,google,cpc,brand,500,5\n"
    "2026-03-02,yandex,cpc,spring,200.5,2\n"
)


@pytest.fixture
def site(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=0)


@pytest.fixture
def admin(engine: Engine, site: Seeded) -> dict[str, str]:
    return api_headers(engine, site, "admin")


def _import(client: TestClient, site: Seeded, headers: dict[str, str], text: str, **q: Any) -> Any:
    return client.post(
        f"/api/v1/sites/{site.site_id}/costs",
        params={"format": "csv", **q},
        content=text.encode("utf-8"),
        headers={**headers, "Content-Type": "text/csv"},
    )


def _daily(client: TestClient, site: Seeded, headers: dict[str, str]) -> list[tuple[str, str, str]]:
    r = client.get(
        f"/api/v1/sites/{site.site_id}/costs?from=2026-03-01&to=2026-03-31", headers=headers
    )
    assert r.status_code == 200, r.text
    return [(i["day"], i["source"], i["amount"]) for i in r.json()["items"]]


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(costs)).scalar_one())


def test_a_file_imports_and_a_period_imported_again_replaces_it(
    client: TestClient, engine: Engine, site: Seeded, admin: dict[str, str]
) -> None:
    r = _import(client, site, admin, MARCH)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "rows": 3,
        "from": "2026-03-01",
        "to": "2026-03-02",
        "total": "1700.60",
        "currency": "RUB",
        "replaced": 0,
    }
    corrected = MARCH.replace("200.5", "300")
    again = _import(client, site, admin, corrected)
    assert again.status_code == 200 and again.json()["replaced"] == 3
    assert _daily(client, site, admin) == [
        ("2026-03-01", "google", "500.00"),
        ("2026-03-01", "yandex", "1000.10"),
        ("2026-03-02", "yandex", "300.00"),
    ]
    assert _rows(engine) == 3  # no double counting
    later = "Date,UTMSource,Expenses\n2026-03-05,vk,10\n"
    assert _import(client, site, admin, later).json()["replaced"] == 0  # other days kept
    assert _rows(engine) == 4


def test_a_broken_file_imports_nothing_and_names_its_line(
    client: TestClient, engine: Engine, site: Seeded, admin: dict[str, str]
) -> None:
    assert _import(client, site, admin, MARCH).status_code == 200
    broken = MARCH.replace("2026-03-02,yandex", "2026-03-02,yandex").replace("200.5", "lots")
    r = _import(client, site, admin, broken)
    assert r.status_code == 400
    assert r.json()["error"] == "line 4: Expenses 'lots' is not an amount"
    assert _daily(client, site, admin)[-1] == ("2026-03-02", "yandex", "200.50")  # kept
    assert _rows(engine) == 3


def test_another_currency_needs_a_rate_and_vat_is_added_when_asked(
    client: TestClient, site: Seeded, admin: dict[str, str]
) -> None:
    dollars = "Date,UTMSource,Expenses,Currency\n2026-03-01,google,10,USD\n"
    r = _import(client, site, admin, dollars)
    assert r.status_code == 400 and "USD is not the site's RUB" in r.json()["error"]
    r = _import(client, site, admin, dollars, rate="USD=92.5")
    assert r.status_code == 200 and r.json()["total"] == "925.00"
    net = "Date,UTMSource,Expenses\n2026-03-02,yandex,100\n"
    r = _import(client, site, admin, net, vat="20")
    assert r.status_code == 200 and r.json()["total"] == "120.00"
    for bad in ({"vat": "lots"}, {"rate": "USD"}, {"rate": "USD=-1"}, {"format": "xls"}):
        assert _import(client, site, admin, net, **bad).status_code in (400, 422)


def test_a_direct_report_in_micros_imports(
    client: TestClient, site: Seeded, admin: dict[str, str]
) -> None:
    report = (
        '"Report (2026-03-01 - 2026-03-01)"\n'
        "Date\tCampaignName\tClicks\tCost\n"
        "2026-03-01\tSpring\t3\t1234560000\n"
        "Total rows: 1\n"
    )
    r = _import(client, site, admin, report, format="yandex-direct", micros="true")
    assert r.status_code == 200 and r.json()["total"] == "1234.56"


def test_only_owners_and_admins_import_and_other_accounts_see_nothing(
    client: TestClient, engine: Engine, site: Seeded, admin: dict[str, str]
) -> None:
    analyst = api_headers(engine, site, "analyst")
    assert _import(client, site, analyst, MARCH).status_code == 403
    assert _import(client, site, admin, MARCH).status_code == 200
    assert len(_daily(client, site, analyst)) == 3  # analysts read
    other = seed_site(engine, pool_size=0)
    stranger = api_headers(engine, other, "owner")
    assert _import(client, site, stranger, MARCH).status_code == 404
    r = client.get(
        f"/api/v1/sites/{site.site_id}/costs?from=2026-03-01&to=2026-03-31", headers=stranger
    )
    assert r.status_code == 404
    assert _rows(engine) == 3


def test_the_command_imports_a_file_or_says_why_not(
    engine: Engine, site: Seeded, database_url: str, tmp_path: Path
) -> None:
    env = {"CALLPATH_DATABASE_URL": database_url}
    good = tmp_path / "march.csv"
    good.write_text(MARCH, encoding="utf-8")
    done = CliRunner().invoke(cli_app, ["costs", "import", str(good), "--site", site.key], env=env)
    assert done.exit_code == 0, done.output
    assert "imported 3 rows, 2026-03-01..2026-03-02, 1700.60 RUB" in done.output
    bad = tmp_path / "bad.csv"
    bad.write_text(MARCH.replace("500", "5OO"), encoding="utf-8")
    refused = CliRunner().invoke(
        cli_app, ["costs", "import", str(bad), "--site", site.key], env=env
    )
    assert refused.exit_code == 2 and "line 3: Expenses '5OO'" in refused.output
    assert "Traceback" not in refused.output
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00bad")
    notext = CliRunner().invoke(
        cli_app, ["costs", "import", str(binary), "--site", site.key], env=env
    )
    assert notext.exit_code == 2 and "not UTF-8" in notext.output
    missing = CliRunner().invoke(
        cli_app, ["costs", "import", str(tmp_path / "none.csv"), "--site", site.key], env=env
    )
    assert missing.exit_code == 2
    assert _rows(engine) == 3
