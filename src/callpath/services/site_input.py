"""What an administrator gives for a site or a tracking number, and its checks: the same
for the command, the API and the forms. A refusal is a `SetupError` whose message says
what to correct."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callpath.domain import phone
from callpath.domain.pool import PoolSettings
from callpath.domain.site import normalize_domain

CHANNEL_MAX = 255  # an excluded channel is matched against sessions' source and medium
MATCH_WINDOW_MAX = 604_800  # a week: how far back a holder of a number may still get a call
POOL_FIELDS = ("ping_interval", "hold_after_leave", "cooldown", "session_timeout")
# The widths of the tracking_numbers columns the number's texts go to (storage/tables.py).
NUMBER_TEXT_MAX = {
    "label": 200,
    "source": 255,
    "medium": 255,
    "campaign": 255,
    "provider": 40,
    "region": 64,
}
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class SetupError(ValueError):
    """Input an administrator must correct; the message says how."""


class NotFound(SetupError):
    """The object named is not the account's (or does not exist)."""


@dataclass(frozen=True, slots=True)
class SiteInput:
    name: str
    domains: list[str] = field(default_factory=list)
    original_numbers: list[str] = field(default_factory=list)
    default_destination: str | None = None
    timezone: str = "Europe/Moscow"
    currency: str = "RUB"
    region: str = "RU"
    pool: PoolSettings = field(default_factory=PoolSettings)
    excluded_channels: list[str] = field(default_factory=list)
    match_window: int = 172_800  # how far back a holder of the number may still get a call
    policy: str = "standard"  # or "naive", the benchmark's reference


@dataclass(frozen=True, slots=True)
class SiteChanges:
    """The settings of a site to change; None keeps one as it is. The key is not among
    them: it is in the snippet on the site's pages."""

    name: str | None = None
    domains: list[str] | None = None
    original_numbers: list[str] | None = None
    default_destination: str | None = None
    timezone: str | None = None
    currency: str | None = None
    region: str | None = None
    excluded_channels: list[str] | None = None
    match_window: int | None = None
    ping_interval: int | None = None
    hold_after_leave: int | None = None
    cooldown: int | None = None
    session_timeout: int | None = None

    def given(self) -> dict[str, Any]:
        """The settings to change, by name (the names are the sites table's columns)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class NumberInput:
    number: str
    kind: str
    forward_to: str | None = None
    label: str | None = None
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    provider: str | None = None
    region: str | None = None
    monthly_cost: float | None = None
    pool_group: str | None = None  # a sub-pool rule (`domain/pool_groups.py`); pool only


def e164(raw: str, region: str, what: str) -> str:
    try:
        return phone.to_e164(raw, region)
    except phone.PhoneError as exc:
        raise SetupError(f"{what}: {exc}") from exc


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None. PostgreSQL takes no NUL character, and no
    database a lone surrogate (JSON can escape one, `\\ud800`; bytes that are not UTF-8
    become them in a command line)."""
    if "\x00" in text:
        return "it holds a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "it holds a lone surrogate"
    return None


def texts(data: SiteInput | NumberInput) -> None:
    for f in fields(data):
        value = getattr(data, f.name)
        for item in value if isinstance(value, list) else [value]:
            why = unstorable(item) if isinstance(item, str) else None
            if why:
                raise SetupError(f"{f.name}: not valid text ({why})")


def domain(raw: str) -> str:
    """A host the snippet may run on, in the ASCII form browsers send ("xn--…" for IDNs)."""
    text = raw.strip()
    if text.startswith("*."):
        raise SetupError(
            f"domain {raw!r}: a domain covers its subdomains, give {text[2:]!r} instead"
        )
    try:
        host = normalize_domain(text).encode("idna").decode("ascii")
    except ValueError as exc:  # UnicodeError is one too
        raise SetupError(f"domain {raw!r} is not a host name") from exc
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")):
        raise SetupError(
            f"domain {raw!r} is not a host name (letters, digits, hyphens and dots only)"
        )
    return host


def timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SetupError(f"unknown timezone {name!r}") from exc
    return name


def region(raw: str) -> str:
    region = raw.strip().upper()
    if not phone.known_region(region):
        raise SetupError(f"region must be a country code such as RU or KZ, not {raw!r}")
    return region


def currency(raw: str) -> str:
    code = raw.strip().upper()
    if len(code) != 3 or not (code.isascii() and code.isalpha()):
        raise SetupError(f"currency must be a 3-letter ISO 4217 code such as RUB, not {raw!r}")
    return code


def channels(items: list[str]) -> list[str]:
    channels = [c.strip().lower() for c in items if c.strip()]
    for channel in channels:
        if len(channel) > CHANNEL_MAX:
            raise SetupError(
                f"excluded channel {channel[:40]!r}… is longer than {CHANNEL_MAX} characters"
            )
    return channels


def match_window(seconds: int) -> int:
    if not 0 <= seconds <= MATCH_WINDOW_MAX:
        raise SetupError(f"match_window must be 0..{MATCH_WINDOW_MAX} s, not {seconds}")
    return seconds


def number_fields(data: NumberInput) -> None:
    for name, limit in NUMBER_TEXT_MAX.items():
        value = getattr(data, name)
        if value is not None and len(value) > limit:
            raise SetupError(f"{name}: at most {limit} characters, not {len(value)}")
    cost = data.monthly_cost
    if cost is not None and not (math.isfinite(cost) and cost >= 0):
        raise SetupError(f"monthly_cost must be a finite amount of 0 or more, not {cost!r}")
