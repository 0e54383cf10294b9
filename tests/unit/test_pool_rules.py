import pytest

from callpath.domain.pool import NumberState, PoolSettings, available_to, preference

POOL = PoolSettings(ping_interval=30, hold_after_leave=900, cooldown=60)


def test_free_number_is_available_to_anyone() -> None:
    assert available_to(NumberState(1, None, None), "v1", 100.0, POOL)


def test_live_hold_belongs_to_its_visitor_only() -> None:
    state = NumberState(1, "v1", 1000.0)
    assert available_to(state, "v1", 500.0, POOL)
    assert not available_to(state, "v2", 500.0, POOL)


def test_cooldown_applies_to_strangers_after_the_hold() -> None:
    state = NumberState(1, "v1", 1000.0)
    assert not available_to(state, "v2", 1059.0, POOL)
    assert available_to(state, "v2", 1060.0, POOL)


def test_preference_puts_own_number_first_then_idle_longest() -> None:
    states = [NumberState(1, "a", 300.0), NumberState(2, "b", 100.0), NumberState(3, "me", 900.0)]
    assert [s.number_id for s in sorted(states, key=lambda s: preference(s, "me"))] == [3, 2, 1]


def test_hold_is_never_shorter_than_two_pings() -> None:
    assert PoolSettings(ping_interval=600, hold_after_leave=60).hold_until(0.0) == 1200.0
    assert POOL.hold_until(10.0) == 910.0


@pytest.mark.parametrize(
    "kwargs",
    [{"ping_interval": 1}, {"hold_after_leave": 10}, {"cooldown": -1}, {"session_timeout": 5}],
)
def test_bad_settings_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        PoolSettings(**kwargs)
