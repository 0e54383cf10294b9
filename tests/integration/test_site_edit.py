"""Changing a site's settings through the REST API and the site page: only the fields given
change, the key never does, bad values are refused with the reason (nothing stored), other
accounts' sites are not found, operators cannot, and a new default destination is where
the next call goes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from callpath import settings as settings_mod
from callpath.services import accounts, setup
from callpath.storage import site_repo
from callpath.storage.db import transaction
from callpath.web.app import create_app
from tests.helpers import (
    Seeded,
    add_hook,
    add_login,
    api_headers,
    iso,
    log_in,
    next_number,
    seed_site,
)

NEW_OFFICE = "+74952223344"


@pytest.fixture
def app(engine: Engine, database_url: str) -> FastAPI:
    return create_app(settings_mod.load({"CALLPATH_DATABASE_URL": database_url}))


@pytest.fixture
def site(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=2, domains=("shop.example",))


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def headers(engine: Engine, site: Seeded) -> dict[str, str]:
    return api_headers(engine, site, "owner")


def _row(engine: Engine, site_id: int) -> dict[str, Any]:
    with transaction(engine, write=False) as conn:
        row = site_repo.site_row(conn, site_id=site_id)
    assert row is not None
    return row


def _as(client: TestClient, engine: Engine, site: Seeded, role: str) -> TestClient:
    return log_in(client, add_login(engine, site, role))  # type: ignore[no-any-return]


# -- REST API ----------------------------------------------------------------------------


def test_an_owner_changes_only_the_fields_given_and_never_the_key(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    before = _row(engine, site.site_id)
    _as(client, engine, site, "owner")  # the login cookie works for the API too
    url = f"/api/v1/sites/{site.site_id}"
    body = {"default_destination": "8 (495) 222-33-44", "timezone": "Asia/Almaty"}
    r = client.patch(url, json={**body, "hold_after_leave": 120})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["default_destination"] == NEW_OFFICE  # stored in E.164
    assert (answer["timezone"], answer["hold_after_leave"]) == ("Asia/Almaty", 120)
    assert answer["key"] == site.key and answer["id"] == site.site_id
    after = _row(engine, site.site_id)
    changed = {"default_destination", "timezone", "hold_after_leave"}
    assert {k for k in before if before[k] != after[k]} == changed
    assert client.get(url).json() == answer


def test_one_site_is_read_and_another_accounts_is_not_found(
    client: TestClient, engine: Engine, site: Seeded, headers: dict[str, str]
) -> None:
    r = client.get(f"/api/v1/sites/{site.site_id}", headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["key"], r.json()["domains"]) == (site.key, ["shop.example"])
    theirs = seed_site(engine, pool_size=0)
    for method in ("GET", "PATCH"):
        r = client.request(
            method, f"/api/v1/sites/{theirs.site_id}", json={"name": "Mine"}, headers=headers
        )
        assert r.status_code == 404 and "site" in r.json()["error"], r.text
    assert _row(engine, theirs.site_id)["name"] == "Test site"
    r = client.patch("/api/v1/sites/2147483000", json={"name": "x"}, headers=headers)
    assert r.status_code == 404


@pytest.mark.parametrize("role", ["operator", "analyst"])
def test_operators_and_analysts_cannot_change_a_site(
    client: TestClient, engine: Engine, site: Seeded, role: str
) -> None:
    before = _row(engine, site.site_id)
    _as(client, engine, site, role)
    r = client.patch(f"/api/v1/sites/{site.site_id}", json={"default_destination": NEW_OFFICE})
    assert r.status_code == 403 and "owners, admins" in r.json()["error"]
    assert _row(engine, site.site_id) == before
    assert client.get(f"/api/v1/sites/{site.site_id}").status_code == 200  # reading is fine


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ('{"region": "ZZ"}', 400, "region"),
        ('{"currency": "ÄÖÜ"}', 400, "currency"),
        ('{"timezone": "Mars/Base"}', 400, "'Mars/Base'"),
        ('{"domains": ["*.shop.example"]}', 400, "subdomains"),
        ('{"domains": ["ex ample.com"]}', 400, "'ex ample.com'"),
        ('{"hold_after_leave": 5}', 400, "hold_after_leave must be 60..86400"),
        ('{"cooldown": 99999999999999999999999}', 400, "cooldown must be"),
        ('{"ping_interval": 1}', 400, "ping_interval"),
        ('{"match_window": 999999999}', 422, "match_window"),
        ('{"name": "   "}', 400, "name must not be empty"),
        ('{"name": ""}', 422, "name"),
        ('{"default_destination": "twelve"}', 400, "default destination"),
        ('{"default_destination": ""}', 400, "not removed"),
        ('{"default_destination": null}', 422, "null"),
        ('{"original_numbers": ["123"]}', 400, "original number"),
        ('{"excluded_channels": ["' + "c" * 256 + '"]}', 422, "excluded_channels"),
        ('{"domains": "shop.example"}', 422, "domains"),
        ('{"key": "newkey"}', 422, "key"),
        ('{"default_destinaton": "+74952223344"}', 422, "default_destinaton"),
        ('{"name": "\\ud800"}', 422, "body.name"),
        ('{"name": "a\\u0000b"}', 422, "NUL"),
        ('{"domains": ["shop\\udfff.example"]}', 422, "body.domains"),
        ('{"timezone": "Europe/Moscow\\u0000"}', 422, "NUL"),
        ("[1, 2]", 422, "body"),
        ("not json", 422, "body"),
    ],
)
def test_bad_values_are_refused_with_the_reason_and_nothing_changes(
    client: TestClient,
    engine: Engine,
    site: Seeded,
    headers: dict[str, str],
    body: str,
    status: int,
    reason: str,
) -> None:
    before = _row(engine, site.site_id)
    r = client.patch(
        f"/api/v1/sites/{site.site_id}",
        content=body.encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert r.status_code == status, r.text
    assert reason in json.dumps(r.json(), ensure_ascii=False), r.text
    assert _row(engine, site.site_id) == before


def test_a_destination_is_read_in_the_region_given_with_it(
    client: TestClient, engine: Engine, site: Seeded, headers: dict[str, str]
) -> None:
    body = {"region": "kz", "default_destination": "8 (727) 258-25-25", "domains": []}
    r = client.patch(f"/api/v1/sites/{site.site_id}", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["region"], r.json()["default_destination"]) == ("KZ", "+77272582525")
    assert r.json()["domains"] == []  # an empty list is a value: any domain
    assert r.json()["original_numbers"] == [site.original]  # kept, already E.164


def test_a_site_without_a_default_destination_may_stay_without_one(engine: Engine) -> None:
    with transaction(engine) as conn:
        account = accounts.create_account(conn, "Other", time.time())
        made = setup.create_site(conn, account, setup.SiteInput(name="Bare"), time.time())
        row = setup.update_site(
            conn, account, made["id"], setup.SiteChanges(default_destination="", name="Bare 2")
        )
    assert (row["name"], row["default_destination"]) == ("Bare 2", None)
    with pytest.raises(setup.NotFound), transaction(engine) as conn:
        setup.update_site(conn, account + 1, made["id"], setup.SiteChanges(name="Stolen"))


def test_the_tracker_sees_new_domains_at_once(
    client: TestClient, engine: Engine, site: Seeded, headers: dict[str, str]
) -> None:
    visit = {"site": site.key, "url": "https://new.example/"}
    origin = {"Origin": "https://new.example"}
    assert client.post("/t/v1/session", json=visit, headers=origin).status_code == 403
    r = client.patch(
        f"/api/v1/sites/{site.site_id}", json={"domains": ["new.example"]}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert client.post("/t/v1/session", json=visit, headers=origin).status_code == 200


# -- Routing -------------------------------------------------------------------------------


@pytest.fixture
def running(app: FastAPI) -> Iterator[TestClient]:
    """The app with its lifespan: a call worker and a freshly loaded route cache."""
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_the_next_call_goes_to_the_new_default_destination(
    app: FastAPI, running: TestClient, engine: Engine, site: Seeded, headers: dict[str, str]
) -> None:
    hook = add_hook(engine, site)
    app.state.ctx.pipeline.refresh_routes()  # the route cache knows the integration: fresh
    retired = site.pool[1]
    with transaction(engine) as conn:
        number = site_repo.number_by_e164(conn, retired)
        assert number is not None
        setup.set_number_active(conn, site.account_id, int(number["id"]), False)

    def call(call_id: str, called: str) -> Any:
        event = {"event": "started", "call_id": call_id, "at": iso(time.time())}
        r = hook.post(running, {**event, "called": called, "caller": next_number()})
        assert r.status_code == 200, r.text
        return r.json()["forward_to"]

    assert call("before-1", str(site.default)) == site.original
    assert call("before-2", retired) == site.original
    r = running.patch(
        f"/api/v1/sites/{site.site_id}", json={"default_destination": NEW_OFFICE}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert call("after-1", str(site.default)) == NEW_OFFICE  # the site's default number
    assert call("after-2", retired) == NEW_OFFICE  # a retired number: the integration's
    assert call("after-3", "+74950000000") == NEW_OFFICE  # a number not tracked at all


# -- The site page -------------------------------------------------------------------------


def _form(site: Seeded, **given: str) -> dict[str, str]:
    """The settings form as the page fills it, with `given` typed over it."""
    return {
        "name": "Test site",
        "default_destination": site.original,
        "domains": "shop.example",
        "original_numbers": site.original,
        "timezone": "Europe/Moscow",
        "region": "RU",
        "currency": "RUB",
        "excluded_channels": "",
        "hold_after_leave": "60",
        "cooldown": "60",
        "ping_interval": "30",
        "session_timeout": "1800",
        "match_window": "172800",
        **given,
    }


def test_an_owner_saves_the_settings_form(client: TestClient, engine: Engine, site: Seeded) -> None:
    _as(client, engine, site, "owner")
    page = client.get(f"/app/sites/{site.site_id}").text
    assert f'action="/app/sites/{site.site_id}/settings#settings"' in page
    assert (
        f'name="default_destination" placeholder="the office number"\n value="{site.original}"'
        in (page)
    )
    form = _form(
        site,
        name="Shop & Co",
        default_destination="8 495 222-33-44",
        domains="shop.example, Пицца.рф",
        excluded_channels="Organic",
        hold_after_leave="300",
        match_window="86400",
    )
    r = client.post(f"/app/sites/{site.site_id}/settings", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/app/sites/{site.site_id}?saved=1#settings"
    row = _row(engine, site.site_id)
    assert row["name"] == "Shop & Co" and row["default_destination"] == NEW_OFFICE
    assert row["domains"] == ["shop.example", "xn--80apu3aa.xn--p1ai"]
    assert row["excluded_channels"] == ["organic"]
    assert (row["hold_after_leave"], row["match_window"], row["key"]) == (300, 86400, site.key)
    page = client.get(r.headers["location"]).text
    assert 'id="settings-saved"' in page and f'value="{NEW_OFFICE}"' in page
    assert "Shop &amp; Co" in page
    r = client.post(
        f"/app/sites/{site.site_id}/settings", data=_form(site, domains=""), follow_redirects=False
    )
    assert r.status_code == 303 and _row(engine, site.site_id)["domains"] == []


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({"hold_after_leave": "5"}, "hold_after_leave must be 60..86400 s"),
        ({"cooldown": "soon"}, "cooldown: a whole number of seconds, not &#39;soon&#39;"),
        ({"match_window": "9" * 5000}, "match_window: a whole number of seconds"),
        ({"timezone": "Mars/Base"}, "unknown timezone"),
        ({"default_destination": ""}, "not removed"),
        ({"name": ""}, "site name must not be empty"),
        ({"region": "ZZ"}, "region must be a country code"),
    ],
)
def test_the_settings_form_shows_why_it_refused_and_keeps_what_was_typed(
    client: TestClient, engine: Engine, site: Seeded, given: dict[str, str], reason: str
) -> None:
    before = _row(engine, site.site_id)
    _as(client, engine, site, "admin")
    form = _form(site, **{"name": "Typed name", **given})
    r = client.post(f"/app/sites/{site.site_id}/settings", data=form)
    assert r.status_code == 400
    error = r.text.split('id="settings-error">', 1)[1].split("</p>", 1)[0]
    assert reason in error
    typed = given.get("name", "Typed name")
    assert f'name="name" required maxlength="200" value="{typed}"' in r.text
    assert _row(engine, site.site_id) == before


def test_operators_see_no_settings_form_and_cannot_post_one(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    before = _row(engine, site.site_id)
    _as(client, engine, site, "operator")
    page = client.get(f"/app/sites/{site.site_id}").text
    assert 'id="settings"' in page and "/settings#settings" not in page
    r = client.post(f"/app/sites/{site.site_id}/settings", data=_form(site, name="Mine"))
    assert r.status_code == 400 and "only owners and admins change site settings" in r.text
    assert _row(engine, site.site_id) == before


def test_the_settings_form_refuses_other_accounts_and_other_sites_pages(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    theirs = seed_site(engine, pool_size=0)
    before = _row(engine, theirs.site_id)
    _as(client, engine, site, "owner")
    r = client.post(f"/app/sites/{theirs.site_id}/settings", data=_form(theirs, name="Mine"))
    assert r.status_code == 404
    forged = client.post(
        f"/app/sites/{site.site_id}/settings",
        data=_form(site, name="Forged"),
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert _row(engine, theirs.site_id) == before
    assert _row(engine, site.site_id)["name"] == "Test site"
