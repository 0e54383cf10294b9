"""Reading and writing accounts, sites and tracking numbers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from callpath.domain.pool import PoolSettings
from callpath.domain.site import SiteConfig
from callpath.storage.tables import sites, tracking_numbers

Row = dict[str, Any]


def insert_site(conn: Connection, values: Row) -> int:
    result = conn.execute(insert(sites).values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def insert_number(conn: Connection, values: Row) -> int:
    result = conn.execute(insert(tracking_numbers).values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def number_by_e164(conn: Connection, e164: str) -> Row | None:
    row = conn.execute(select(tracking_numbers).where(tracking_numbers.c.e164 == e164)).first()
    return dict(row._mapping) if row else None


def number_by_id(conn: Connection, account_id: int, number_id: int) -> Row | None:
    t = tracking_numbers.c
    row = conn.execute(
        select(tracking_numbers).where(t.account_id == account_id, t.id == number_id)
    ).first()
    return dict(row._mapping) if row else None


def list_numbers(conn: Connection, account_id: int, site_id: int | None = None) -> list[Row]:
    query = select(tracking_numbers).where(tracking_numbers.c.account_id == account_id)
    if site_id is not None:
        query = query.where(tracking_numbers.c.site_id == site_id)
    rows = conn.execute(query.order_by(tracking_numbers.c.kind, tracking_numbers.c.e164))
    return [dict(r._mapping) for r in rows]


def list_sites(conn: Connection, account_id: int | None) -> list[Row]:
    """The account's sites (None: every account's, for the CLI), oldest first."""
    query = select(sites).order_by(sites.c.id)
    if account_id is not None:
        query = query.where(sites.c.account_id == account_id)
    return [dict(r._mapping) for r in conn.execute(query)]


def account_zone(conn: Connection, account_id: int) -> str | None:
    """The timezone all the account's sites share, or None (no site, or several zones):
    account-wide pages show their moments in it."""
    query = select(sites.c.timezone).where(sites.c.account_id == account_id).distinct().limit(2)
    zones = conn.execute(query).scalars().all()
    return str(zones[0]) if len(zones) == 1 else None


def active_counts(conn: Connection) -> dict[int, dict[str, int]]:
    """Active tracking numbers by site id, then by kind."""
    n = tracking_numbers.c
    found: dict[int, dict[str, int]] = {}
    query = select(n.site_id, n.kind, func.count()).where(n.active).group_by(n.site_id, n.kind)
    for site_id, kind, count in conn.execute(query):
        found.setdefault(int(site_id), {})[str(kind)] = int(count)
    return found


def site_row(
    conn: Connection, *, key: str | None = None, site_id: int | None = None, lock: bool = False
) -> Row | None:
    """The site by key or id; `lock`: held until the transaction ends (PostgreSQL; SQLite
    writers take turns anyway)."""
    query = select(sites)
    query = (
        query.where(sites.c.key == key) if key is not None else query.where(sites.c.id == site_id)
    )
    row = conn.execute(query.with_for_update() if lock else query).first()
    return dict(row._mapping) if row else None


def update_site(conn: Connection, account_id: int, site_id: int, values: Row) -> None:
    conn.execute(
        update(sites)
        .where(sites.c.id == site_id, sites.c.account_id == account_id)
        .values(**values)
    )


def retire_defaults(conn: Connection, site_id: int) -> None:
    conn.execute(
        update(tracking_numbers)
        .where(tracking_numbers.c.site_id == site_id, tracking_numbers.c.kind == "default")
        .values(active=False)
    )


def insert_numbers(conn: Connection, rows: list[Row]) -> None:
    """Many numbers in one statement (a seeded pool of thousands)."""
    if rows:
        conn.execute(insert(tracking_numbers), rows)


def set_number_active(conn: Connection, account_id: int, number_id: int, active: bool) -> None:
    t = tracking_numbers.c
    conn.execute(
        update(tracking_numbers)
        .where(t.id == number_id, t.account_id == account_id)
        .values(active=active)
    )


def load_site_config(
    conn: Connection, *, key: str | None = None, site_id: int | None = None
) -> SiteConfig | None:
    row = site_row(conn, key=key, site_id=site_id)
    if row is None:
        return None
    n = tracking_numbers.c
    active = (n.site_id == row["id"]) & n.active
    default = conn.execute(
        select(n.e164).where(active, n.kind == "default").order_by(n.id.desc()).limit(1)
    ).scalar()
    sizes: dict[str | None, int] = dict(
        conn.execute(
            select(n.pool_group, func.count())
            .where(active, n.kind == "pool")
            .group_by(n.pool_group)
        ).all()
    )
    return SiteConfig(
        id=row["id"],
        account_id=row["account_id"],
        key=row["key"],
        name=row["name"],
        domains=tuple(row["domains"]),
        timezone=row["timezone"],
        region=row["region"],
        original_numbers=tuple(row["original_numbers"]),
        pool=PoolSettings(
            ping_interval=row["ping_interval"],
            hold_after_leave=row["hold_after_leave"],
            cooldown=row["cooldown"],
            session_timeout=row["session_timeout"],
            selection="random" if row["policy"] == "naive" else "idle_longest",
            sticky=row["policy"] != "naive",
        ),
        excluded_channels=tuple(c.lower() for c in row["excluded_channels"]),
        default_number=default,
        pool_size=sum(sizes.values()),
        policy=row["policy"],
        pool_groups=frozenset(g for g in sizes if g is not None),
        ungrouped_size=sizes.get(None, 0),
    )
