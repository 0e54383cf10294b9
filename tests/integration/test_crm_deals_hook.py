"""Any CRM posts deals back signed with the secret of the webhook it receives calls by
(`POST /hooks/deals/{webhook_id}`): recorded or updated by external id, linked as the
API links them; a bad or stale signature, an unknown webhook or a body that is not a
deal is refused with its reason and records nothing."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from callpath.integrations import destinations
from callpath.storage.db import transaction
from callpath.storage.tables import deals
from callpath.telephony.generic.adapter import sign
from tests.helpers import Seeded


def _webhook(engine: Engine, site: Seeded) -> tuple[int, str]:
    with transaction(engine) as conn:
        added = destinations.add_webhook(
            conn, site.account_id, "http://127.0.0.1:9/crm", "all", time.time(), allow_private=True
        )
    return int(added.destination["id"]), added.secret


def _post(client: TestClient, hook: int, secret: str, body: Any, at: float | None = None) -> Any:
    raw = json.dumps(body).encode()
    stamp = str(int(at or time.time()))
    headers = {"X-Callpath-Timestamp": stamp, "X-Callpath-Signature": sign(secret, stamp, raw)}
    return client.post(f"/hooks/deals/{hook}", content=raw, headers=headers)


def _deals(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(deals.c.external_id, deals.c.amount_cents, deals.c.status)))


def test_a_signed_deal_is_recorded_then_updated(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    hook, secret = _webhook(engine, site)
    deal = {"amount": "2500.50", "status": "open", "external_id": "crm-1", "site_id": site.site_id}
    made = _post(client, hook, secret, deal)
    assert made.status_code == 201, made.text
    assert made.json()["amount"] == "2500.50"
    won = _post(client, hook, secret, {**deal, "status": "won"})
    assert won.status_code == 200 and won.json()["status"] == "won"
    assert _deals(engine) == [("crm-1", 250050, "won")]


def test_refusals_record_nothing(client: TestClient, engine: Engine, site: Seeded) -> None:
    hook, secret = _webhook(engine, site)
    deal = {"amount": "10", "external_id": "crm-2", "site_id": site.site_id}
    assert _post(client, hook, "not-the-secret", deal).status_code == 401
    assert _post(client, hook, secret, deal, at=time.time() - 3600).status_code == 401
    assert _post(client, hook + 1, secret, deal).status_code == 401
    unsigned = client.post(f"/hooks/deals/{hook}", content=json.dumps(deal).encode())
    assert unsigned.status_code == 401 and unsigned.json()["error"]
    for bad in ([1, 2], {"amount": True, "site_id": site.site_id}, {"site_id": site.site_id}):
        answer = _post(client, hook, secret, bad)
        assert answer.status_code == 400, (bad, answer.text)
    not_json = client.post(
        f"/hooks/deals/{hook}",
        content=b"{oops",
        headers={
            "X-Callpath-Timestamp": (s := str(int(time.time()))),
            "X-Callpath-Signature": sign(secret, s, b"{oops"),
        },
    )
    assert not_json.status_code == 400 and "not JSON" in not_json.text
    foreign = _post(client, hook, secret, {**deal, "site_id": 999_999})
    assert foreign.status_code == 404
    assert _deals(engine) == []
