"""The words of a notification, the same by e-mail and Telegram: a subject line and plain
text. Pure: built from an event's payload and what was read at send time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from callpath.domain import phone


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str

    def telegram(self) -> str:
        """One message: the subject is its first line (Telegram has no subject)."""
        return self.text if self.text.startswith(self.subject) else f"{self.subject}\n{self.text}"


def number(value: str | None) -> str:
    """A caller's number the human way ("+7 916 123-45-67"); no caller id said so."""
    if not value:
        return "a hidden number"
    if not value.startswith("+"):
        return value
    try:
        return phone.display(value)
    except Exception:  # phonenumbers' own parse error on odd input
        return value


def when(at: float, zone: str) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def channel(payload: Mapping[str, Any]) -> str:
    """ "google/cpc (winter)", "direct", or "no visit found"."""
    attribution = payload.get("attribution") or {}
    found = attribution.get("channel") or {}
    source, medium = found.get("source"), found.get("medium")
    if not source and not medium:
        return "no visit found"
    text = "/".join(str(x) for x in (source, medium) if x)
    campaign = found.get("campaign")
    return f"{text} ({campaign})" if campaign else text


def _site_line(site: str | None) -> str:
    return f"Site: {site}\n" if site else ""


TRAITS = ("first_time", "target", "missed")


def new_lead(
    payload: Mapping[str, Any], facts: Mapping[str, Any], zone: str, site: str | None
) -> Message:
    who = number(facts.get("caller"))
    traits = [
        label
        for label, name in (
            ("first-time", "first_time"),
            ("target", "target"),
            ("missed", "missed"),
        )
        if facts.get(name)
    ]
    if not facts.get("first_time"):
        traits.insert(0, "repeat")
    call = payload.get("call") or {}
    subject = f"New lead: call from {who} via {channel(payload)}" + (
        f", {', '.join(traits)}" if traits else ""
    )
    lines = [
        subject,
        "",
        f"When: {when(float(facts['started_at']), zone)}",
        f"Channel: {channel(payload)}",
        f"Called: {number(call.get('tracking_number'))}",
    ]
    if call.get("talk"):
        lines.append(f"Talk: {_duration(float(call['talk']))}")
    return Message(subject, "\n".join(lines) + "\n" + _site_line(site))


def missed(
    payload: Mapping[str, Any], facts: Mapping[str, Any], zone: str, site: str | None
) -> Message:
    who = number(facts.get("caller"))
    subject = f"Missed call from {who}"
    call = payload.get("call") or {}
    lines = [
        subject,
        "",
        f"When: {when(float(facts['started_at']), zone)}",
        f"Channel: {channel(payload)}",
        f"Called: {number(call.get('tracking_number'))}",
        "First-time caller" if facts.get("first_time") else "Has called before",
    ]
    return Message(subject, "\n".join(lines) + "\n" + _site_line(site))


def lost(
    payload: Mapping[str, Any], facts: Mapping[str, Any], minutes: int, zone: str, site: str | None
) -> Message:
    who = number(facts.get("caller"))
    subject = f"Lost caller: {who} not called back within {minutes} min"
    lines = [
        subject,
        "",
        f"Missed at: {when(float(facts['started_at']), zone)}",
        f"Channel: {channel(payload)}",
        "Nobody called them back and they did not get through. Call them back, or mark "
        "them handled in callpath's call center report.",
    ]
    return Message(subject, "\n".join(lines) + "\n" + _site_line(site))


FIGURES = (
    ("calls", "Calls"),
    ("target", "Target calls"),
    ("missed", "Missed"),
    ("lost", "Lost"),
    ("leads", "Leads"),
    ("revenue", "Revenue"),
    ("cost", "Spend"),
)


def digest(payload: Mapping[str, Any]) -> Message:
    """The overview's figures of a period, one block per site."""
    kind = "Daily" if payload["kind"] == "daily" else "Weekly"
    first, last = payload["from"], payload["to"]
    period = first if first == last else f"{first} to {last}"
    subject = f"{kind} digest: {period}"
    blocks = [subject]
    sites: Sequence[Mapping[str, Any]] = payload.get("sites") or []
    for site in sites:
        lines = [f"{site['name']}"]
        for name, label in FIGURES:
            value = site.get(name)
            if name in ("revenue", "cost"):
                shown = "—" if value is None else f"{_amount(float(value))} {site['currency']}"
            else:
                shown = _count(value)
            lines.append(f"  {label}: {shown}")
        blocks.append("\n".join(lines))
    if not sites:
        blocks.append("No sites.")
    return Message(subject, "\n\n".join(blocks) + "\n")


def paused(payload: Mapping[str, Any]) -> Message:
    """A destination callpath paused after a day of failed attempts."""
    name = str(payload.get("name") or "a destination")[:200]
    subject = f"callpath: {name} paused, every delivery failed for a day"
    text = (
        f"{subject}\n\n{payload.get('failures')} attempts in a row failed since "
        f"{payload.get('failing_since')}; the last: {str(payload.get('last_error') or '')[:300]}\n"
        "Its events keep queueing. Fix the receiver, then resume it (Webhooks page, or "
        f"`callpath webhook resume {payload.get('destination_id')}`): the queue is sent first.\n"
    )
    return Message(subject, text)


def test(kind: str) -> Message:
    subject = "callpath: test notification"
    return Message(
        subject, f"{subject}\n\nThis {kind} destination works: notifications will arrive here.\n"
    )


def _count(value: Any) -> str:
    if value is None:
        return "0"
    number_ = float(value)
    return (
        f"{number_:,.0f}".replace(",", " ")
        if number_.is_integer()
        else f"{number_:,.1f}".replace(",", " ")
    )


def _amount(value: float) -> str:
    return f"{value:,.2f}".replace(",", " ")


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"
