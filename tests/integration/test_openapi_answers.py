"""`/openapi.json` names every answer of the REST API and the tracker, and what the server
really answers is what it says: each operation is called on the demo's history and its
answer checked against the served document (JSON Schema), errors included. A client
generated from the document reads every field."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from sqlalchemy import Engine, select, update

from callpath import settings as settings_mod
from callpath.services import auth
from callpath.storage.db import transaction
from callpath.storage.tables import calls, sessions, sites, users
from callpath.web import report_query
from callpath.web.app import create_app
from tests.helpers import wait_for

CHECKED = ("/api/v1/", "/t/v1/")  # the operations a client is generated for
METHODS = ("get", "post", "put", "patch", "delete")


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method in METHODS and path.startswith(CHECKED):
                yield method, path, op


@dataclass
class Api:
    """Calls operations by their documented path and checks each answer against it."""

    client: TestClient
    doc: dict[str, Any]
    headers: dict[str, str]
    answered: set[tuple[str, str]] = field(default_factory=set)

    def call(self, method: str, template: str, status: int, **kw: Any) -> httpx.Response:
        """`path={...}` fills the template's parameters."""
        args = kw.pop("path", {})
        headers = {**self.headers, **kw.pop("headers", {})}
        r = self.client.request(method, template.format(**args), headers=headers, **kw)
        assert r.status_code == status, f"{method} {template}: {r.status_code} {r.text[:300]}"
        self.check(method, template, r)
        return r

    def check(self, method: str, path: str, r: httpx.Response) -> None:
        declared = self.doc["paths"][path][method]["responses"]
        assert str(r.status_code) in declared, f"{method} {path}: {r.status_code} undeclared"
        content = declared[str(r.status_code)].get("content", {})
        media = r.headers["content-type"].split(";")[0]
        assert media in content, f"{method} {path}: {media} not among {list(content)}"
        if media == "application/json":
            schema = {**content[media]["schema"], "components": self.doc["components"]}
            worst = best_match(Draft202012Validator(schema).iter_errors(r.json()))
            where = "/".join(map(str, worst.absolute_path)) if worst else ""
            assert worst is None, f"{method} {path}: {where}: {worst.message[:300]}"
        if 200 <= r.status_code < 300:
            self.answered.add((method, path))


@pytest.fixture
def demo(engine: Engine, database_url: str) -> dict[str, Any]:
    """`callpath demo` (its 60 days of history) and one of its answered, matched calls."""
    env = {**os.environ, "CALLPATH_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "callpath", "demo"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    email = re.search(r"login:\s+(\S+)", done.stdout)
    assert email, done.stdout
    with transaction(engine) as conn:
        site = conn.execute(select(sites).where(sites.c.key == "demo")).mappings().one()
        call = (
            conn.execute(
                select(calls.c.id, calls.c.session_id, calls.c.visitor_id)
                .where(calls.c.site_id == site["id"], calls.c.session_id.is_not(None))
                .order_by(calls.c.started_at.desc())
                .limit(1)
            )
            .mappings()
            .one()
        )
        # The visit behind the call showed a visit code (the pool was short that day).
        conn.execute(
            update(sessions).where(sessions.c.id == call["session_id"]).values(visit_code="4821")
        )
        user = conn.execute(select(users).where(users.c.email == email.group(1))).mappings().one()
        who = auth.Principal(user["id"], user["account_id"], user["email"], user["role"])
        token = auth.create_token(conn, who, "openapi check", 1.0e9)
    return {"site": site, "call": call, "token": token}


@pytest.fixture
def api(database_url: str, tmp_path: Path, demo: dict[str, Any]) -> Api:
    env = {
        "CALLPATH_DATABASE_URL": database_url,
        "CALLPATH_SPOOL_DIR": str(tmp_path),
        "CALLPATH_SITE_CACHE_SECONDS": "0",
    }
    client = TestClient(create_app(settings_mod.load(env)), raise_server_exceptions=False)
    doc = client.get("/openapi.json").json()
    return Api(client, doc, {"Authorization": f"Bearer {demo['token']}"})


def test_every_answer_is_a_named_schema_and_errors_have_ours(api: Api) -> None:
    doc = api.doc
    assert "HTTPValidationError" not in json.dumps(doc)  # our 422 says {"error", "details"}
    for method, path, op in _operations(doc):
        answers = op["responses"]
        ok = [code for code in answers if code.startswith("2")]
        assert ok, f"{method} {path}"
        for code in ok:
            content = answers[code]["content"]
            for media, body in content.items():
                schema = body["schema"]
                if media == "application/json":
                    assert schema.get("$ref") or schema.get("anyOf"), f"{method} {path}: {schema}"
                else:
                    assert schema["type"] == "string", f"{method} {path} {media}"
        for code in ("400", "404", "503"):
            error = answers[code]["content"]["application/json"]["schema"]["$ref"]
            assert error == "#/components/schemas/Error", f"{method} {path} {code}"
    for name, schema in doc["components"]["schemas"].items():
        if schema.get("type") == "object" and not name.endswith("In"):
            assert schema.get("properties"), f"{name} names no field"


def test_every_operation_answers_what_the_document_says(api: Api, demo: dict[str, Any]) -> None:
    site_id, call = demo["site"]["id"], demo["call"]
    _admin(api, site_id)
    _calls_and_visits(api, site_id, call)
    hook = _webhook(api, site_id)
    _money(api, site_id, call["id"])
    _leads(api, site_id)
    _deliveries(api, hook)
    _pool(api, site_id)
    _reports(api, call["id"])
    _tracker(api)
    _errors(api)
    documented = {(m, p) for m, p, _ in _operations(api.doc)}
    assert documented - api.answered == set(), "operations this test never called"


def _admin(api: Api, site_id: int) -> None:
    assert api.call("get", "/api/v1/sites", 200).json()["items"]
    api.call("get", "/api/v1/sites/{site_id}", 200, path={"site_id": site_id})
    body = {
        "name": "Second shop",
        "domains": ["second.example"],
        "default_destination": "+74957770000",
    }
    new = api.call("post", "/api/v1/sites", 201, json=body).json()
    api.call("patch", "/api/v1/sites/{site_id}", 200, path={"site_id": new["id"]}, json=body)
    number = {"number": "+74957770011", "kind": "static", "source": "flyer", "medium": "print"}
    added = api.call(
        "post", "/api/v1/sites/{site_id}/numbers", 201, path={"site_id": new["id"]}, json=number
    ).json()
    api.call("get", "/api/v1/sites/{site_id}/numbers", 200, path={"site_id": site_id})
    api.call("get", "/api/v1/numbers", 200, params={"limit": 3})
    api.call(
        "patch",
        "/api/v1/numbers/{number_id}",
        200,
        path={"number_id": added["id"]},
        json={"active": False},
    )


def _calls_and_visits(api: Api, site_id: int, call: dict[str, Any]) -> None:
    page = api.call("get", "/api/v1/calls", 200, params={"site_id": site_id, "limit": 200})
    assert len(page.json()["items"]) == 200 and page.json()["next_cursor"]
    one = {"call_id": call["id"]}
    api.call("get", "/api/v1/calls/{call_id}", 200, path=one)
    coded = api.call(
        "post", "/api/v1/calls/{call_id}/visit-code", 200, path=one, json={"code": "4821"}
    )
    assert coded.json()["match"]["visit_code"]["code"] == "4821"
    api.call("get", "/api/v1/calls.csv", 200, params={"site_id": site_id})
    visits = {"site_id": site_id, "visitor_id": call["visitor_id"]}
    assert api.call("get", "/api/v1/sessions", 200, params=visits).json()["items"]
    api.call("get", "/api/v1/sessions", 200, params={"limit": 100})


def _webhook(api: Api, site_id: int) -> int:
    body = {
        "url": "http://127.0.0.1:9/hook",
        "events": ["deal.updated"],
        "site_id": site_id,
        "allow_private": True,
    }
    made = api.call("post", "/api/v1/webhooks", 201, json=body).json()
    assert made["secret"] and made["state"] == "active"
    one = {"webhook_id": made["id"]}
    api.call("get", "/api/v1/webhooks/{webhook_id}", 200, path=one)
    api.call("post", "/api/v1/webhooks/{webhook_id}/pause", 200, path=one)
    assert api.call("post", "/api/v1/webhooks/{webhook_id}/resume", 200, path=one).json()
    assert "secret" not in api.call("get", "/api/v1/webhooks", 200).json()["items"][0]
    return int(made["id"])


def _deliveries(api: Api, hook: int) -> None:
    one = {"webhook_id": hook}
    log = api.call("get", "/api/v1/webhooks/{webhook_id}/deliveries", 200, path=one).json()
    kinds = {d["type"] for d in log["items"]}
    assert "deal.updated" in kinds, kinds
    first = {"delivery_id": log["items"][0]["id"]}
    shown = api.call("get", "/api/v1/deliveries/{delivery_id}", 200, path=first).json()
    assert shown["payload"]
    api.call("post", "/api/v1/deliveries/{delivery_id}/replay", 200, path=first)
    period = {"from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}
    replayed = api.call("post", "/api/v1/webhooks/{webhook_id}/replay", 200, path=one, json=period)
    assert replayed.json()["replayed"] == len(log["items"]) or log["next_cursor"]
    api.call("delete", "/api/v1/webhooks/{webhook_id}", 200, path=one)
    api.call("get", "/api/v1/webhooks/{webhook_id}", 404, path=one)


def _money(api: Api, site_id: int, call_id: str) -> None:
    where = {"site_id": site_id}
    spend = (
        "Date,UTMSource,UTMMedium,UTMCampaign,UTMTerm,UTMContent,Expenses,Currency,Clicks\n"
        "2026-01-05,flyer,print,,,,1200.50,RUB,\n"
    )
    api.call("post", "/api/v1/sites/{site_id}/costs", 200, path=where, content=spend.encode())
    days = {"from": "2026-01-01", "to": "2026-01-31"}
    assert api.call("get", "/api/v1/sites/{site_id}/costs", 200, path=where, params=days).json()
    deal = {"amount": "1500.00", "status": "won", "external_id": "crm-1", "call_id": call_id}
    made = api.call("post", "/api/v1/deals", 201, json=deal).json()
    api.call("post", "/api/v1/deals", 200, json={**deal, "amount": 1700})
    api.call("get", "/api/v1/deals/{deal_id}", 200, path={"deal_id": made["id"]})
    api.call("get", "/api/v1/deals", 200, params={"status": "won"})


def _leads(api: Api, site_id: int) -> None:
    where = {"site_id": site_id}
    api.call("get", "/api/v1/sites/{site_id}/lead-rules", 200, path=where)
    rules = {"target_talk": 45, "unique_days": None}
    api.call("patch", "/api/v1/sites/{site_id}/lead-rules", 200, path=where, json=rules)
    period = {"from": "2020-01-01", "to": "2030-01-01"}
    api.call("post", "/api/v1/sites/{site_id}/leads/classify", 200, path=where, json=period)
    for model in ("first_touch", "linear"):
        leads = api.call("get", "/api/v1/leads", 200, params={"model": model, "limit": 500})
        assert any(lead["value"] for lead in leads.json()["items"])
    api.call("post", "/api/v1/blocked-numbers", 201, json={"number": "+79990001122"})
    assert api.call("get", "/api/v1/blocked-numbers", 200).json()["items"]
    api.call("delete", "/api/v1/blocked-numbers/{number}", 200, path={"number": "+79990001122"})


def _pool(api: Api, site_id: int) -> None:
    where = {"site_id": site_id}
    api.call("get", "/api/v1/sites/{site_id}/pool", 200, path=where)
    body = {"target": 0.9, "days": 1, "sizes": [1, 3]}
    started = api.call("post", "/api/v1/sites/{site_id}/pool/plans", 202, path=where, json=body)
    one = {**where, "plan_id": started.json()["id"]}

    def finished() -> bool:
        r = api.client.get(
            f"/api/v1/sites/{site_id}/pool/plans/{one['plan_id']}", headers=api.headers
        )
        return r.json()["status"] != "running"

    wait_for(finished, seconds=600)  # generously: a busy machine replays slowly
    plan = api.call("get", "/api/v1/sites/{site_id}/pool/plans/{plan_id}", 200, path=one)
    assert plan.json()["status"] == "done" and plan.json()["result"]["points"]
    api.call("get", "/api/v1/sites/{site_id}/pool/plans", 200, path=where)
    api.call("get", "/api/v1/sites/{site_id}/pool", 200, path=where)  # with its latest plan


def _reports(api: Api, call_id: str) -> None:
    path = "/api/v1/reports/{name}"
    for name in report_query.TABLES:
        r = api.call("get", path, 200, path={"name": name}, params={"site": "demo"})
        assert r.json()["rows"], name
    api.call("get", path, 200, path={"name": "call-center"}, params={"site": "demo"})
    journey = api.call(
        "get", path, 200, path={"name": "journey"}, params={"site": "demo", "call": call_id}
    )
    assert {e["kind"] for e in journey.json()["events"]} >= {"visit", "call"}
    for fmt in ("csv", "xlsx"):
        api.call(
            "get", path, 200, path={"name": "channels"}, params={"site": "demo", "format": fmt}
        )


def _tracker(api: Api) -> None:
    origin = {"Origin": "https://shop.example"}
    visit = {"site": "demo", "url": "https://shop.example/?utm_source=flyer"}
    shown = api.call("post", "/t/v1/session", 200, json=visit, headers=origin).json()
    session = {"session": shown["session"]}
    api.call("post", "/t/v1/ping", 200, json=session, headers=origin)
    api.call("post", "/t/v1/event", 200, json={**session, "kind": "tel_click"}, headers=origin)
    api.call("post", "/t/v1/leave", 200, json=session, headers=origin)
    api.call("post", "/t/v1/ping", 404, json={"session": "s" * 12}, headers=origin)


def _errors(api: Api) -> None:
    api.call("get", "/api/v1/sites/{site_id}", 404, path={"site_id": 999_999})
    api.call("get", "/api/v1/calls", 400, params={"bogus": "1"})
    api.call("post", "/api/v1/sites", 422, json={"domains": "not a list"})
    api.call("get", "/api/v1/deals", 401, headers={"Authorization": "Bearer cp_nothing"})
    api.call("get", "/api/v1/reports/{name}", 404, path={"name": "nosuch"}, params={"site": "demo"})
