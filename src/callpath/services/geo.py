"""Where a visitor is, by its address: a country, and with a MaxMind-format city database
(`CALLPATH_GEOIP_CITY_DB`: GeoLite2-City, GeoIP2-City) its region and city as well.

The look-up runs on the tracker's hot path: the database is opened once (memory-mapped)
and the places of recent addresses are kept in a bounded cache. Private, loopback and
reserved addresses are nowhere; an address the database does not know, or a record it
cannot read, is nowhere too: a visit is never refused over its place.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from callpath.settings import SettingsError

if TYPE_CHECKING:
    from maxminddb import Reader

log = logging.getLogger("callpath.geo")

NAME_MAX = 128  # sessions.region and sessions.city (storage/tables.py)
CACHE_SIZE = 16_384  # addresses whose place is kept
PROBE = "8.8.8.8"  # looked up once when the database is opened
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_COUNTRY = re.compile(r"[A-Za-z]{2}")


@dataclass(frozen=True, slots=True)
class Place:
    country: str | None = None  # ISO 3166 code, upper case
    region: str | None = None
    city: str | None = None


NOWHERE = Place()


class Locator(Protocol):
    def place(self, ip: str | None) -> Place: ...


def public_address(ip: str | None) -> str | None:
    """`ip` written plainly if it is a public address (an IPv4-mapped IPv6 one as IPv4);
    None if it is private, loopback, link-local, multicast, reserved or not an address."""
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    ):
        return None
    return str(addr)


class CityDb:
    """A city database, open for as long as the process runs."""

    def __init__(self, reader: Reader, cache_size: int = CACHE_SIZE) -> None:
        self._reader = reader
        self._warned = False
        self._cached = lru_cache(maxsize=cache_size)(self._look_up)

    def place(self, ip: str | None) -> Place:
        addr = public_address(ip)
        return NOWHERE if addr is None else self._cached(addr)

    def _look_up(self, addr: str) -> Place:
        try:
            return place_of(self._reader.get(addr))
        except Exception as exc:  # a damaged record, an IPv6 address in an IPv4 file
            if not self._warned:  # once: every new address would repeat it
                self._warned = True
                log.warning("CALLPATH_GEOIP_CITY_DB: look-up of %s failed: %s", addr, exc)
            return NOWHERE


def open_city_db(path: Path) -> CityDb:
    """The database at `path`, memory-mapped; SettingsError if it is not one we can read."""
    import maxminddb  # imported here: 0.1 s, and only a server with a city database needs it

    try:
        reader = maxminddb.open_database(str(path), maxminddb.MODE_AUTO)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise SettingsError(
            f"CALLPATH_GEOIP_CITY_DB: {str(path)!r} is not a MaxMind database ({exc})"
        ) from exc
    try:
        reader.get(PROBE)  # a damaged search tree shows now rather than at a visit
    except Exception as exc:  # whatever a damaged file raises: a message, not a traceback
        reader.close()
        raise SettingsError(f"CALLPATH_GEOIP_CITY_DB: {str(path)!r} is damaged ({exc})") from exc
    return CityDb(reader)


def place_of(record: object) -> Place:
    """A GeoIP2-City record's country code, first subdivision and city, each as stored
    (English names; a region without one by its code), or None where missing or odd."""
    if not isinstance(record, Mapping):
        return NOWHERE
    code = _text(_field(record.get("country"), "iso_code"))
    subdivisions = record.get("subdivisions")
    first = subdivisions[0] if isinstance(subdivisions, list) and subdivisions else None
    return Place(
        country=code.upper() if code and _COUNTRY.fullmatch(code) else None,
        region=_name(first),
        city=_name(record.get("city")),
    )


def _name(entry: object) -> str | None:
    return _text(_field(_field(entry, "names"), "en")) or _text(_field(entry, "iso_code"))


def _field(entry: object, key: str) -> object:
    return entry.get(key) if isinstance(entry, Mapping) else None


def _text(value: object) -> str | None:
    """A name fit for the column: no control characters (PostgreSQL refuses NUL), spaces
    collapsed, at most NAME_MAX characters."""
    if not isinstance(value, str):
        return None
    text = " ".join(_CONTROL.sub(" ", value).split())[:NAME_MAX].rstrip()
    return text or None
