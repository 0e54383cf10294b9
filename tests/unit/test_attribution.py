"""Attribution models on a hand-checkable journey (domain/attribution.py)."""

from __future__ import annotations

import pytest

from callpath.domain.attribution import DAY, MODELS, Touch, shares

AT = 1_800_000_000.0
ORGANIC = Touch(AT - 10 * DAY, "google", "organic")
CPC = Touch(AT - 5 * DAY, "yandex", "cpc", "spring")
SOCIAL = Touch(AT - 3 * DAY, "vk", "social")
DIRECT = Touch(AT - DAY, "(direct)", "(none)")
JOURNEY = [ORGANIC, CPC, SOCIAL, DIRECT]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("first_touch", [1, 0, 0, 0]),
        ("last_touch", [0, 0, 0, 1]),
        ("last_non_direct", [0, 0, 1, 0]),
        ("linear", [0.25, 0.25, 0.25, 0.25]),
        ("position_based", [0.4, 0.1, 0.1, 0.4]),
    ],
)
def test_each_model_credits_the_journey_as_documented(model: str, expected: list[float]) -> None:
    assert shares(JOURNEY, model, AT, 7) == pytest.approx(expected)


def test_time_decay_halves_a_touch_per_half_life() -> None:
    got = shares([Touch(AT - 14 * DAY, "a", "b"), Touch(AT, "c", "d")], "time_decay", AT, 7)
    assert got == pytest.approx([0.2, 0.8])  # weights 1/4 and 1


def test_every_model_sums_to_one_and_handles_short_journeys() -> None:
    for model in MODELS:
        assert sum(shares(JOURNEY, model, AT, 7)) == pytest.approx(1.0)
        assert shares([CPC], model, AT, 7) == pytest.approx([1.0])
        assert shares([], model, AT, 7) == []
    assert shares([CPC, SOCIAL], "position_based", AT, 7) == pytest.approx([0.5, 0.5])
    assert shares([DIRECT, DIRECT], "last_non_direct", AT, 7) == [0.0, 1.0]


def test_an_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="model: one of"):
        shares(JOURNEY, "data_driven", AT, 7)
