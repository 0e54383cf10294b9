"""How the traffic model's people call: one copy, used by the trace generator
(`sim.generator`) and by the planner's calls drawn onto recorded visits
(`planner.overlay`), so tuning the model tunes both.

Each function takes the random source and draws from it in a fixed order: the same seed
gives the same calls wherever they are drawn.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from callpath.sim.draws import lognormal, pick
from callpath.sim.traffic_model import (
    CALL,
    DAY_DELAY,
    DAYS_DELAY,
    DELAY_CLASSES,
    HOUR,
    IN_SESSION_DELAY,
    MINUTE,
    NIGHT_END,
    OPENING_HOUR,
    REPEAT,
    REPEAT_AGAIN,
    REPEAT_LATER_DELAY,
    REPEAT_QUICK,
    REPEAT_QUICK_DELAY,
    REPEAT_SAME_NUMBER,
    RETURNING_CALL,
)


def plan_call(rng: random.Random, device: str, returning: bool) -> tuple[str, float] | None:
    """Whether a visit calls (by device, likelier for a returning visitor): its delay
    class (`in` the visit, a `quarter` of an hour later, a `day` or `days` later) and the
    delay from the visit's start. Anything but mobile or tablet counts as desktop."""
    chance = CALL.get(device, CALL["desktop"]) * (RETURNING_CALL if returning else 1.0)
    if rng.random() >= chance:
        return None
    klass = pick(rng, DELAY_CLASSES)
    if klass == "in":
        return klass, lognormal(rng, IN_SESSION_DELAY)
    if klass == "quarter":
        return klass, rng.uniform(15 * MINUTE, 30 * MINUTE)
    return klass, lognormal(rng, DAY_DELAY if klass == "day" else DAYS_DELAY)


def morning(rng: random.Random, t: float, local: datetime) -> float:
    """A late call that would fall at night (`local` is `t` on the site's clock) is made
    after opening time instead."""
    if local.hour >= NIGHT_END:
        return t
    opening = local.replace(hour=OPENING_HOUR, minute=0, second=0, microsecond=0)
    return t + (opening - local).total_seconds() + rng.uniform(0, 3 * HOUR)


def call_again(
    rng: random.Random, t: float, called_before: bool, morning_of: Callable[[float], float]
) -> tuple[float, bool] | None:
    """Whether a caller calls again after a call at `t` (likelier for one who already did):
    when, and whether it is to the same number (a quick redial always is; a follow-up
    hours or days later, moved out of the night by `morning_of`, dials the number of the
    caller's latest visit by then unless they kept the first)."""
    if rng.random() >= (REPEAT_AGAIN if called_before else REPEAT):
        return None
    if rng.random() < REPEAT_QUICK:
        return t + lognormal(rng, REPEAT_QUICK_DELAY), True
    later = morning_of(t + lognormal(rng, REPEAT_LATER_DELAY))
    return later, rng.random() < REPEAT_SAME_NUMBER
