"""What `services/setup.py` refuses for the CLI, the REST API and the admin forms alike."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from callpath.services import accounts, setup
from callpath.storage import site_repo
from callpath.storage.db import transaction


def _site(conn: Connection, **given: Any) -> dict[str, Any]:
    account = accounts.create_account(conn, "Account", time.time())
    created = setup.create_site(
        conn, account, setup.SiteInput(**{"name": "Shop", **given}), time.time()
    )
    row = site_repo.site_row(conn, site_id=created["id"])
    assert row is not None
    return dict(row)


def _refused(engine: Engine, *expected: str, **given: Any) -> str:
    with pytest.raises(setup.SetupError) as caught, transaction(engine) as conn:
        _site(conn, **given)
    for text in expected:
        assert text in str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize("region", ["ZZ", "12", "ÄÖ", "", "  ", "RUS", "001"])
def test_regions_the_phone_library_does_not_know_are_refused(engine: Engine, region: str) -> None:
    _refused(engine, "region", repr(region), region=region)


def test_a_known_region_is_stored_upper_case(engine: Engine) -> None:
    with transaction(engine) as conn:
        row = _site(conn, region=" kz ", original_numbers=["8 (727) 258-25-25"])
    assert row["region"] == "KZ"
    assert row["original_numbers"] == ["+77272582525"]


@pytest.mark.parametrize("currency", ["ÄÖÜ", "R1B", "", "RUBL", "€€€"])
def test_currencies_not_shaped_like_iso_4217_are_refused(engine: Engine, currency: str) -> None:
    _refused(engine, "currency", currency=currency)


def test_a_currency_is_stored_upper_case(engine: Engine) -> None:
    with transaction(engine) as conn:
        assert _site(conn, currency=" eur")["currency"] == "EUR"


@pytest.mark.parametrize(
    "domain", ["ex ample.com", "http://[::1", "a_b.example", "-shop.example", "x" * 70 + ".com"]
)
def test_domains_that_are_not_host_names_are_refused_by_name(engine: Engine, domain: str) -> None:
    message = _refused(engine, repr(domain), domains=[domain])
    assert "timezone" not in message


def test_a_wildcard_domain_is_refused_with_what_to_give_instead(engine: Engine) -> None:
    _refused(engine, "'shop.example'", "subdomains", domains=["*.shop.example"])


def test_domains_are_stored_as_browsers_send_them(engine: Engine) -> None:
    with transaction(engine) as conn:
        row = _site(
            conn, domains=["https://WWW.Shop.example/path", "Пицца.рф", "shop.example:8080"]
        )
    assert row["domains"] == ["shop.example", "www.shop.example", "xn--80apu3aa.xn--p1ai"]


def test_an_unknown_timezone_is_still_named(engine: Engine) -> None:
    _refused(engine, "timezone", "'Mars/Base'", timezone="Mars/Base")


def test_an_excluded_channel_is_bounded_like_the_channel_columns(engine: Engine) -> None:
    _refused(engine, "excluded channel", "255", excluded_channels=["x" * 100_000])
    with transaction(engine) as conn:
        assert _site(conn, excluded_channels=["X" * 255])["excluded_channels"] == ["x" * 255]


@pytest.mark.parametrize(
    "given",
    [
        {"name": "Shop \ud800"},
        {"domains": ["shop\udcff.example"]},
        {"excluded_channels": ["\ud800"]},
        {"timezone": "\ud800"},
        {"original_numbers": ["+7495\ud8001096375"]},
        {"name": "Shop\x00"},
        {"excluded_channels": ["cpc\x00"]},
    ],
)
def test_lone_surrogates_and_nul_in_site_fields_are_refused(
    engine: Engine, given: dict[str, Any]
) -> None:
    [field] = given
    _refused(engine, field, "not valid text", **given)


def test_a_site_needs_an_existing_account(engine: Engine) -> None:
    with pytest.raises(setup.SetupError, match="no account 999"), transaction(engine) as conn:
        setup.create_site(conn, 999, setup.SiteInput(name="Shop"), time.time())


def _number(engine: Engine, **given: Any) -> int:
    with transaction(engine) as conn:
        row = _site(conn, default_destination="+74951096375")
        data = setup.NumberInput(**{"number": "+74951112233", "kind": "pool", **given})
        return setup.add_number(conn, row["account_id"], row["id"], data, time.time())


@pytest.mark.parametrize("cost", [float("inf"), float("-inf"), float("nan"), -0.01])
def test_a_monthly_cost_must_be_finite_and_not_negative(engine: Engine, cost: float) -> None:
    with pytest.raises(setup.SetupError, match="monthly_cost"):
        _number(engine, monthly_cost=cost)


def test_a_monthly_cost_of_zero_or_more_is_kept(engine: Engine) -> None:
    assert _number(engine, monthly_cost=0.0) > 0


@pytest.mark.parametrize(
    "given",
    [
        {"kind": "static", "label": "Billboard \ud800"},
        {"kind": "static", "source": "\udcff"},
        {"medium": "\ud800"},
        {"campaign": "\ud800"},
        {"number": "\ud800"},
    ],
)
def test_lone_surrogates_in_number_fields_are_refused(
    engine: Engine, given: dict[str, Any]
) -> None:
    field = next(iter(f for f in given if f != "kind"))
    with pytest.raises(setup.SetupError, match=f"{field}.*not valid text"):
        _number(engine, **given)


@pytest.mark.parametrize(
    ("field", "limit"), [("label", 200), ("source", 255), ("medium", 255), ("campaign", 255)]
)
def test_number_texts_are_bounded_like_their_columns(
    engine: Engine, field: str, limit: int
) -> None:
    with pytest.raises(setup.SetupError, match=f"{field}.*{limit}"):
        _number(engine, **{"kind": "static", "label": "Billboard", field: "x" * (limit + 1)})
