"""Administrative use cases: sites, tracking numbers and integrations, and the checks of
what a user gives for them (accounts and users: `services/accounts.py`)."""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection

from callpath import telephony
from callpath.domain import phone, pool_groups
from callpath.domain.pool import POLICIES, PoolSettings
from callpath.domain.site import NUMBER_KINDS, normalize_domain
from callpath.storage import call_repo, site_repo, user_repo

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


def _e164(raw: str, region: str, what: str) -> str:
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


def _texts(data: SiteInput | NumberInput) -> None:
    for f in fields(data):
        value = getattr(data, f.name)
        for item in value if isinstance(value, list) else [value]:
            why = unstorable(item) if isinstance(item, str) else None
            if why:
                raise SetupError(f"{f.name}: not valid text ({why})")


def _domain(raw: str) -> str:
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


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SetupError(f"unknown timezone {name!r}") from exc
    return name


def _region(raw: str) -> str:
    region = raw.strip().upper()
    if not phone.known_region(region):
        raise SetupError(f"region must be a country code such as RU or KZ, not {raw!r}")
    return region


def _currency(raw: str) -> str:
    code = raw.strip().upper()
    if len(code) != 3 or not (code.isascii() and code.isalpha()):
        raise SetupError(f"currency must be a 3-letter ISO 4217 code such as RUB, not {raw!r}")
    return code


def _channels(items: list[str]) -> list[str]:
    channels = [c.strip().lower() for c in items if c.strip()]
    for channel in channels:
        if len(channel) > CHANNEL_MAX:
            raise SetupError(
                f"excluded channel {channel[:40]!r}… is longer than {CHANNEL_MAX} characters"
            )
    return channels


def _match_window(seconds: int) -> int:
    if not 0 <= seconds <= MATCH_WINDOW_MAX:
        raise SetupError(f"match_window must be 0..{MATCH_WINDOW_MAX} s, not {seconds}")
    return seconds


def _number_fields(data: NumberInput) -> None:
    for name, limit in NUMBER_TEXT_MAX.items():
        value = getattr(data, name)
        if value is not None and len(value) > limit:
            raise SetupError(f"{name}: at most {limit} characters, not {len(value)}")
    cost = data.monthly_cost
    if cost is not None and not (math.isfinite(cost) and cost >= 0):
        raise SetupError(f"monthly_cost must be a finite amount of 0 or more, not {cost!r}")


def create_site(
    conn: Connection, account_id: int, data: SiteInput, now: float, key: str | None = None
) -> dict[str, Any]:
    values = _site_values(data)
    if user_repo.account_name(conn, account_id) is None:
        raise SetupError(f"no account {account_id}")
    key = key or secrets.token_hex(6)
    site_id = site_repo.insert_site(
        conn, {**values, "account_id": account_id, "key": key, "created_at": now}
    )
    return {"id": site_id, "key": key}


def update_site(
    conn: Connection, account_id: int, site_id: int, changes: SiteChanges
) -> dict[str, Any]:
    """Change the given settings of the account's site, checked as `create_site` checks a
    new one (a destination given with a new region is read in that region); the site's
    row as it is now. NotFound outside the account. The default destination may change
    but not go: calls to the site's numbers are forwarded there."""
    row = site_repo.site_row(conn, site_id=site_id, lock=True)
    if row is None or row["account_id"] != account_id:
        raise NotFound(f"no site {site_id} in this account")
    given = changes.given()
    values = _site_values(_merged(row, given))
    if row["default_destination"] and not values["default_destination"]:
        raise SetupError(
            "default destination: calls are forwarded there, so it can be changed "
            "but not removed; give the new number"
        )
    changed = {column: values[column] for column in given}
    if changed:
        site_repo.update_site(conn, account_id, site_id, changed)
    return {**row, **changed}


def _merged(row: dict[str, Any], given: dict[str, Any]) -> SiteInput:
    """The site's settings with `given` applied, as a SiteInput to check."""
    merged = {**row, **given}
    try:
        pool = PoolSettings(**{name: merged[name] for name in POOL_FIELDS})
    except ValueError as exc:
        raise SetupError(str(exc)) from exc
    names = [f.name for f in fields(SiteInput) if f.name != "pool"]
    return SiteInput(pool=pool, **{name: merged[name] for name in names})


def _site_values(data: SiteInput) -> dict[str, Any]:
    """The site's columns, each checked: a SetupError names the first bad one."""
    _texts(data)
    if not data.name.strip():
        raise SetupError("site name must not be empty")
    if data.policy not in POLICIES:
        raise SetupError(f"policy must be one of {', '.join(POLICIES)}")
    region = _region(data.region)
    default = data.default_destination
    return {
        "name": data.name.strip()[:200],
        "timezone": _timezone(data.timezone),
        "domains": sorted({_domain(d) for d in data.domains}),
        "currency": _currency(data.currency),
        "region": region,
        "original_numbers": [_e164(n, region, "original number") for n in data.original_numbers],
        "default_destination": _e164(default, region, "default destination") if default else None,
        "ping_interval": data.pool.ping_interval,
        "hold_after_leave": data.pool.hold_after_leave,
        "cooldown": data.pool.cooldown,
        "session_timeout": data.pool.session_timeout,
        "excluded_channels": _channels(data.excluded_channels),
        "match_window": _match_window(data.match_window),
        "policy": data.policy,
    }


def add_number(
    conn: Connection, account_id: int, site_id: int, data: NumberInput, now: float
) -> int:
    _texts(data)
    site = site_repo.site_row(conn, site_id=site_id)
    if site is None or site["account_id"] != account_id:
        raise SetupError(f"no site {site_id} in this account")
    _number_fields(data)
    if data.kind not in NUMBER_KINDS:
        raise SetupError(f"kind must be one of {', '.join(NUMBER_KINDS)}")
    if data.kind == "static" and not (data.source or data.label):
        raise SetupError("a static number needs its channel: give a label or a source")
    group = _pool_group(data)
    e164 = _e164(data.number, site["region"], "number")
    if site_repo.number_by_e164(conn, e164):
        raise SetupError(f"{e164} is already a tracking number")
    forward = _e164(data.forward_to, site["region"], "forward-to") if data.forward_to else None
    if data.kind == "default":
        site_repo.retire_defaults(conn, site_id)
    return site_repo.insert_number(
        conn,
        {
            "account_id": account_id,
            "site_id": site_id,
            "e164": e164,
            "kind": data.kind,
            "forward_to": forward,
            "label": data.label,
            "channel_source": data.source or (data.label if data.kind == "static" else None),
            "channel_medium": data.medium or ("offline" if data.kind == "static" else None),
            "channel_campaign": data.campaign,
            "provider": data.provider,
            "region": data.region,
            "monthly_cost": data.monthly_cost,
            "active": True,
            "created_at": now,
            "pool_group": group,
        },
    )


def set_number_active(
    conn: Connection, account_id: int, number_id: int, active: bool, site_id: int | None = None
) -> dict[str, Any]:
    """Retire a number (no new visitor is shown it; calls to it still go to the site's
    default destination and still match its past holders) or bring it back. A default
    number brought back retires the site's other default. NotFound outside the account."""
    row = site_repo.number_by_id(conn, account_id, number_id)
    if row is None or (site_id is not None and row["site_id"] != site_id):
        raise NotFound(f"no number {number_id} in this account")
    if active and row["kind"] == "default" and not row["active"]:
        site_repo.retire_defaults(conn, row["site_id"])
    site_repo.set_number_active(conn, account_id, number_id, active)
    return {**row, "active": active}


def set_integration_active(
    conn: Connection, account_id: int, integration_id: str, active: bool, site_id: int | None = None
) -> None:
    """Disable an integration (its webhooks are refused with 401) or enable it again."""
    if not call_repo.set_integration_active(conn, account_id, integration_id, active, site_id):
        raise NotFound(f"no integration {integration_id} in this account")


def _pool_group(data: NumberInput) -> str | None:
    """The number's sub-pool rule in stored form; only pool numbers have one."""
    if data.pool_group is None or not data.pool_group.strip():
        return None
    if data.kind != "pool":
        raise SetupError(f"pool_group: only pool numbers belong to a group, not {data.kind}")
    try:
        return pool_groups.parse_rule(data.pool_group)
    except ValueError as exc:
        raise SetupError(f"pool_group: {exc}") from exc


INTEGRATION_KINDS = telephony.KINDS


@dataclass(frozen=True, slots=True)
class CreatedIntegration:
    id: str
    secret: str
    kind: str
    site_id: int


def create_integration(
    conn: Connection,
    account_id: int,
    site_id: int,
    kind: str,
    name: str,
    now: float,
    secret: str | None = None,
) -> CreatedIntegration:
    """A new source of call events with its own signing secret (shown once, to its maker);
    a provider that signs with its own key (Twilio's auth token) needs `secret` given."""
    site = site_repo.site_row(conn, site_id=site_id)
    if site is None or site["account_id"] != account_id:
        raise SetupError(f"no site {site_id} in this account")
    if kind not in INTEGRATION_KINDS:
        raise SetupError(f"kind must be one of {', '.join(INTEGRATION_KINDS)}")
    created = CreatedIntegration(
        "int_" + secrets.token_hex(8), _integration_secret(kind, secret), kind, site_id
    )
    call_repo.insert_integration(
        conn,
        {
            "id": created.id,
            "account_id": account_id,
            "site_id": site_id,
            "kind": kind,
            "name": (name.strip() or kind)[:200],
            "secret": created.secret,
            "active": True,
            "created_at": now,
        },
    )
    return created


def _integration_secret(kind: str, given: str | None) -> str:
    if kind not in telephony.PROVIDER_SECRET:
        if given:
            raise SetupError(f"a {kind} integration makes its own secret; do not give one")
        return secrets.token_hex(32)
    given = (given or "").strip()
    if not 8 <= len(given) <= 128 or not given.isprintable() or " " in given:
        raise SetupError(f"a {kind} integration needs the provider's secret (8..128 characters)")
    return given
