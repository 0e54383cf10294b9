"""Downloading one recording: which URL and credentials, the address check, the stream.

The URL comes from outside (a PBX's event, a provider's callback), so before every request,
redirects included, its host is resolved and refused if any address is private, loopback,
link-local or otherwise not global (unless allowed by `CALLPATH_RECORDINGS_ALLOW_PRIVATE`).
IPv6 addresses that carry an IPv4 address (IPv4-mapped, NAT64's 64:ff9b::/96, 6to4) are
judged by that IPv4 address: a NAT64 gateway would carry `64:ff9b::a9fe:a9fe` to
169.254.169.254. Prefixes whose target cannot be judged (local-use NAT64 64:ff9b:1::/48,
Teredo, the deprecated IPv4-compatible ::/96) are refused.
The body is streamed into a temporary file beside the destination and stops at the size
limit; the caller renames it into place.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import httpx

from callpath.domain.addresses import is_public

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_REDIRECTS = 5
_TWILIO_PATH = re.compile(r"/Accounts/(AC[0-9a-fA-F]{32})/Recordings/RE[0-9a-fA-F]{32}$")
_EXTENSIONS = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/ogg": "ogg",
    "audio/opus": "opus",
    "audio/mp4": "m4a",
    "audio/webm": "webm",
}


class FetchError(Exception):
    """A failed attempt; `permanent` ones are not retried."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Source:
    """What to request: the URL, and HTTP basic credentials if the provider needs them."""

    url: str
    auth: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    content_type: str
    size: int


def downloadable(kind: str, url: str) -> bool:
    """Zadarma references need an API key we do not have; only http(s) URLs are fetched."""
    return kind != "zadarma" and urlsplit(url).scheme in ("http", "https")


def source_for(kind: str, url: str, secret: str) -> Source:
    """Twilio: the RecordingUrl + `.mp3`, with AccountSid (from the URL) and the auth
    token (the integration's secret). Others: the URL as given, no credentials."""
    if kind != "twilio":
        return Source(url)
    path = urlsplit(url).path
    match = _TWILIO_PATH.search(path.removesuffix(".mp3").removesuffix(".wav"))
    if match is None:
        raise FetchError("not a Twilio recording URL (/Accounts/AC…/Recordings/RE…)", True)
    media = url if path.endswith((".mp3", ".wav")) else url + ".mp3"
    return Source(media, (match.group(1), secret))


def extension(content_type: str, url: str) -> str:
    known = _EXTENSIONS.get(content_type)
    if known:
        return known
    suffix = Path(urlsplit(url).path).suffix.lstrip(".").lower()
    return suffix if suffix in _EXTENSIONS.values() else "audio"


def check_address(url: str, allow_private: bool) -> None:
    """Refuse URLs that are not http(s) or whose host resolves to a non-global address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"refused: {parts.scheme or 'no'} scheme, only http(s)", True)
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"cannot resolve {parts.hostname}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not is_public(address):
            raise FetchError(f"refused: {parts.hostname} resolves to {address}", True)


def download(
    client: httpx.Client, source: Source, out: BinaryIO, max_bytes: int, allow_private: bool
) -> Fetched:
    """GET the source into `out`, following redirects by hand so each hop is checked;
    credentials go to the first host only."""
    url, auth = source.url, source.auth
    first_host = urlsplit(url).netloc
    for _ in range(MAX_REDIRECTS + 1):
        check_address(url, allow_private)
        send_auth = auth if urlsplit(url).netloc == first_host else None
        with client.stream("GET", url, auth=send_auth) as response:
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            return _save(response, out, max_bytes)
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _save(response: httpx.Response, out: BinaryIO, max_bytes: int) -> Fetched:
    if response.status_code != 200:
        raise FetchError(f"HTTP {response.status_code} from {response.url.host}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"too large: {declared} bytes (limit {max_bytes})", True)
    size = 0
    for chunk in response.iter_bytes(65_536):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"too large: over {max_bytes} bytes", True)
        out.write(chunk)
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return Fetched(kind or "application/octet-stream", size)
