import pytest

from callpath.domain.pool import PoolSettings

POOL = PoolSettings(ping_interval=30, hold_after_leave=900, cooldown=60)


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
