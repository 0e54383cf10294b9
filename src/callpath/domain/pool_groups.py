"""Sub-pools: pool numbers kept for one channel or one country.

A pool number may belong to a group, named by a rule: a channel rule in the syntax of
excluded channels ("yandex/cpc", "cpc", "google": source/medium, source or medium) or a
region rule ("country:DE", the visitor's country from its IP). A session takes its number
from the most specific group it matches (source/medium > source > medium > country), then
from the other groups it matches in that order, then from the ungrouped pool. A session
matching no group takes only from the ungrouped pool, so a sub-pool stays kept for its
traffic; a site whose pool numbers all have a group has no ungrouped pool, and there the
fallback is any free number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from callpath.domain.site import channel_keys

COUNTRY: Final = "country:"
MAX_LENGTH: Final = 64
UNGROUPED: Final = "ungrouped"  # the fallback: numbers without a group
ANY: Final = "any"  # the fallback: any free number, whatever its group
_PART = re.compile(r"[^\s/:]+")


def parse_rule(raw: str) -> str:
    """A group rule in its stored form; ValueError says what is wrong.

    Channel rules are lower case like excluded channels; "country:de" -> "country:DE".
    """
    text = raw.strip()
    if text.lower().startswith(COUNTRY):
        code = text[len(COUNTRY) :].strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", code):
            raise ValueError(f"group {raw!r}: a region rule is country:XX (ISO 3166 code)")
        return COUNTRY + code
    text = text.lower()
    parts = text.split("/")
    if not text or len(text) > MAX_LENGTH or len(parts) > 2:
        raise ValueError(
            f"group {raw!r}: give source/medium, a source, a medium or country:XX"
            f" (at most {MAX_LENGTH} characters)"
        )
    if not all(_PART.fullmatch(p) for p in parts):
        raise ValueError(f"group {raw!r}: no spaces, and ':' only in country:XX")
    return text


def session_rules(source: str | None, medium: str | None, country: str | None) -> tuple[str, ...]:
    """The group rules a session matches, most specific first."""
    keys = channel_keys(source, medium) if source is not None and medium is not None else ()
    country_keys = (COUNTRY + country.upper(),) if country else ()
    return tuple(dict.fromkeys((*keys, *country_keys)))


def channel_of(group: str | None) -> tuple[str, str] | None:
    """(source, medium) when the group names both, else None."""
    if not group or group.startswith(COUNTRY) or "/" not in group:
        return None
    source, medium = group.split("/", 1)
    return source, medium


@dataclass(frozen=True, slots=True)
class Order:
    """Where a session looks for a free number: `groups` in turn, then `fallback`."""

    groups: tuple[str, ...] = ()
    fallback: str = UNGROUPED

    def allows(self, group: str | None) -> bool:
        """May the session keep a number of this group (a returning visitor's own)?"""
        return self.fallback == ANY or group is None or group in self.groups

    def rank(self, group: str | None) -> int:
        """Lower is better: the session's groups in order, then the fallback."""
        return self.groups.index(group) if group in self.groups else len(self.groups)


ANY_NUMBER: Final = Order((), ANY)


def order_for(
    groups: frozenset[str],
    *,
    has_ungrouped: bool,
    source: str | None,
    medium: str | None,
    country: str | None,
) -> Order:
    """The pick order for a session of this channel and country on a site with `groups`."""
    matched = tuple(r for r in session_rules(source, medium, country) if r in groups)
    return Order(matched, UNGROUPED if has_ungrouped else ANY)
