"""What a request tells about the visitor: device, browser, OS, place, client ids."""

from __future__ import annotations

import ipaddress
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from callpath.services import geo as geo_mod
from callpath.services.geo import Locator, Place
from callpath.settings import Network

_GA = re.compile(r"^(?:GA\d\.\d+\.)?(\d{1,20}\.\d{1,20})$")
_YM = re.compile(r"^\d{1,30}$")
_TABLET = re.compile(r"iPad|Tablet|Tab\b|SM-T\d|Kindle|Silk", re.IGNORECASE)
_MOBILE = re.compile(r"Mobi|Android|iPhone|iPod|Windows Phone|Opera Mini", re.IGNORECASE)
_BOT = re.compile(
    r"bot\b|crawl|spider|slurp|HeadlessChrome|Lighthouse|facebookexternalhit", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Device:
    device: str  # desktop | mobile | tablet | bot
    browser: str | None
    os: str | None


@lru_cache(maxsize=4096)
def parse_user_agent(ua: str) -> Device:
    from ua_parser import parse  # imported lazily: its rule table is large

    result = parse(ua[:1000])
    browser = result.user_agent.family if result.user_agent else None
    os_name = result.os.family if result.os else None
    return Device(
        _device_class(ua, result.device.family if result.device else ""), browser, os_name
    )


def _device_class(ua: str, family: str) -> str:
    if family == "Spider" or _BOT.search(ua):
        return "bot"
    if _TABLET.search(ua):
        return "tablet"
    return "mobile" if _MOBILE.search(ua) else "desktop"


class _Geo:
    """Offline IP -> country, from the database that geoip2fast ships in its package."""

    def __init__(self) -> None:
        self._db: Any = None
        self._lock = threading.Lock()

    def country(self, ip: str | None) -> str | None:
        addr = geo_mod.public_address(ip)
        if addr is None:
            return None
        code = str(getattr(self._load().lookup(addr), "country_code", "") or "")
        return code if re.fullmatch(r"[A-Z]{2}", code) else None

    def place(self, ip: str | None) -> Place:
        country = self.country(ip)
        return Place(country) if country else geo_mod.NOWHERE

    @property
    def loaded(self) -> bool:
        return self._db is not None

    def _load(self) -> Any:
        with self._lock:
            if self._db is None:
                from geoip2fast import GeoIP2Fast

                self._db = GeoIP2Fast(verbose=False)
        return self._db


geo = _Geo()
SAMPLE_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0"


def locator(city_db: Path | None) -> Locator:
    """Where visits are placed: the city database `CALLPATH_GEOIP_CITY_DB` names, opened
    now (SettingsError if it cannot be read), else the country table (`geo`)."""
    return geo_mod.open_city_db(city_db) if city_db is not None else geo


def load(where: Locator | None = None) -> None:
    """Load the user-agent rules and the country table (or warm `where`) now. They load
    on first use, which took half a second (0.28 s and 0.2 s) at the first visitor after
    a start: on the event loop, where every answer (routing included) waited for it."""
    parse_user_agent(SAMPLE_UA)
    (where or geo).place(geo_mod.PROBE)


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]
) -> str | None:
    """The visitor's address: X-Forwarded-For counts only when the peer is a trusted proxy.

    Walks the chain from the right and returns the first address that is not a trusted
    proxy, so a client cannot forge its address by sending the header itself.
    """
    if not peer or not forwarded_for or not _trusted(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")][:20]):
        if not _trusted(hop, trusted):
            return hop if _is_ip(hop) else peer
    return peer


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _trusted(ip: str, trusted: tuple[Network, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in trusted)


def client_ids(ga: object, ym: object) -> dict[str, str]:
    """Analytics client ids from the _ga and _ym_uid cookies, when well-formed."""
    ids: dict[str, str] = {}
    if isinstance(ga, str) and (m := _GA.match(ga.strip())):
        ids["ga"] = m.group(1)
    if isinstance(ym, str) and _YM.match(ym.strip()):
        ids["ym"] = ym.strip()
    return ids
