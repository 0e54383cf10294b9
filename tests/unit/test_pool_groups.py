"""Sub-pool rules: syntax, which groups a session matches, and in what order."""

from __future__ import annotations

import pytest

from callpath.domain.pool import PoolSettings
from callpath.domain.pool_groups import (
    ANY,
    ANY_NUMBER,
    UNGROUPED,
    Order,
    channel_of,
    order_for,
    parse_rule,
    session_rules,
)
from callpath.domain.site import SiteConfig, channel_keys


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("yandex/cpc", "yandex/cpc"),
        (" Yandex/CPC ", "yandex/cpc"),
        ("cpc", "cpc"),
        ("google", "google"),
        ("(direct)/(none)", "(direct)/(none)"),
        ("country:DE", "country:DE"),
        ("Country:de", "country:DE"),
    ],
)
def test_rules_are_stored_in_one_form(raw: str, stored: str) -> None:
    assert parse_rule(raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "a/b/c",
        "/cpc",
        "yandex/",
        "yandex cpc",
        "region:77",
        "country:DEU",
        "country:",
        "x" * 65,
    ],
)
def test_bad_rules_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(ValueError, match="group"):
        parse_rule(raw)


def test_a_session_matches_rules_most_specific_first() -> None:
    assert session_rules("yandex", "cpc", "DE") == ("yandex/cpc", "yandex", "cpc", "country:DE")
    assert session_rules("Google", "Organic", None) == ("google/organic", "google", "organic")
    assert session_rules(None, None, "ru") == ("country:RU",)
    assert session_rules("vk", "vk", None) == ("vk/vk", "vk")  # no rule twice


def test_group_matching_reuses_the_excluded_channels_matcher() -> None:
    site = SiteConfig(1, 1, "k", "n", (), "UTC", "RU", (), PoolSettings(), ("yandex/cpc",), None, 0)
    assert not site.substitutes("Yandex", "CPC")
    assert session_rules("Yandex", "CPC", None)[:3] == channel_keys("Yandex", "CPC")


def _order(groups: set[str], source: str = "yandex", medium: str = "cpc") -> Order:
    return order_for(
        frozenset(groups), has_ungrouped=True, source=source, medium=medium, country="DE"
    )


def test_most_specific_group_wins_then_the_others_then_ungrouped() -> None:
    order = _order({"country:DE", "cpc", "yandex", "yandex/cpc", "google"})
    assert order == Order(("yandex/cpc", "yandex", "cpc", "country:DE"), UNGROUPED)
    assert _order({"cpc", "country:DE"}).groups == ("cpc", "country:DE")
    assert _order({"country:DE"}).groups == ("country:DE",)


def test_a_session_matching_no_group_takes_only_ungrouped_numbers() -> None:
    order = _order({"yandex/cpc"}, source="google", medium="organic")
    assert order == Order((), UNGROUPED)
    assert not order.allows("yandex/cpc")
    assert order.allows(None)


def test_without_ungrouped_numbers_the_fallback_is_any_number() -> None:
    order = order_for(
        frozenset({"yandex/cpc"}),
        has_ungrouped=False,
        source="google",
        medium="organic",
        country=None,
    )
    assert order == Order((), ANY)
    assert order.allows("yandex/cpc")


def test_own_numbers_allowed_and_ranked_by_the_order() -> None:
    order = Order(("yandex/cpc", "cpc"), UNGROUPED)
    assert [order.allows(g) for g in ("yandex/cpc", "cpc", None, "google")] == [
        True,
        True,
        True,
        False,
    ]
    assert sorted([None, "cpc", "yandex/cpc"], key=order.rank) == ["yandex/cpc", "cpc", None]
    assert ANY_NUMBER.allows("anything")


def test_channel_of_a_group() -> None:
    assert channel_of("yandex/cpc") == ("yandex", "cpc")
    assert [channel_of(g) for g in ("cpc", "google", "country:DE", None)] == [None] * 4
