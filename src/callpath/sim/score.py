"""Scoring a replay against the trace's truth (docs/benchmark.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

DELAY_CLASSES = (
    ("<=15 min", 0.0, 900.0),
    ("15-30 min", 900.0, 1800.0),
    ("30 min-24 h", 1800.0, 86_400.0),
    (">24 h", 86_400.0, float("inf")),
)
CONFIDENT = 0.9


@dataclass(slots=True)
class CallResult:
    call: str
    truth: str
    truth_visitor: str | None
    truth_ours: str | None
    predicted_ours: str | None
    predicted_visitor_ours: str | None
    confidence: float
    method: str
    delay: float  # seconds from the truth session's start to the call
    covered: bool  # the truth session was showing a pool number it dialled
    repeat: bool  # the caller id called before in this trace
    predicted: str | None = None
    predicted_visitor: str | None = None
    truth_channel: tuple[str, str] | None = None
    predicted_channel: tuple[str, str] | None = None

    @property
    def correct(self) -> bool:
        return self.predicted is not None and self.predicted == self.truth

    @property
    def attributed(self) -> bool:
        return self.predicted is not None

    def as_json(self) -> dict[str, object]:
        return {
            "call": self.call,
            "session": self.predicted,
            "visitor": self.predicted_visitor,
            "confidence": self.confidence,
            "method": self.method,
        }


@dataclass(slots=True)
class Summary:
    calls: int
    coverage: float
    correct: float
    misattributed: float
    unattributed: float
    precision: float
    by_delay: dict[str, tuple[int, float]] = field(default_factory=dict)
    repeat_calls: tuple[int, float] = (0, 0.0)
    calibration: tuple[int, float] = (0, 0.0)  # calls with confidence ≥ 0.9, share correct
    visitor_level: float = 0.0
    channel_level: float = 0.0
    seconds: float = 0.0


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def summarize(results: Sequence[CallResult], seconds: float = 0.0) -> Summary:
    n = len(results)
    correct = sum(r.correct for r in results)
    attributed = sum(r.attributed for r in results)
    confident = [r for r in results if r.attributed and r.confidence >= CONFIDENT]
    repeats = [r for r in results if r.repeat]
    return Summary(
        calls=n,
        coverage=_share(sum(r.covered for r in results), n),
        correct=_share(correct, n),
        misattributed=_share(attributed - correct, n),
        unattributed=_share(n - attributed, n),
        precision=_share(correct, attributed),
        by_delay=_by_delay(results),
        repeat_calls=(len(repeats), _share(sum(r.correct for r in repeats), len(repeats))),
        calibration=(len(confident), _share(sum(r.correct for r in confident), len(confident))),
        visitor_level=_share(
            sum(
                r.predicted_visitor is not None and r.predicted_visitor == r.truth_visitor
                for r in results
            ),
            n,
        ),
        channel_level=_share(
            sum(
                r.truth_channel is not None and r.predicted_channel == r.truth_channel
                for r in results
            ),
            n,
        ),
        seconds=seconds,
    )


def _by_delay(results: Sequence[CallResult]) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    for name, low, high in DELAY_CLASSES:
        group = [r for r in results if low <= r.delay < high]
        out[name] = (len(group), _share(sum(r.correct for r in group), len(group)))
    return out


def pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def format_summary(name: str, s: Summary) -> str:
    if s.calls == 0:
        replayed = f"replayed in {s.seconds:.1f} s"
        return f"policy {name}: no calls in the trace, nothing to score ({replayed})"
    lines = [
        f"policy {name}: {s.calls} calls, replayed in {s.seconds:.1f} s",
        f"  coverage {pct(s.coverage)}  correct {pct(s.correct)}  misattributed "
        f"{pct(s.misattributed)}  unattributed {pct(s.unattributed)}  precision {pct(s.precision)}",
        "  correct by delay: "
        + "  ".join(f"{k} {pct(v)} (n={c})" for k, (c, v) in s.by_delay.items()),
        f"  repeat calls {pct(s.repeat_calls[1])} (n={s.repeat_calls[0]})  calibration "
        f"(confidence ≥ {CONFIDENT}) {pct(s.calibration[1])} correct (n={s.calibration[0]})",
        f"  visitor-level {pct(s.visitor_level)}  channel-level {pct(s.channel_level)}",
    ]
    return "\n".join(lines)
