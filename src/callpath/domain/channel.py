"""Marketing channel of a website visit: utm tags, ad click ids, then the referrer.

Pure functions over strings sent by browsers and bots: nothing here raises on
any string input.  The tables live in :mod:`callpath.domain.channel_rules`.

Every value is stored as it reads: characters that show nothing (zero-width, bidi
controls, soft hyphens, other format and control characters) are dropped and the rest is
NFKC-normalised, so a "cpc" with a zero-width space inside, a "yandex" behind a
right-to-left override, or a full-width "cpc" are stored as the "cpc" and "yandex" that a
filter looks for.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, NamedTuple
from urllib.parse import SplitResult, parse_qsl, urlsplit

from callpath.domain import channel_rules as rules

MAX_VALUE_LEN: Final = 255
MAX_INPUT_LEN: Final = 65_536
DIRECT_SOURCE: Final = "(direct)"
NONE_MEDIUM: Final = "(none)"
NOT_SET: Final = "(not set)"

# Control, surrogate, line/paragraph separators (format characters go with the ignorables).
_DROP_CATEGORIES: Final = frozenset({"Cc", "Cs", "Zl", "Zp"})
_IGNORABLE: Final = re.compile(
    "[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in rules.IGNORABLE_RANGES) + "]"
)
_ASCII_CONTROLS: Final = dict.fromkeys([*range(32), 127])
_HOST_PUNCTUATION: Final = frozenset("-._:")
_ASCII_HOST: Final = re.compile(r"[A-Za-z0-9\-._:]+")  # ASCII's alphanumerics and the above
_URL_PREFIXES: Final = ("http://", "https://", "//")


@dataclass(frozen=True, slots=True)
class Channel:
    source: str  # e.g. "yandex", "google", "(direct)", "example.org"
    medium: str  # "cpc", "organic", "social", "referral", "email", "(none)" or utm_medium
    campaign: str | None
    keyword: str | None
    content: str | None


@dataclass(frozen=True, slots=True)
class Landing:
    channel: Channel
    utm: dict[str, str]  # keys among source, medium, campaign, term, content
    click_ids: dict[str, str]  # only known click-id params, e.g. {"gclid": "..."}


class _Rule(NamedTuple):
    source: str
    medium: str
    keyword_params: tuple[str, ...]


def _build_index() -> tuple[dict[str, _Rule], dict[str, _Rule], dict[str, _Rule]]:
    """(exact host suffix, wildcard name before ".*", android package) -> rule."""
    exact: dict[str, _Rule] = {}
    wildcard: dict[str, _Rule] = {}
    apps: dict[str, _Rule] = {}
    for medium, table in rules.RULE_TABLES:
        for entry in table:
            rule = _Rule(entry.source, medium, entry.keyword_params)
            for pattern in entry.hosts:
                if pattern.endswith(rules.WILDCARD_SUFFIX):
                    wildcard[pattern.removesuffix(rules.WILDCARD_SUFFIX)] = rule
                else:
                    exact[pattern] = rule
            apps.update(dict.fromkeys(entry.android_apps, rule))
    return exact, wildcard, apps


_EXACT, _WILDCARD, _APPS = _build_index()


def _without_ignorable(text: str) -> str:
    """`text` without the characters that show nothing and are not controls: format
    characters (bidi marks and overrides, zero-width spaces and joiners, soft hyphen,
    BOM, tags) and the other default-ignorable ones (variation selectors, Hangul fillers).
    Browsers drop the same ones from a host name (UTS #46)."""
    if text.isascii():
        return text
    return "".join(ch for ch in _IGNORABLE.sub("", text) if unicodedata.category(ch) != "Cf")


def _visible(text: str) -> str:
    """`text` without ignorable characters, controls, surrogates and line separators."""
    if text.isascii():
        return text.translate(_ASCII_CONTROLS)
    return "".join(
        ch for ch in _without_ignorable(text) if unicodedata.category(ch) not in _DROP_CATEGORIES
    )


def clean_value(raw: object) -> str | None:
    """Drop invisible characters, NFKC-normalise (full-width and compatibility forms read
    as their plain letters), trim whitespace, cap at 255 chars; empty -> None."""
    if not isinstance(raw, str):
        return None
    kept = _visible(raw[:MAX_INPUT_LEN])
    if not kept.isascii():
        kept = unicodedata.normalize("NFKC", kept)
    text = kept.strip()[:MAX_VALUE_LEN].rstrip()
    return text or None


def _split(raw: object) -> SplitResult | None:
    if not isinstance(raw, str):
        return None
    try:
        return urlsplit(raw[:MAX_INPUT_LEN].strip())
    except ValueError:
        return None


def _query_params(query: str) -> dict[str, str]:
    """Lower-cased key -> first non-empty cleaned value."""
    params: dict[str, str] = {}
    try:
        pairs = parse_qsl(query, errors="replace")
    except ValueError:
        return params
    for key, value in pairs:
        name = (clean_value(key) or "").lower()
        if name not in params and (cleaned := clean_value(value)) is not None:
            params[name] = cleaned
    return params


def _host_of(parts: SplitResult) -> str | None:
    """Lower-case host without port, userinfo or trailing dots; None if not a host."""
    try:
        name = parts.hostname or ""
    except ValueError:
        return None
    if name.isascii():  # most hosts: NFKC changes nothing, and one pattern checks them
        host = name.lower().rstrip(".")
        return host if 0 < len(host) <= 253 and _ASCII_HOST.fullmatch(host) else None
    try:
        host = unicodedata.normalize("NFKC", _without_ignorable(name)).lower().rstrip(".")
    except ValueError:
        return None
    if not host or len(host) > 253:
        return None
    if not all(ch.isalnum() or ch in _HOST_PUNCTUATION for ch in host):
        return None
    return host


def _is_country_suffix(labels: list[str]) -> bool:
    """True for "com", "de", "co.uk", "com.ua": what may follow a ``name.*`` pattern."""

    def is_cc(label: str) -> bool:
        return len(label) == 2 and label.isascii() and label.isalpha()

    if len(labels) == 1:
        return labels[0] == "com" or is_cc(labels[0])
    return len(labels) == 2 and labels[0] in ("co", "com") and is_cc(labels[1])


def _wildcard_rule(labels: list[str]) -> _Rule | None:
    for tld_len in (1, 2):
        if len(labels) > tld_len and _is_country_suffix(labels[-tld_len:]):
            rule = _WILDCARD.get(".".join(labels[:-tld_len]))
            if rule is not None:
                return rule
    return None


def _lookup_host(host: str) -> _Rule | None:
    """Most specific rule whose pattern is a dot-boundary suffix of ``host``."""
    labels = host.split(".")
    for start in range(len(labels)):
        suffix = labels[start:]
        rule = _EXACT.get(".".join(suffix)) or _wildcard_rule(suffix)
        if rule is not None:
            return rule
    return None


def _strip_www(host: str) -> str:
    return host[4:] if host.startswith("www.") and len(host) > 4 else host


def _normalize_hosts(hosts: Iterable[object]) -> frozenset[str]:
    """Own hosts as given by a user ("Example.com", "https://www.example.com:8443/")."""
    if isinstance(hosts, tuple):  # a site's domains: the same for every visit
        try:
            return _normalized(hosts)
        except TypeError:  # something unhashable among them
            pass
    return _normalize(hosts)


@lru_cache(maxsize=1024)
def _normalized(hosts: tuple[object, ...]) -> frozenset[str]:
    return _normalize(hosts)


def _normalize(hosts: Iterable[object]) -> frozenset[str]:
    found: set[str] = set()
    for raw in hosts:
        if not isinstance(raw, str):
            continue
        parts = _split(raw if "://" in raw else "//" + raw.strip())
        host = _host_of(parts) if parts is not None else None
        if host:
            found.add(_strip_www(host))
    return frozenset(found)


def _is_own(host: str, own: frozenset[str]) -> bool:
    labels = host.split(".")
    return any(".".join(labels[i:]) in own for i in range(len(labels)))


def _keyword(query: str, names: tuple[str, ...]) -> str | None:
    if not names:
        return None
    params = _query_params(query)
    for name in names:
        value = params.get(name)
        if value is not None and not value.lower().startswith(_URL_PREFIXES):
            return value
    return None


def _channel(source: str, medium: str, keyword: str | None = None) -> Channel:
    return Channel(source[:MAX_VALUE_LEN], medium, None, keyword, None)


def _app_channel(parts: SplitResult) -> Channel | None:
    """``android-app://<package>/...``: a known app, else the package as a referral."""
    package = _host_of(parts)
    if package is None:
        return None
    rule = _APPS.get(package)
    if rule is None:
        return _channel(package, rules.MEDIUM_REFERRAL)
    return _channel(rule.source, rule.medium)


def _referrer_channel(referrer: object, own: frozenset[str]) -> Channel | None:
    parts = _split(referrer)
    if parts is None:
        return None
    if parts.scheme == "android-app":
        return _app_channel(parts)
    host = _host_of(parts) if parts.scheme in ("http", "https") else None
    if host is None or _is_own(host, own):
        return None
    rule = _lookup_host(host)
    if rule is None:
        return _channel(_strip_www(host), rules.MEDIUM_REFERRAL)
    return _channel(rule.source, rule.medium, _keyword(parts.query, rule.keyword_params))


def referrer_channel(referrer: str, *, own_hosts: Iterable[str] = ()) -> Channel | None:
    """Channel implied by a Referer header; None when empty, unparseable or own."""
    return _referrer_channel(referrer, _normalize_hosts(own_hosts))


def _utm_channel(utm: Mapping[str, str], click_ids: Mapping[str, str]) -> Channel | None:
    if not utm:
        return None
    click = _click_channel(click_ids)
    source = utm.get("source") or (click.source if click else NOT_SET)
    return Channel(
        source=source,
        medium=utm.get("medium", NOT_SET),
        campaign=utm.get("campaign"),
        keyword=utm.get("term"),
        content=utm.get("content"),
    )


def _click_channel(click_ids: Mapping[str, str]) -> Channel | None:
    """The first click id in table order (paid ids come first)."""
    for name in rules.CLICK_IDS:
        if name in click_ids:
            source, medium = rules.CLICK_IDS[name]
            return _channel(source, medium)
    return None


def parse_landing(url: str, referrer: str | None, own_hosts: Iterable[str] = ()) -> Landing:
    """Classify a visit from its landing URL and Referer header.

    Order: utm_* tags, then a known ad click id, then the referrer, then direct.
    The landing URL's own host counts as an own host (no self-referrals).
    """
    parts = _split(url)
    params = _query_params(parts.query) if parts is not None else {}
    utm = {key: params[f"utm_{key}"] for key in rules.UTM_KEYS if f"utm_{key}" in params}
    click_ids = {name: params[name] for name in rules.CLICK_IDS if name in params}
    own = _normalize_hosts(own_hosts)
    landing_host = _host_of(parts) if parts is not None else None
    if landing_host:
        own |= {_strip_www(landing_host)}
    channel = (
        _utm_channel(utm, click_ids)
        or _click_channel(click_ids)
        or _referrer_channel(referrer, own)
        or Channel(DIRECT_SOURCE, NONE_MEDIUM, None, None, None)
    )
    return Landing(channel=channel, utm=utm, click_ids=click_ids)
