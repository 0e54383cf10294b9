"""Failed logins, limited per client address and per account (e-mail), in process memory.

A guess costs the server an argon2 verification, so a flood of them is refused before any
is made: a refused attempt costs a dictionary look-up, no hashing and no database write.

Each limit is a sliding window of recent failures. An attempt is counted as a failure when
it is let in (so a burst of parallel guesses cannot all pass before the first fails) and
forgiven when the password turns out right. Refused attempts are not counted: a window
empties once its oldest failure is older than the window, whatever an attacker keeps
sending, so the e-mail limit locks an account for at most `email_window` after the last
guess that was let in. The owner is not locked out even then: an address that has logged
in to the account before (remembered for `known_seconds`) is held to its own address limit
only.

The state lives in the memory of one process: with N server processes, an attacker whose
requests are spread over all of them gets up to N times each limit (still a handful of
guesses a minute against argon2-hashed passwords).
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    address_failures: int = 10  # per client address ...
    address_window: float = 60.0  # ... per minute: a few typing mistakes of a whole office
    email_failures: int = 10  # per account (e-mail) ...
    email_window: float = 900.0  # ... per 15 minutes, from all addresses together
    known_seconds: float = 30 * 86_400  # an address that logged in to an account, trusted
    max_keys: int = 100_000  # per table; hostile input does not grow memory past this


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    retry_after: int  # whole seconds until an attempt would be let in


@dataclass(frozen=True, slots=True)
class Attempt:
    """A let-in attempt: the failure it was counted as, to forgive if it succeeds."""

    address: str
    email: str
    at: float
    counted_on_email: bool


class _Windows:
    """Recent moments per key, oldest first; bounded in keys."""

    def __init__(self, span: float, max_keys: int) -> None:
        self.span = span
        self._max_keys = max_keys
        self._items: dict[str, deque[float]] = {}

    def recent(self, key: str, now: float) -> deque[float]:
        """The key's moments within the window (older ones dropped)."""
        moments = self._items.get(key)
        if moments is None:
            return deque()
        while moments and moments[0] <= now - self.span:
            moments.popleft()
        if not moments:
            del self._items[key]
        return moments

    def add(self, key: str, now: float) -> None:
        if key not in self._items and len(self._items) >= self._max_keys:
            self._make_room(now)
        self._items.setdefault(key, deque()).append(now)

    def forget(self, key: str, moment: float | None = None) -> None:
        """All of the key's moments, or just `moment`."""
        moments = self._items.get(key)
        if moments is None:
            return
        if moment is None:
            moments.clear()
        elif moment in moments:
            moments.remove(moment)
        if not moments:
            del self._items[key]

    def _make_room(self, now: float) -> None:
        for key in list(self._items):
            self.recent(key, now)
        while len(self._items) >= self._max_keys:  # still full: the oldest keys go
            del self._items[next(iter(self._items))]


class LoginLimiter:
    """Decides, before any hashing, whether a login attempt may be checked at all."""

    def __init__(self, clock: Callable[[], float], limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._lock = threading.Lock()
        self._by_address = _Windows(self.limits.address_window, self.limits.max_keys)
        self._by_email = _Windows(self.limits.email_window, self.limits.max_keys)
        self._known: dict[tuple[str, str], float] = {}  # (e-mail, address): last login

    def attempt(self, address: str, email: str) -> Attempt | Refusal:
        """Let the attempt in (counted as a failure until `succeeded`) or refuse it."""
        email, now, lim = _key(email), self._clock(), self.limits
        with self._lock:
            mine = self._by_address.recent(address, now)
            if len(mine) >= lim.address_failures:
                return Refusal(
                    "too many failed logins from this address", _wait(mine, lim.address_window, now)
                )
            known = self._known_address(email, address, now)
            theirs = self._by_email.recent(email, now)
            if not known and len(theirs) >= lim.email_failures:
                return Refusal(
                    "too many failed logins for this account", _wait(theirs, lim.email_window, now)
                )
            self._by_address.add(address, now)
            if not known:
                self._by_email.add(email, now)
            return Attempt(address, email, now, not known)

    def cancel(self, attempt: Attempt) -> None:
        """The attempt was never checked (the server was busy): it counts for nothing."""
        with self._lock:
            self._by_address.forget(attempt.address, attempt.at)
            if attempt.counted_on_email:
                self._by_email.forget(attempt.email, attempt.at)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the attempt was no failure, the account's failures are
        forgiven, and the address is known for the account from now on."""
        now = self._clock()
        with self._lock:
            self._by_address.forget(attempt.address, attempt.at)
            self._by_email.forget(attempt.email)
            if len(self._known) >= self.limits.max_keys:
                self._forget_old_known(now)
            self._known[(attempt.email, attempt.address)] = now

    def _known_address(self, email: str, address: str, now: float) -> bool:
        last = self._known.get((email, address))
        return last is not None and now - last < self.limits.known_seconds

    def _forget_old_known(self, now: float) -> None:
        horizon = now - self.limits.known_seconds
        for pair, last in list(self._known.items()):
            if last < horizon:
                del self._known[pair]
        while len(self._known) >= self.limits.max_keys:
            del self._known[next(iter(self._known))]


def address_key(ip: str) -> str:
    """Whom the address limit counts: an IPv4 address, or an IPv6 address's /64 (one
    subscriber's network, whose 2^64 addresses would otherwise each get the limit)."""
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _key(email: str) -> str:
    return email.strip().lower()


def _wait(moments: deque[float], span: float, now: float) -> int:
    """Seconds until the oldest moment leaves the window (at least 1)."""
    return max(1, math.ceil(moments[0] + span - now))


class AddressLimiter:
    """Failed attempts per client address only, for secrets nobody guesses (a feed's
    random password): a limit per account as well would let anyone who knows the
    username lock its rightful client out. Counted before the check, like logins."""

    def __init__(
        self, clock: Callable[[], float], failures: int = 10, window: float = 60.0
    ) -> None:
        self.failures = failures
        self._clock = clock
        self._lock = threading.Lock()
        self._by_address = _Windows(window, Limits().max_keys)

    def attempt(self, address: str) -> float | Refusal:
        """Let the attempt in (counted as a failure, at the moment returned, until
        `succeeded`) or refuse it."""
        now = self._clock()
        with self._lock:
            mine = self._by_address.recent(address, now)
            if len(mine) >= self.failures:
                wait = _wait(mine, self._by_address.span, now)
                return Refusal("too many failed attempts from this address", wait)
            self._by_address.add(address, now)
            return now

    def succeeded(self, address: str, at: float) -> None:
        """The attempt counted at `at` was right: it is no failure."""
        with self._lock:
            self._by_address.forget(address, at)
