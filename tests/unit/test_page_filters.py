"""The pages' own text filters: durations and a visitor's browser."""

from __future__ import annotations

import pytest

from callpath.web.pages import env


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "0 s"),
        (45, "45 s"),
        (300, "5 min"),
        (90, "1 min 30 s"),
        (5400, "1 h 30 min"),
        (172800, "2 d"),
        (90061, "1 d 1 h 1 min 1 s"),
        (None, ""),
    ],
)
def test_duration(seconds: float | None, said: str) -> None:
    assert env.filters["duration"](seconds) == said


@pytest.mark.parametrize(
    ("device", "browser", "system", "said"),
    [
        ("mobile", "Mobile Safari", None, "Mobile Safari"),
        ("desktop", "Chrome", None, "Chrome · desktop"),
        ("mobile", "Chrome Mobile", "Android", "Chrome Mobile · Android"),
        ("tablet", None, None, "tablet"),
        (None, None, None, ""),
    ],
)
def test_client(device: str | None, browser: str | None, system: str | None, said: str) -> None:
    assert env.filters["client"](device, browser, system) == said


def test_channel_series_keeps_the_top_channels_and_sums_the_rest() -> None:
    from callpath.web.reports_view import channel_series

    by_day = {"d1": {"a": 5, "b": 1, "c": 1}, "d2": {"a": 1, "d": 3}}
    assert channel_series(["d1", "d2", "d3"], by_day, top=2) == [
        ("a", [5, 1, 0.0]),
        ("d", [0.0, 3, 0.0]),
        ("other", [2, 0, 0]),
    ]
    assert channel_series(["d1"], {"d1": {"a": 1}}, top=2) == [("a", [1])]
