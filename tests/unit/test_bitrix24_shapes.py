"""Bitrix24's wire formats without a network: the incoming webhook's URL (checked,
masked), answers read into retry or refusal, a lead's fields from an event's payload,
the outgoing webhook's form and a deal read back."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from callpath.domain.outbox import retryable
from callpath.integrations.bitrix24 import deal, lead, rest, sender
from callpath.integrations.http import Outcome

BASE = "https://shop.bitrix24.ru/rest/7/abcd1234efgh5678/"


def test_the_webhook_url_is_checked_and_normalised() -> None:
    assert rest.base_url(" https://shop.bitrix24.ru/rest/7/abcd1234efgh5678 ") == BASE
    assert rest.base_url(BASE + "profile.json") == BASE
    assert rest.base_url(BASE + "crm.lead.add") == BASE
    for bad in (
        "",
        "ftp://shop.bitrix24.ru/rest/7/abcd1234efgh5678/",
        "https://shop.bitrix24.ru/",
        "https://shop.bitrix24.ru/rest/abcd1234efgh5678/",
        "https://shop.bitrix24.ru/rest/7/abcd1234efgh5678/?auth=x",
        "https://user:pw@shop.bitrix24.ru/rest/7/abcd1234efgh5678/",
    ):
        with pytest.raises(rest.BadWebhook):
            rest.base_url(bad)


def test_the_code_is_masked_and_kept_out_of_texts() -> None:
    assert rest.masked(BASE) == "https://shop.bitrix24.ru/rest/7/ab…78/"
    assert rest.hide_code(f"error at {BASE}crm.lead.add", BASE) == (
        "error at https://shop.bitrix24.ru/rest/7/***/crm.lead.add"
    )
    request = rest.call(BASE, "crm.deal.get", {"id": 5})
    assert request.url == BASE + "crm.deal.get.json" and json.loads(request.body) == {"id": 5}
    with pytest.raises(ValueError):
        rest.call(BASE, "../profile", {})


def _answer(status: int | None, body: Any) -> rest.Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return rest.read(Outcome(status, 3, raw.decode(errors="replace"), None, raw), BASE)


def test_answers_say_whether_to_try_again() -> None:
    ok = _answer(200, {"result": 42, "time": {}})
    assert ok.ok and ok.result == 42
    cases = [
        (503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}, 503),
        (200, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": ""}, 503),
        (429, {"error": "OPERATION_TIME_LIMIT"}, 429),
        (500, {"error": "INTERNAL_SERVER_ERROR"}, 500),
        (401, {"error": "INVALID_CREDENTIALS", "error_description": "x"}, 401),
        (401, {"error": "insufficient_scope"}, 401),
        (200, {"error": "ACCESS_DENIED"}, 400),
        (400, {"error": "", "error_description": "Not found"}, 400),
        (200, b"<html>not bitrix</html>", 502),
        (200, {"time": {}}, 502),
    ]
    for status, body, expected in cases:
        found = _answer(status, body)
        assert not found.ok and found.outcome.status == expected, (status, body)
    assert not retryable(_answer(401, {"error": "INVALID_CREDENTIALS"}).outcome.status)
    assert retryable(_answer(503, {"error": "QUERY_LIMIT_EXCEEDED"}).outcome.status)
    lost = rest.read(Outcome(None, 5000, f"timeout at {BASE}"), BASE)
    assert lost.outcome.status is None and "abcd1234" not in lost.error


PAYLOAD: dict[str, Any] = {
    "lead": {"id": "L1", "call_id": "c1", "caller": "+79161234567", "target": True},
    "call": {
        "id": "c1",
        "caller": "+79161234567",
        "tracking_number": "+74951112233",
        "status": "answered",
        "started_at": "2027-01-15T08:01:00Z",
        "duration": 95.2,
        "talk": 90,
        "wait": 5,
        "recording_url": "https://pbx.example/rec/c1.mp3",
    },
    "attribution": {
        "method": "pool",
        "confidence": 0.93,
        "channel": {"source": "google", "medium": "cpc", "campaign": "winter"},
        "session": {
            "landing_url": "https://shop.example/?utm_source=google",
            "utm": {"source": "google", "medium": "cpc", "campaign": "w" * 300},
            "click_ids": {"gclid": "G-42", "yclid": "Y-7"},
        },
    },
}


def test_a_lead_says_who_called_from_where() -> None:
    fields = lead.lead_fields(PAYLOAD)
    assert fields["TITLE"] == "Call from +7 916 123-45-67"
    assert fields["UTM_SOURCE"] == "google" and len(fields["UTM_CAMPAIGN"]) == 255
    assert "UTM_TERM" not in fields
    assert "Click ids: gclid=G-42, yclid=Y-7" in fields["COMMENTS"]
    assert "confidence 93%" in fields["COMMENTS"]
    card = lead.card_request("101", PAYLOAD)["fields"]
    assert card["ENTITY_ID"] == 101 and card["ENTITY_TYPE"] == "lead"
    assert "Recording: https://pbx.example/rec/c1.mp3" in card["COMMENT"]
    assert "Counted as: target call" in card["COMMENT"]
    hidden = lead.lead_fields({"lead": {"call_id": "c2"}, "call": {"id": "c2"}})
    assert hidden["TITLE"] == "Call from a hidden number" and "PHONE" not in hidden
    assert "Not matched to a visit" in hidden["COMMENTS"]


def test_the_outgoing_webhook_form_is_read() -> None:
    body = (
        b"event=ONCRMDEALUPDATE&data%5BFIELDS%5D%5BID%5D=759&ts=1736405807"
        b"&auth%5Bdomain%5D=shop.bitrix24.ru&auth%5Bapplication_token%5D=tok123456"
    )
    event = deal.read_event(body)
    assert (event.event, event.deal_id, event.token, event.domain) == (
        "ONCRMDEALUPDATE",
        "759",
        "tok123456",
        "shop.bitrix24.ru",
    )
    other = deal.read_event(b"event=ONCRMLEADADD&auth[application_token]=t")
    assert other.event == "ONCRMLEADADD" and other.deal_id == ""


def test_a_deal_read_back_becomes_ours() -> None:
    won = deal.read_deal(
        {
            "ID": "410",
            "TITLE": "Oven",
            "STAGE_SEMANTIC_ID": "S",
            "OPPORTUNITY": "1000000.00",
            "CURRENCY_ID": "EUR",
            "LEAD_ID": None,
            "CONTACT_ID": "84",
            "MOVED_TIME": "2024-08-30T14:29:00+02:00",
        }
    )
    assert (won.status, won.amount, won.currency, won.lead_id, won.contact_id) == (
        "won",
        "1000000.00",
        "EUR",
        None,
        "84",
    )
    assert won.closed_at == 1725020940.0
    open_ = deal.read_deal({"ID": 1, "STAGE_SEMANTIC_ID": "P", "LEAD_ID": "0"})
    assert (open_.status, open_.amount, open_.lead_id, open_.closed_at) == ("open", "0", None, None)
    assert deal.read_deal({"ID": "2", "STAGE_SEMANTIC_ID": "F"}).status == "lost"
    for bad in (None, [], {"ID": "x"}, {"TITLE": "no id"}):
        with pytest.raises(deal.BadDeal):
            deal.read_deal(bad)
    assert deal.phone_of({"PHONE": [{"VALUE": "+7 916 123-45-67", "VALUE_TYPE": "WORK"}]})
    assert deal.phone_of({"PHONE": "nonsense"}) is None


def test_spam_and_other_events_make_no_request() -> None:
    nothing = SimpleNamespace(client=None, links=None)  # touched: an AttributeError
    spam = {"type": "lead.created", "payload": {"lead": {"call_id": "c1", "spam": True}}}
    other = {"type": "deal.updated", "payload": {}}
    for event in (spam, other):
        outcome = sender.send(nothing, {}, event, 0.0)
        assert outcome.ok and "not sent" in outcome.excerpt
