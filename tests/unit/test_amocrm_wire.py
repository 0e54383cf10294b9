"""amoCRM's wire formats without a server: the webhook form read into lead changes (and
refused with a reason when it is not amoCRM's), and the API's requests and answers."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from callpath.integrations.amocrm import leads, status_hook

DEST: dict[str, Any] = {
    "url": "https://shop.amocrm.ru/",
    "allow_private": False,
    "config": {"token": "tok", "pipeline_id": 77, "fields": {"utm_source": 5001, "landing": 5002}},
}
PAYLOAD: dict[str, Any] = {
    "lead": {"call_id": "c1", "caller": "+79161234567", "missed": True},
    "call": {"caller": "+79161234567", "tracking_number": "+74951112233"},
    "attribution": {
        "channel": {"source": "yandex", "medium": "cpc"},
        "session": {
            "utm": {"source": "yandex", "medium": "cpc", "content": "ad-1"},
            "click_ids": {"yclid": "Y1", "msclkid": "not-amo's"},
            "referrer": None,
            "landing_url": "https://shop.example/?utm_source=yandex",
        },
    },
}


def test_a_status_form_becomes_lead_changes_the_last_change_of_a_lead_winning() -> None:
    form = urlencode(
        {
            "leads[update][0][id]": "501",
            "leads[update][0][price]": "100",
            "leads[update][0][status_id]": "20",
            "leads[status][0][id]": "501",
            "leads[status][0][status_id]": "142",
            "leads[status][0][pipeline_id]": "7",
            "leads[status][0][price]": "1500.50",
            "leads[status][0][last_modified]": "1767225600",
            "leads[status][1][id]": "502",
            "leads[status][1][status_id]": "143",
            "leads[status][1][custom_fields][0][code]": "PHONE",
            "leads[status][1][custom_fields][0][values][0][value]": "+7 916 000-00-01",
            "contacts[update][0][id]": "9",
            "contacts[update][0][linked_leads_id][501]": "501",
            "contacts[update][0][custom_fields][0][code]": "PHONE",
            "contacts[update][0][custom_fields][0][values][0][value]": "89161234567",
            "account[subdomain]": "shop",
        }
    ).encode()
    first, second = status_hook.parse(form)
    assert (first.id, first.status_id, first.pipeline_id, first.price) == (501, 142, 7, "1500.50")
    assert first.phones == ("89161234567",) and first.subdomain == "shop"
    assert first.modified_at == 1767225600.0
    assert (second.id, second.status_id, second.price, second.phones) == (
        502,
        143,
        None,
        ("+7 916 000-00-01",),
    )


@pytest.mark.parametrize(
    "body",
    [
        b"leads[status][0][id]=",
        b"leads[status][0][id]=-1",
        b"leads[status][0][id]=1&leads[status][0][pipeline_id]=1e3",
        b"leads[status][0][id]=1&leads[status][0][price]=1,5",
        b"leads[status][0][id]=1&leads[status][0]=2",
        b"leads=1",
        b"leads[status][x]=1",
        b"%ff%fe=1",
        b"leads[status][0][id]=1" + b"&a=1" * 6000,
    ],
)
def test_a_form_that_is_not_amocrms_is_refused_with_a_reason(body: bytes) -> None:
    with pytest.raises(status_hook.BadForm) as refused:
        status_hook.parse(body)
    assert str(refused.value)


def test_a_form_about_other_things_has_no_leads() -> None:
    assert status_hook.parse(b"") == []
    assert status_hook.parse(b"contacts[add][0][id]=5&account[subdomain]=shop") == []


def test_a_new_lead_carries_the_visit_by_the_fields_given_else_by_amocrms_codes() -> None:
    request = leads.complex_lead(DEST, PAYLOAD)
    assert request.method == "POST"
    assert request.url == "https://shop.amocrm.ru/api/v4/leads/complex"
    assert request.headers["Authorization"] == "Bearer tok"
    (lead,) = json.loads(request.body)
    assert lead["pipeline_id"] == 77 and lead["name"] == "Call from +7 916 123-45-67"
    assert lead["custom_fields_values"] == [
        {"values": [{"value": "yandex"}], "field_id": 5001},
        {"values": [{"value": "cpc"}], "field_code": "UTM_MEDIUM"},
        {"values": [{"value": "ad-1"}], "field_code": "UTM_CONTENT"},
        {"values": [{"value": "Y1"}], "field_code": "YCLID"},
        {"values": [{"value": "https://shop.example/?utm_source=yandex"}], "field_id": 5002},
    ]
    text = leads.note_text(PAYLOAD)
    assert "missed" in text and "yandex / cpc" in text and "+7 495 111-22-33" in text


def test_a_hidden_number_makes_a_lead_without_a_contact() -> None:
    hidden = {**PAYLOAD, "lead": {"call_id": "c2", "caller": None}, "call": {}}
    (lead,) = json.loads(leads.complex_lead({**DEST, "config": {"token": "t"}}, hidden).body)
    assert lead["name"] == "Call from a hidden number" and "_embedded" not in lead


def test_the_contact_search_keeps_contacts_with_the_callers_phone_only() -> None:
    request = leads.contacts_search(DEST, "+79161234567")
    assert request.url.endswith("/api/v4/contacts?query=9161234567&with=leads&limit=50")

    def contact(cid: int, number: str, lead_ids: list[int]) -> dict[str, Any]:
        return {
            "id": cid,
            "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": number}]}],
            "_embedded": {"leads": [{"id": i} for i in lead_ids]},
        }

    body = {
        "_embedded": {
            "contacts": [
                contact(1, "8 (916) 123-45-67", [10, 11]),
                contact(2, "+7 916 999-99-99", [12]),  # matched another field
                contact(3, "+79161234567", [11, 13]),
            ]
        }
    }
    assert leads.leads_of_contacts(json.dumps(body).encode(), "+79161234567") == [11, 13, 10]
    assert leads.leads_of_contacts(b"", "+79161234567") == []


def test_the_open_lead_is_the_latest_neither_won_nor_lost() -> None:
    body = {
        "_embedded": {
            "leads": [
                {"id": 1, "status_id": 142, "updated_at": 50},
                {"id": 2, "status_id": 20, "updated_at": 10},
                {"id": 3, "status_id": 21, "updated_at": 30},
                {"id": 4, "status_id": 143, "updated_at": 60},
            ]
        }
    }
    assert leads.open_lead(json.dumps(body).encode()) == 3
    assert leads.open_lead(b"") is None
    assert leads.created(b'[{"id": 9, "contact_id": 8, "request_id": ["0"]}]') == (9, 8)


@pytest.mark.parametrize("body", [b"<html>", b"{}", b"[]", b'[{"id": "x"}]', b"null"])
def test_an_answer_that_is_not_amocrms_is_unreadable(body: bytes) -> None:
    with pytest.raises(leads.Unreadable):
        leads.created(body)
