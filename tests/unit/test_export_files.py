"""The ad platforms' upload files, made from rows without a database: Metrica's calls CSV
and Google Ads' click conversions CSV."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from callpath.domain.deals import amount_text
from callpath.integrations.fields import usable
from callpath.integrations.google_ads.conversions_csv import (
    conversions_csv,
    offset_text,
    zone_offset,
)
from callpath.integrations.metrica.calls_csv import calls_csv
from callpath.reports.exports import ExportCall, Won

T = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def call(**given: object) -> ExportCall:
    fields: dict[str, object] = {
        "id": "c1",
        "started_at": T,
        "caller": "+79160000001",
        "static": False,
        "answered": True,
        "talk": 61.6,
        "wait": 4.4,
        "landing_url": "https://shop.example/",
        "click_ids": {"gclid": "Cj0KCQ"},
        "client_ids": {"ym": "17000001"},
        "first_time": True,
        "target": True,
    }
    fields.update(given)
    return ExportCall(**fields)  # type: ignore[arg-type]


def test_metrica_row_of_a_static_missed_unclassified_call() -> None:
    made = calls_csv(
        [call(static=True, answered=False, talk=0.0, wait=31.5, first_time=None, target=None)],
        base_url="https://cp.example",
    )
    assert made.text.splitlines()[1] == (
        "17000001,1800000000,+79160000001,1,,,0,32,1,,,https://shop.example/,"
        "https://cp.example/app/calls/c1"
    )


def test_metrica_money_durations_and_a_caller_that_is_no_number() -> None:
    made = calls_csv([call(caller="anonymous", won=Won(5, "USD"), first_time=False)])
    assert made.text.splitlines()[1] == (
        "17000001,1800000000,,0,0.05,USD,62,4,0,target,0,https://shop.example/,"
    )


def test_metrica_ids_that_are_no_ids_are_skipped_and_counted() -> None:
    calls = [
        call(client_ids={"ym": "=HYPERLINK(1)"}, click_ids={"yclid": "123"}),
        call(client_ids={}, click_ids={}),
        call(client_ids={"ym": "-17"}),
    ]
    made = calls_csv(calls)
    assert (made.rows, made.skipped, made.other_kind) == (0, 3, 1)
    assert made.text == (
        "ClientId,DateTime,PhoneNumber,StaticCall,Price,Currency,TalkDuration,HoldDuration,"
        "CallMissed,Tag,FirstTimeCaller,URL,CallTrackerURL\n"
    )


def test_google_ads_names_the_offset_and_keeps_it_across_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    since = datetime(2026, 10, 20, tzinfo=berlin).timestamp()
    offset = zone_offset("Europe/Berlin", since)
    assert offset == 7200
    after = datetime(2026, 10, 26, 12, 0, tzinfo=berlin).timestamp()  # CET, +0100
    made = conversions_csv([call(started_at=after)], "Call", offset)
    assert made.text.splitlines() == [
        "Parameters:TimeZone=+0200",
        "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
        "Cj0KCQ,Call,2026-10-26 13:00:00,,",  # the same moment, on the +0200 clock
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "+0000"), (10_800, "+0300"), (19_800, "+0530"), (-12_600, "-0330")],
)
def test_offsets_are_written_as_google_documents_them(seconds: int, text: str) -> None:
    assert offset_text(seconds) == text


def test_google_ads_click_id_columns_and_which_id_a_row_takes() -> None:
    made = conversions_csv(
        [
            call(id="a", click_ids={"gclid": "G1", "wbraid": "W1"}, won=Won(123_456, "EUR")),
            call(id="b", click_ids={"wbraid": "W2"}),
            call(id="c", click_ids={"gclid": "not an id!"}),
            call(id="d", target=False),
            call(id="e", target=None),
        ],
        "Lead",
        0,
    )
    assert made.text.splitlines()[1:] == [
        "Google Click ID,WBRAID,Conversion Name,Conversion Time,Conversion Value,"
        "Conversion Currency",
        "G1,,Lead,2027-01-15 08:00:00,1234.56,EUR",
        ",W2,Lead,2027-01-15 08:00:00,,",
    ]
    assert (made.rows, made.counted, made.skipped) == (2, 3, 1)
    every = conversions_csv([call(target=False), call(target=None)], "Lead", 0, all_calls=True)
    assert (every.rows, every.counted) == (2, 2)


def test_fields() -> None:
    assert [amount_text(c) for c in (0, 7, 100, 1_000_050, -250)] == [
        "0.00",
        "0.07",
        "1.00",
        "10000.50",
        "-2.50",
    ]
    assert usable({"a": "Cj0_-x"}, "a") == "Cj0_-x"
    assert usable({"a": "_x"}, "a") is None
    assert usable({"a": "x" * 513}, "a") is None
    assert usable({}, "a") is None
