"""Spend files as marketers have them (domain/costs.py): three shapes, columns by name,
every refusal naming its line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from callpath.domain.costs import CostError, cents, parse

NEUTRAL = """\ufeffDate,UTMSource,UTMMedium,UTMCampaign,UTMTerm,UTMContent,Expenses,Currency,Clicks
2026-03-01,yandex,cpc,spring,sofa,ad1,1234.50,RUB,40
2026-03-02,google,cpc,spring,,,99,,7
"""

DIRECT = (
    '"Campaign report (2026-03-01 - 2026-03-02)"\n'
    "Date\tCampaignName\tCriterion\tClicks\tCost\n"
    "2026-03-01\tSpring sale\tbuy sofa\t12\t1500000000\n"
    "2026-03-02\tSpring sale\t--\t--\t250000\n"
    "Total rows: 2\n"
)

GOOGLE = (
    "Campaign report\n"
    '"March 1, 2026 - March 2, 2026"\n'
    "Campaign,Day,Currency code,Clicks,Cost\n"
    'Brand,2026-03-01,RUB,"1,204","12,345.67"\n'
    "Brand,2026-03-02,RUB,3,0.50\n"
    'Total: Account,,,"1,207","12,346.17"\n'
)


def test_the_neutral_csv_is_read_by_column_names() -> None:
    rows = parse(NEUTRAL, "csv")
    assert [(r.line, r.day, r.source, r.campaign, r.amount, r.clicks) for r in rows] == [
        (2, date(2026, 3, 1), "yandex", "spring", Decimal("1234.50"), 40),
        (3, date(2026, 3, 2), "google", "spring", Decimal("99"), 7),
    ]
    reordered = "Expenses;Date;UTMSource\n1 234,5;01.03.2026;vk\n"
    only = parse(reordered, "csv")[0]
    assert (only.amount, only.day, only.source, only.currency) == (
        Decimal("1234.5"),
        date(2026, 3, 1),
        "vk",
        None,
    )


def test_a_direct_report_with_title_and_total_lines_in_micros() -> None:
    rows = parse(DIRECT, "yandex-direct", micros=True)
    assert [(r.line, r.source, r.medium, r.campaign, r.term, r.amount, r.clicks) for r in rows] == [
        (3, "yandex", "cpc", "Spring sale", "buy sofa", Decimal(1500), 12),
        (4, "yandex", "cpc", "Spring sale", "", Decimal("0.25"), None),
    ]
    plain = DIRECT.replace("1500000000", "1500,00").replace("250000", "0,25")
    assert [r.amount for r in parse(plain, "yandex-direct")] == [Decimal(1500), Decimal("0.25")]
    cut = DIRECT.replace("Total rows: 2", "Total rows: 3")
    with pytest.raises(CostError, match="line 5: the report says 3 rows"):
        parse(cut, "yandex-direct", micros=True)


def test_a_google_ads_export_skips_titles_and_totals() -> None:
    rows = parse(GOOGLE, "google-ads")
    assert [(r.line, r.source, r.campaign, r.amount, r.currency, r.clicks) for r in rows] == [
        (4, "google", "Brand", Decimal("12345.67"), "RUB", 1204),
        (5, "google", "Brand", Decimal("0.50"), "RUB", 3),
    ]


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("Date,UTMSource\n2026-03-01,x\n", "csv", "line 1: no column Expenses"),
        (NEUTRAL.replace("1234.50", "12O4"), "csv", "line 2: Expenses '12O4' is not an amount"),
        (NEUTRAL.replace("99", "-5"), "csv", "line 3: Expenses must be an amount of 0 or more"),
        (NEUTRAL.replace("2026-03-02", "03/02/2026"), "csv", "line 3: Date '03/02/2026'"),
        (NEUTRAL.replace("google", ""), "csv", "line 3: UTMSource is empty"),
        (NEUTRAL.replace(",RUB,", ",RUBLES,"), "csv", "line 2: Currency 'RUBLES'"),
        (NEUTRAL.replace(",40", ",4.5"), "csv", "line 2: Clicks '4.5'"),
        (NEUTRAL.replace("spring", "x" * 300, 1), "csv", "line 2: UTMCampaign is longer"),
        ("Date,UTMSource,Expenses\n", "csv", "the file has no cost rows"),
        ("", "csv", "the file is empty"),
        ("just,some,text\n1,2,3\n", "google-ads", "no Google Ads header"),
        ("nothing here\n", "yandex-direct", "no Direct report header"),
        (NEUTRAL, "excel", "format: one of"),
        (NEUTRAL.replace("1234.50", "1e20"), "csv", "line 2: Expenses is too large"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line(text: str, fmt: str, message: str) -> None:
    with pytest.raises(CostError) as refused:
        parse(text, fmt)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("cost", "amount"),
    [
        ('"12,345.67"', "12345.67"),
        ('"12.345,67"', "12345.67"),
        ('"12 345,67"', "12345.67"),
        ("12345.67", "12345.67"),
        ('"1,234,567"', "1234567"),
        ("0.50", "0.50"),
        ('"0,5"', "0.5"),
    ],
)
def test_google_numbers_in_any_locale_are_read_as_written(cost: str, amount: str) -> None:
    text = f"Campaign,Day,Cost\nBrand,2026-03-01,{cost}\n"
    assert parse(text, "google-ads")[0].amount == Decimal(amount)


@pytest.mark.parametrize("cost", ['"1,234"', "1.234"])
def test_a_google_number_that_reads_two_ways_is_refused(cost: str) -> None:
    with pytest.raises(CostError, match=r"line 2: Cost .* could be read two ways"):
        parse(f"Campaign,Day,Cost\nBrand,2026-03-01,{cost}\n", "google-ads")


def test_amounts_round_half_up_to_cents() -> None:
    assert [cents(Decimal(v)) for v in ("0.005", "0.004", "1234.565", "7")] == [1, 0, 123457, 700]
