"""A plan's result in words: shared by the CLI and the admin page."""

from __future__ import annotations

from typing import Any


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def erlang_line(e: dict[str, Any]) -> str:
    return (
        f"N = {e['numbers']} (peak hour {e['peak_hour_arrivals']:.1f} visits/h x holding "
        f"{e['holding'] / 60:.1f} min: visit {e['mean_visit'] / 60:.1f} + hold "
        f"{e['hold_after'] / 60:.1f} + cooldown {e['cooldown'] / 60:.1f}; load A = "
        f"{e['load']:.2f}; more than N held at once ≤ {100 * (1 - e['target']):g}% of the time)"
    )


def recommendation(result: dict[str, Any]) -> str:
    have = f"the site has {result['pool_size']}"
    if result["recommended"] is not None:
        return f"recommended: {result['recommended']} pool numbers ({have})"
    best = max(result["points"], key=lambda p: (p["correct_30"], -p["size"]), default=None)
    if best is None:
        return "no recommendation: nothing was replayed"
    return (
        "no recommendation: no size measured reached the target; best "
        f"{pct(best['correct_30'])} with {best['size']} numbers ({have})"
    )
