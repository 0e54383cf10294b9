"""One client of the tracker: who it is, how much of a pool it may hold, how fast it starts.

A bot with an ordinary browser's user agent could otherwise keep a whole pool taken with
a few session starts and a ping every half minute. A client is an address as the
trusted-proxy rules give it (`enrich.client_ip`), an IPv6 address by its /64 (one
subscriber's prefix), or the visitor id when no address is known. Only a keyed hash of it
is stored (`tracking_numbers.held_client`), never the address.

Carrier-grade NAT and offices put many people behind one address, so the limits are
generous (settings.ClientLimits): a client may hold a quarter of the pool, and at least
two numbers; and start 30 sessions a minute that seek a pool number (after a burst of
60) per site and process. A session start is one per visit (further pages continue it),
so an office of a hundred people each opening a new visit of one site every few minutes
stays under it, while a flood of thousands of starts is cut to a trickle.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from callpath.settings import ClientLimits

SECRET_FILE = "client-key.secret"  # noqa: S105 - a file name, not a secret
# The rate limiter forgets the least recently seen client past this many (a forgotten
# client starts with a full bucket again); about 100 bytes each.
MAX_TRACKED = 65_536


def subject(ip: str | None, visitor: str) -> str:
    """What identifies the client before hashing: the address (IPv6: its /64)."""
    try:
        addr = ipaddress.ip_address(ip or "")
    except ValueError:
        return "visitor:" + visitor
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


def client_key(secret: bytes, ip: str | None, visitor: str) -> str:
    """The stored form: HMAC-SHA256 of the subject, 128 bits as 32 hex digits."""
    digest = hmac.new(secret, subject(ip, visitor).encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def cap(limits: ClientLimits, pool_size: int) -> int:
    """How many of a site's pool numbers one client may hold at once."""
    return max(limits.pool_min, -(-pool_size * limits.pool_share // 100))


@lru_cache(maxsize=8)
def secret(configured: str | None, spool_dir: Path) -> bytes:
    """The hashing key: CALLPATH_CLIENT_KEY_SECRET, or a random one kept (0600) in the
    spool folder, which every worker of a host shares. Hosts behind one load balancer
    must be given the same CALLPATH_CLIENT_KEY_SECRET, or each counts clients alone."""
    if configured:
        return configured.encode()
    path = spool_dir / SECRET_FILE
    spool_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    # Another worker may have created it an instant ago and not written it yet.
    for _ in range(50):
        text = path.read_text().strip()
        if text:
            return text.encode()
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: remove it, or set CALLPATH_CLIENT_KEY_SECRET")


class StartLimiter:
    """Token buckets of session starts per (site, client), in this process's memory.

    Per process: with W web workers a client may start up to W times the rate, as the
    kernel spreads its connections over them. Cheap (no I/O, one lock), so it can run
    on the event loop and inside the tracker's transaction.
    """

    def __init__(
        self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[tuple[int, str], tuple[float, float]] = OrderedDict()

    def admit(self, site_id: int, key: str) -> bool:
        """Take one start from the client's bucket; False when it is empty."""
        if self._rate <= 0:
            return True
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop((site_id, key), (self._burst, now))
            tokens = min(self._burst, tokens + (now - at) * self._rate)
            admitted = tokens >= 1.0
            self._buckets[(site_id, key)] = (tokens - 1.0 if admitted else tokens, now)
            if len(self._buckets) > MAX_TRACKED:
                self._buckets.popitem(last=False)
            return admitted


@dataclass(frozen=True, slots=True)
class Client:
    """A request's client, as the tracker service needs it."""

    key: str
    limits: ClientLimits
    starts: StartLimiter | None = None

    def cap(self, pool_size: int) -> int:
        return cap(self.limits, pool_size)

    def may_start(self, site_id: int) -> bool:
        return self.starts is None or self.starts.admit(site_id, self.key)
