"""A site as the tracker endpoints see it: immutable, cheap to cache."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from callpath.domain.pool import PoolSettings

NUMBER_KINDS = ("static", "pool", "default")


@dataclass(frozen=True, slots=True)
class SiteConfig:
    id: int
    account_id: int
    key: str
    name: str
    domains: tuple[str, ...]
    timezone: str
    region: str
    original_numbers: tuple[str, ...]
    pool: PoolSettings
    excluded_channels: tuple[str, ...]
    default_number: str | None
    pool_size: int
    policy: str = "standard"
    # Sub-pools (`domain/pool_groups.py`): the groups of the active pool numbers, and how
    # many of those numbers belong to none.
    pool_groups: frozenset[str] = frozenset()
    ungrouped_size: int | None = None  # None: all of `pool_size`

    def allows_origin(self, origin: str | None) -> bool:
        """With no domains configured any origin may use the snippet; else only those."""
        if not self.domains:
            return True
        if not origin:
            return False
        try:
            host = (urlsplit(origin).hostname or "").rstrip(".").lower()
        except ValueError:  # a malformed Origin ("http://[::1") is nobody's
            return False
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def own_hosts(self) -> tuple[str, ...]:
        return self.domains

    def substitutes(self, source: str, medium: str) -> bool:
        """Substitution covers all traffic unless the site opted a channel out.

        An entry is a medium ("organic"), a source ("google") or "source/medium".
        """
        return not set(channel_keys(source, medium)).intersection(self.excluded_channels)


def channel_keys(source: str, medium: str) -> tuple[str, str, str]:
    """The rules a channel answers to, most specific first: "source/medium", "source",
    "medium" (lower case). Excluded channels and pool groups are matched on these."""
    return f"{source}/{medium}".lower(), source.lower(), medium.lower()


def normalize_domain(raw: str) -> str:
    """ "https://WWW.Shop.example/" -> "www.shop.example"; raises ValueError on junk."""
    text = raw.strip().lower()
    host = urlsplit(text if "//" in text else "//" + text).hostname or ""
    host = host.rstrip(".")
    labels = host.split(".")
    if len(labels) < 2 or not all(labels) or len(host) > 253:
        raise ValueError(f"{raw!r} is not a domain name")
    return host
