"""The one HTTP client every outbound delivery goes through, with its address guard.

A destination's URL is given by a user, so a request must not reach the server's own
network (loopback, private ranges, link-local cloud metadata) unless an admin allowed that
destination explicitly (`allow_private`, e.g. a CRM on the office network). The guard sits
where the connection is made: the host is resolved once, every address it resolves to is
judged (`domain.addresses.is_public`), and the connection goes to the address that was
judged, so a name that resolves elsewhere a moment later (DNS rebinding) gains nothing.
TLS still checks the certificate against the host name. Redirects are not followed (a
redirect is an answer like any other), no proxy or environment settings are read.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore
import httpx

from callpath.domain.addresses import is_public

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
EXCERPT = 500  # characters of an answer kept in the delivery log
USER_AGENT = "callpath-outbox/1"


class Refused(Exception):
    """The destination may not be sent to (its address, its scheme)."""


@dataclass(frozen=True, slots=True)
class OutRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    allow_private: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came back: `status` None when no answer did (`excerpt` says why)."""

    status: int | None
    latency_ms: int
    excerpt: str
    retry_after: float | None = None
    body: bytes = b""
    # Not now, and not a failure: try at this time (quiet hours; a check that must wait,
    # such as "not called back within 15 minutes"). No attempt is counted.
    defer_until: float | None = None
    # No answer, but the request may have arrived (the connection broke or timed out
    # after it was sent): a destination without a dedup key must not get it again.
    ambiguous: bool = False
    final: bool = False  # a failure not to retry, whatever the status says

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def deferred(until: float, why: str) -> Outcome:
    return Outcome(None, 0, why, defer_until=until)


def skipped(why: str) -> Outcome:
    """Nothing to send after all (the caller was called back): done, nothing sent."""
    return Outcome(204, 0, why)


def check_url(url: str, allow_private: bool) -> None:
    """Refuse at once what no delivery could reach: not http(s), no host, or (without
    `allow_private`) a host that resolves to an address that is not public. An unknown
    host is refused too: a destination is checked when it is added."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("the URL must start with http:// or https:// and name a host")
    if not allow_private:
        _addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def _addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, all of them public, or `Refused`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host[:100]}: {exc}") from exc
    found = [str(info[4][0]).split("%")[0] for info in infos]
    for text in found:
        if not is_public(ipaddress.ip_address(text)):
            raise Refused(
                f"{host[:100]} resolves to {text}, a private or local address; an admin "
                "may allow this destination explicitly (allow private)"
            )
    return found


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to public addresses, to the very address it checked."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            address = _addresses(host, port)[0]
        except Refused as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=50,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(),
        )


class Client:
    """Two pools: guarded (every destination by default) and open (destinations an
    admin allowed private addresses for). Thread-safe, as httpx's clients are."""

    def __init__(self, timeout: httpx.Timeout = TIMEOUT) -> None:
        common = {"timeout": timeout, "follow_redirects": False, "trust_env": False}
        self._guarded = httpx.Client(transport=_GuardedTransport(), **common)  # type: ignore[arg-type]
        self._open = httpx.Client(**common)  # type: ignore[arg-type]

    def send(self, request: OutRequest) -> Outcome:
        """Never raises for the network's reasons: those are an outcome without a status."""
        client = self._open if request.allow_private else self._guarded
        headers = {"User-Agent": USER_AGENT, **request.headers}
        started = time.monotonic()
        try:
            if urlsplit(request.url).scheme not in ("http", "https"):
                raise Refused("only http(s) URLs are sent to")
            answer = client.request(
                request.method, request.url, headers=headers, content=request.body
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, Refused, ValueError) as exc:
            return Outcome(None, _ms(started), _why(exc))  # never sent
        except httpx.HTTPError as exc:
            return Outcome(None, _ms(started), _why(exc), ambiguous=True)
        return Outcome(
            answer.status_code,
            _ms(started),
            answer.text[:EXCERPT],
            _retry_after(answer.headers.get("retry-after")),
            answer.content,
        )

    def close(self) -> None:
        self._guarded.close()
        self._open.close()


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _why(exc: Exception) -> str:
    kind = "timeout" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
    return f"{kind}: {exc}"[:EXCERPT]


def _retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header given in seconds (dates are rare; ignored)."""
    if value and value.strip().isdigit():
        return float(value.strip())
    return None
