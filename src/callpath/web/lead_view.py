"""What a call counts as, in words, for its page: the lead's verdicts by the site's rules,
its spam score with the reason, and each attribution model's credit."""

from __future__ import annotations

from typing import Any

from callpath.domain.attribution import MODELS
from callpath.domain.leads import Rules

Row = dict[str, Any]
MODEL_NAMES = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "last_non_direct": "Last non-direct (default)",
    "linear": "Linear",
    "position_based": "Position-based 40/20/40",
    "time_decay": "Time decay",
}


def lead_view(lead: Row | None, credits: list[Row], stored_rules: Any) -> Row | None:
    if lead is None or lead["kind"] != "call":
        return None  # not classified yet, or the business's own call out
    rules = Rules.of(stored_rules)
    return {
        "verdicts": _verdicts(lead, rules),
        "spam_score": round(float(lead["spam_score"]), 2),
        "spam_reason": lead["spam_reason"],
        "spam": bool(lead["spam"]),
        "credits": [
            {"model": MODEL_NAMES[m], "touches": _touches(credits, m)}
            for m in MODELS
            if _touches(credits, m)
        ],
    }


def _verdicts(lead: Row, rules: Rules) -> list[str]:
    depth = "ever" if rules.unique_days is None else f"in {rules.unique_days} days"
    out = [
        f"first-time caller ({depth})" if lead["first_time"] else f"called before ({depth})",
        f"target call (talk ≥ {rules.target_talk} s, not spam)"
        if lead["target"]
        else "not a target call",
    ]
    if lead["missed"]:
        out.append("missed, hung up while ringing" if lead["abandoned"] else "missed")
        if lead["called_back_after"] is not None:
            out.append(f"called back {_minutes(lead['called_back_after'])} later")
        if lead["recovered_after"] is not None:
            out.append(f"got through {_minutes(lead['recovered_after'])} later")
        elif lead["lost"]:
            out.append(f"lost: did not get through within {rules.callback_minutes} min")
    return out


def _minutes(seconds: float) -> str:
    return f"{max(1, round(float(seconds) / 60))} min"


def _touches(credits: list[Row], model: str) -> list[Row]:
    return [
        {
            "channel": f"{c['source']} / {c['medium']}",
            "campaign": c["campaign"],
            "session_id": c["session_id"],
            "share": f"{float(c['share']) * 100:.0f}%",
        }
        for c in credits
        if c["model"] == model
    ]
