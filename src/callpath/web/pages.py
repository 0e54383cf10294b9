"""Jinja2 environment shared by the HTML pages (autoescape on everywhere)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from callpath.domain import phone

env = Environment(
    loader=PackageLoader("callpath.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def phone_text(value: str | None) -> str:
    """E.164 shown the human way; anything else (masked, "anonymous") as it is."""
    if not value or not value.startswith("+"):
        return value or ""
    try:
        return phone.display(value)
    except Exception:  # phonenumbers raises its own parse error on odd input
        return value


def _when(moment: float | None, zone: ZoneInfo | str | None = None) -> str:
    """A moment in the site's timezone when the page has one (UTC for account-wide ones)."""
    if moment is None:
        return ""
    if zone is None:
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    return datetime.fromtimestamp(moment, tz).strftime("%Y-%m-%d %H:%M %Z")


def _figure(value: float | None) -> str:
    """A report figure: thousands apart by a thin space, whole when it is whole, "—" when
    there is none (no cost known, a ratio over nothing)."""
    if value is None:
        return "—"
    if abs(value - round(value)) < 0.005:
        return f"{round(value):,}".replace(",", "\u202f")
    return f"{value:,.2f}".replace(",", "\u202f")


def _client(device: str | None, browser: str | None, system: str | None = None) -> str:
    """A visitor's browser and device kind as one phrase: "Chrome · desktop", "Mobile
    Safari" (the browser's name already says mobile), the system after it if given."""
    parts = [browser] if browser else []
    if device and not (browser and device.lower() in browser.lower()):
        parts.append(device)
    if system:
        parts.append(system)
    return " · ".join(parts)


def _duration(seconds: float | None) -> str:
    """Seconds as people say them: "2 d", "5 min", "1 h 30 min", "45 s"."""
    if seconds is None:
        return ""
    left, parts = round(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if left >= size:
            parts.append(f"{left // size} {unit}")
            left %= size
    if left or not parts:
        parts.append(f"{left} s")
    return " ".join(parts)


env.filters["phone"] = phone_text
env.filters["duration"] = _duration
env.filters["client"] = _client
env.filters["when"] = _when
env.filters["figure"] = _figure


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = env.get_template(template).render(request=request, **values)
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )
