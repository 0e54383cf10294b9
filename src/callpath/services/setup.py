"""Administrative use cases: sites, tracking numbers and integrations (what a user gives
for them, and its checks: `services/site_input.py`; accounts and users:
`services/accounts.py`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection

from callpath import telephony
from callpath.domain import pool_groups
from callpath.domain.pool import POLICIES, PoolSettings
from callpath.domain.site import NUMBER_KINDS
from callpath.services import site_input
from callpath.services.site_input import NotFound as NotFound
from callpath.services.site_input import NumberInput as NumberInput
from callpath.services.site_input import SetupError as SetupError
from callpath.services.site_input import SiteChanges as SiteChanges
from callpath.services.site_input import SiteInput as SiteInput
from callpath.services.site_input import unstorable as unstorable
from callpath.storage import call_repo, site_repo, user_repo


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
        pool = PoolSettings(**{name: merged[name] for name in site_input.POOL_FIELDS})
    except ValueError as exc:
        raise SetupError(str(exc)) from exc
    names = [f.name for f in fields(SiteInput) if f.name != "pool"]
    return SiteInput(pool=pool, **{name: merged[name] for name in names})


def _site_values(data: SiteInput) -> dict[str, Any]:
    """The site's columns, each checked: a SetupError names the first bad one."""
    site_input.texts(data)
    if not data.name.strip():
        raise SetupError("site name must not be empty")
    if data.policy not in POLICIES:
        raise SetupError(f"policy must be one of {', '.join(POLICIES)}")
    region = site_input.region(data.region)
    default = data.default_destination
    return {
        "name": data.name.strip()[:200],
        "timezone": site_input.timezone(data.timezone),
        "domains": sorted({site_input.domain(d) for d in data.domains}),
        "currency": site_input.currency(data.currency),
        "region": region,
        "original_numbers": [
            site_input.e164(n, region, "original number") for n in data.original_numbers
        ],
        "default_destination": site_input.e164(default, region, "default destination")
        if default
        else None,
        "ping_interval": data.pool.ping_interval,
        "hold_after_leave": data.pool.hold_after_leave,
        "cooldown": data.pool.cooldown,
        "session_timeout": data.pool.session_timeout,
        "excluded_channels": site_input.channels(data.excluded_channels),
        "match_window": site_input.match_window(data.match_window),
        "policy": data.policy,
    }


def no_destination(site: dict[str, Any]) -> str | None:
    """Why calls to the site's numbers have nowhere to go, or None: a site may be made
    without a default destination, but gets no routing until it has one."""
    if site["default_destination"]:
        return None
    return (
        f"site {site['id']} has no default destination, so calls to its numbers would "
        "have nowhere to go: set the site's default destination first"
    )


def add_number(
    conn: Connection, account_id: int, site_id: int, data: NumberInput, now: float
) -> int:
    """A tracking number of the site; refused while calls to it would go nowhere (no
    forward-to of its own and no default destination of the site's)."""
    site_input.texts(data)
    site = site_repo.site_row(conn, site_id=site_id)
    if site is None or site["account_id"] != account_id:
        raise SetupError(f"no site {site_id} in this account")
    site_input.number_fields(data)
    if data.kind not in NUMBER_KINDS:
        raise SetupError(f"kind must be one of {', '.join(NUMBER_KINDS)}")
    if data.kind == "static" and not (data.source or data.label):
        raise SetupError("a static number needs its channel: give a label or a source")
    _channel_only_static(data)
    group = _pool_group(data)
    e164 = site_input.e164(data.number, site["region"], "number")
    if site_repo.number_by_e164(conn, e164):
        raise SetupError(f"{e164} is already a tracking number")
    forward = (
        site_input.e164(data.forward_to, site["region"], "forward-to") if data.forward_to else None
    )
    missing = no_destination(site)
    if missing and not forward:
        raise SetupError(f"{missing} (or give this number its own forward-to)")
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


def site_number(conn: Connection, account_id: int, site_id: int, number_id: int) -> dict[str, Any]:
    """The account's number of that site; NotFound otherwise."""
    row = site_repo.number_by_id(conn, account_id, number_id)
    if row is None or row["site_id"] != site_id:
        raise NotFound(f"no number {number_id} in this account")
    return dict(row)


def site_integration(
    conn: Connection, account_id: int, site_id: int, integration_id: str
) -> dict[str, Any]:
    """The account's integration of that site; NotFound otherwise."""
    row = call_repo.integration(conn, integration_id)
    if row is None or row["account_id"] != account_id or row["site_id"] != site_id:
        raise NotFound(f"no integration {integration_id} in this account")
    return dict(row)


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


def _channel_only_static(data: NumberInput) -> None:
    """Source, medium and campaign name a static number's channel. A pool or default
    number is credited with the channel of the visit it was shown to, so they would
    do nothing there: refused rather than kept and ignored."""
    given = [name for name in ("source", "medium", "campaign") if getattr(data, name)]
    if given and data.kind != "static":
        hint = " (a sub-pool for a channel: give a group)" if data.kind == "pool" else ""
        raise SetupError(
            f"{', '.join(given)}: only a static number has a channel of its own; a "
            f"{data.kind} number's calls take the channel of the visit it was shown to{hint}"
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
    a provider that signs with its own key (Twilio's auth token) needs `secret` given.
    One that asks where to forward calls is refused while the site has no default
    destination."""
    site = site_repo.site_row(conn, site_id=site_id)
    if site is None or site["account_id"] != account_id:
        raise SetupError(f"no site {site_id} in this account")
    if kind not in INTEGRATION_KINDS:
        raise SetupError(f"kind must be one of {', '.join(INTEGRATION_KINDS)}")
    missing = no_destination(site) if kind in telephony.FORWARDING else None
    if missing:
        raise SetupError(missing)
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
