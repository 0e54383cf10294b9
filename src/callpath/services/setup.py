"""Administrative use cases: accounts, users, sites and tracking numbers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from sqlalchemy import Connection, insert, select

from callpath import telephony
from callpath.domain import phone, pool_groups
from callpath.domain.pool import POLICIES, PoolSettings
from callpath.domain.site import NUMBER_KINDS, normalize_domain
from callpath.storage import call_repo, site_repo
from callpath.storage.tables import users

hasher = PasswordHasher()
ROLES = ("owner", "admin", "analyst", "operator")


class SetupError(ValueError):
    """Input an administrator must correct; the message says how."""


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


def create_account(conn: Connection, name: str, now: float) -> int:
    if not name.strip():
        raise SetupError("account name must not be empty")
    return site_repo.insert_account(conn, name.strip()[:200], now)


def create_user(
    conn: Connection, account_id: int, email: str, password: str, role: str, now: float
) -> int:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise SetupError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise SetupError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise SetupError("password must have at least 8 characters")
    if conn.execute(select(users.c.id).where(users.c.email == email)).first():
        raise SetupError(f"a user {email} exists already")
    result = conn.execute(
        insert(users).values(
            account_id=account_id,
            email=email,
            password_hash=hasher.hash(password),
            role=role,
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def create_site(
    conn: Connection, account_id: int, data: SiteInput, now: float, key: str | None = None
) -> dict[str, Any]:
    if not data.name.strip():
        raise SetupError("site name must not be empty")
    try:
        ZoneInfo(data.timezone)
        domains = sorted({normalize_domain(d) for d in data.domains})
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SetupError(
            str(exc)
            if isinstance(exc, ValueError) and "domain" in str(exc)
            else f"unknown timezone {data.timezone!r}"
        ) from exc
    if data.policy not in POLICIES:
        raise SetupError(f"policy must be one of {', '.join(POLICIES)}")
    if len(data.currency) != 3 or not data.currency.isalpha():
        raise SetupError(f"currency must be a 3-letter ISO code, not {data.currency!r}")
    originals = [_e164(n, data.region, "original number") for n in data.original_numbers]
    default = (
        _e164(data.default_destination, data.region, "default destination")
        if data.default_destination
        else None
    )
    key = key or secrets.token_hex(6)
    site_id = site_repo.insert_site(
        conn,
        {
            "account_id": account_id,
            "key": key,
            "name": data.name.strip()[:200],
            "domains": domains,
            "timezone": data.timezone,
            "currency": data.currency.upper(),
            "region": data.region.upper(),
            "original_numbers": originals,
            "default_destination": default,
            "ping_interval": data.pool.ping_interval,
            "hold_after_leave": data.pool.hold_after_leave,
            "cooldown": data.pool.cooldown,
            "session_timeout": data.pool.session_timeout,
            "excluded_channels": [c.strip().lower() for c in data.excluded_channels if c.strip()],
            "match_window": data.match_window,
            "policy": data.policy,
            "created_at": now,
        },
    )
    return {"id": site_id, "key": key}


def add_number(
    conn: Connection, account_id: int, site_id: int, data: NumberInput, now: float
) -> int:
    site = site_repo.site_row(conn, site_id=site_id)
    if site is None or site["account_id"] != account_id:
        raise SetupError(f"no site {site_id} in this account")
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
