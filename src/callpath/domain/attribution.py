"""Attribution models (pure): how much of a lead each touch of its journey earned.

A journey is the visits that led to a lead, oldest first, within the lookback window
(bots left out). Each model gives every touch a share; a lead's shares sum to 1:

- `first_touch`: all to the first visit; `last_touch`: all to the last;
- `last_non_direct` (the default, as Metrica and Calltouch count): all to the last visit
  that did not come direct (typed address, bookmark); to the last one when all did;
- `linear`: equal shares;
- `position_based`: 40% to the first, 40% to the last, 20% shared by the ones between
  (two touches: half each);
- `time_decay`: a touch's weight halves every `half_life_days` before the lead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callpath.domain.channel import DIRECT_SOURCE

MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "position_based",
    "time_decay",
)
DEFAULT_MODEL = "last_non_direct"
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Touch:
    at: float
    source: str
    medium: str
    campaign: str | None = None
    keyword: str | None = None
    session_id: str | None = None

    @property
    def direct(self) -> bool:
        return self.source == DIRECT_SOURCE


def shares(touches: Sequence[Touch], model: str, at: float, half_life_days: float) -> list[float]:
    """Each touch's share under `model` (same order as `touches`; they sum to 1)."""
    n = len(touches)
    if n == 0:
        return []
    if model == "first_touch":
        return _one(n, 0)
    if model == "last_touch":
        return _one(n, n - 1)
    if model == "last_non_direct":
        chosen = max((i for i, t in enumerate(touches) if not t.direct), default=n - 1)
        return _one(n, chosen)
    if model == "linear":
        return [1.0 / n] * n
    if model == "position_based":
        return _positions(n)
    if model == "time_decay":
        return _decay(touches, at, half_life_days)
    raise ValueError(f"model: one of {', '.join(MODELS)}")


def _one(n: int, chosen: int) -> list[float]:
    return [1.0 if i == chosen else 0.0 for i in range(n)]


def _positions(n: int) -> list[float]:
    if n == 1:
        return [1.0]
    if n == 2:
        return [0.5, 0.5]
    middle = 0.2 / (n - 2)
    return [0.4, *([middle] * (n - 2)), 0.4]


def _decay(touches: Sequence[Touch], at: float, half_life_days: float) -> list[float]:
    half_life = half_life_days * DAY
    weights = [0.5 ** (max(0.0, at - t.at) / half_life) for t in touches]
    total = sum(weights)
    return [w / total for w in weights]
