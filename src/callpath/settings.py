"""Environment configuration (CALLPATH_*). Bad values fail loudly at start-up."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "sqlite:///var/callpath.sqlite3"
SIP_ALLOW_DEFAULT = "127.0.0.0/8,::1/128"
TELEGRAM_API = "https://api.telegram.org"
SMTP_SECURITY = ("starttls", "ssl", "none")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A CALLPATH_* variable has a value we cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    trusted_proxies: tuple[Network, ...] = ()
    public_url: str | None = None
    max_body_bytes: int = 8192
    site_cache_seconds: float = 5.0
    cookie_secure: bool = False
    spool_dir: Path = Path("var/spool")
    route_refresh_seconds: float = 10.0
    # How long a routing answer, a tracker request or /healthz waits for the database
    # (SQLite: a write lock another process holds; PostgreSQL: a server that does not
    # answer) before it is answered as with the database away.
    database_wait_seconds: float = 0.25
    sip_allow: tuple[Network, ...] = field(default_factory=lambda: _networks(SIP_ALLOW_DEFAULT))
    # Recordings: None keeps the provider's reference only (nothing is downloaded).
    recordings_dir: Path | None = None
    recordings_retention_days: int = 90  # 0: keep forever
    recordings_max_mb: int = 200
    recordings_allow_private: bool = False  # fetch from private/loopback addresses
    # A MaxMind-format city database (GeoLite2-City): country, region and city of a new
    # session. None: the country only, from the table geoip2fast ships.
    geoip_city_db: Path | None = None
    clients: ClientLimits = field(default_factory=lambda: ClientLimits())
    # Requests logged by `callpath serve`: "app" (all but the tracker's successful
    # answers), "all", or "off"; as JSON lines with log_json.
    access_log: str = "app"
    log_json: bool = False
    # Outbound deliveries: seconds before the first retry (doubling up to an hour).
    outbox_first_retry: float = 30.0
    # Notifications: the mail server e-mails go through (None: e-mail is off), and the
    # Telegram Bot API's address (another only for a test or a proxy of your own).
    smtp: Smtp | None = None
    telegram_api: str = TELEGRAM_API
    extra: Mapping[str, str] = field(default_factory=dict)


# --- Per-client limits of the tracker (services/client_limits.py) ------------------------


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """One client (an address, IPv6 by /64) may hold `max(pool_min, pool_share % of the
    site's pool)` numbers at once and start `starts_per_minute` sessions that seek a pool
    number (after a burst of `starts_burst`), per site and web process. `key_secret` keys
    the stored hash of a client's address (else a secret file in the spool folder)."""

    pool_share: int = 25  # percent
    pool_min: int = 2
    starts_per_minute: int = 30  # 0: no rate limit
    starts_burst: int = 60
    key_secret: str | None = None


def _client_limits(env: Mapping[str, str]) -> ClientLimits:
    return ClientLimits(
        pool_share=_int(env, "CALLPATH_CLIENT_POOL_SHARE", 25, 1, 100),
        pool_min=_int(env, "CALLPATH_CLIENT_POOL_MIN", 2, 1, 100_000),
        starts_per_minute=_int(env, "CALLPATH_CLIENT_STARTS_PER_MINUTE", 30, 0, 1_000_000),
        starts_burst=_int(env, "CALLPATH_CLIENT_STARTS_BURST", 60, 1, 1_000_000),
        key_secret=env.get("CALLPATH_CLIENT_KEY_SECRET", "").strip() or None,
    )


# --- The mail server notifications go through (integrations/notify/email.py) ------------


@dataclass(frozen=True, slots=True)
class Smtp:
    """`security`: starttls (upgrade a plain connection, port 587), ssl (TLS from the
    start, port 465) or none (a relay on the same host or network, port 25)."""

    host: str
    port: int
    sender: str  # the From address
    security: str = "starttls"
    user: str | None = None
    password: str | None = None
    timeout: float = 20.0


def _smtp(env: Mapping[str, str]) -> Smtp | None:
    host = env.get("CALLPATH_SMTP_HOST", "").strip()
    others = [
        n for n in ("PORT", "USER", "PASSWORD", "FROM", "TLS") if env.get(f"CALLPATH_SMTP_{n}")
    ]
    if not host:
        if others:
            raise SettingsError(
                f"CALLPATH_SMTP_{others[0]} is set but CALLPATH_SMTP_HOST is not: "
                "name the mail server, or unset the others"
            )
        return None
    if any(ch.isspace() or ch in "/@" for ch in host) or len(host) > 253:
        raise SettingsError(f"CALLPATH_SMTP_HOST: {host[:60]!r} is not a host name or address")
    security = _choice(env, "CALLPATH_SMTP_TLS", SMTP_SECURITY)
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    sender = env.get("CALLPATH_SMTP_FROM", "").strip()
    if not sender or "@" not in sender or any(ch in sender for ch in "\r\n"):
        raise SettingsError(
            "CALLPATH_SMTP_FROM: the address notifications come from, e.g. "
            "callpath@example.com (required with CALLPATH_SMTP_HOST)"
        )
    user = env.get("CALLPATH_SMTP_USER", "").strip() or None
    password = env.get("CALLPATH_SMTP_PASSWORD") or None
    if (user is None) != (password is None):
        raise SettingsError("CALLPATH_SMTP_USER and CALLPATH_SMTP_PASSWORD: give both or neither")
    return Smtp(
        host=host,
        port=_int(env, "CALLPATH_SMTP_PORT", default_port, 1, 65_535),
        sender=sender,
        security=security,
        user=user,
        password=password,
    )


# -----------------------------------------------------------------------------------------


def _networks(raw: str, name: str = "CALLPATH_TRUSTED_PROXIES") -> tuple[Network, ...]:
    nets: list[Network] = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise SettingsError(f"{name}: {part!r} is not an IP network") from exc
    return tuple(nets)


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {raw!r} is not a whole number") from exc
    if not low <= value <= high:
        raise SettingsError(f"{name}: {value} is outside {low}..{high}")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name}: {raw!r} is not a boolean (use 1/0, true/false)")


def _database_url(env: Mapping[str, str]) -> str:
    url = env.get("CALLPATH_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not url.startswith(("sqlite://", "postgresql+psycopg://")):
        raise SettingsError(
            "CALLPATH_DATABASE_URL: use sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
        )
    return url


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment (or the given mapping)."""
    env = os.environ if env is None else env
    return Settings(
        database_url=_database_url(env),
        trusted_proxies=_networks(env.get("CALLPATH_TRUSTED_PROXIES", "")),
        public_url=_public_url(env),
        max_body_bytes=_int(env, "CALLPATH_MAX_BODY_BYTES", 8192, 512, 1_048_576),
        site_cache_seconds=float(_int(env, "CALLPATH_SITE_CACHE_SECONDS", 5, 0, 3600)),
        cookie_secure=_bool(env, "CALLPATH_COOKIE_SECURE"),
        spool_dir=Path(env.get("CALLPATH_SPOOL_DIR", "").strip() or "var/spool"),
        route_refresh_seconds=float(_int(env, "CALLPATH_ROUTE_REFRESH_SECONDS", 10, 1, 3600)),
        database_wait_seconds=_int(env, "CALLPATH_DATABASE_WAIT_MS", 250, 10, 10_000) / 1000,
        sip_allow=_networks(
            env.get("CALLPATH_SIP_ALLOW") or SIP_ALLOW_DEFAULT, "CALLPATH_SIP_ALLOW"
        ),
        recordings_dir=_recordings_dir(env),
        recordings_retention_days=_int(env, "CALLPATH_RECORDINGS_RETENTION_DAYS", 90, 0, 36_500),
        recordings_max_mb=_int(env, "CALLPATH_RECORDINGS_MAX_MB", 200, 1, 4096),
        recordings_allow_private=_bool(env, "CALLPATH_RECORDINGS_ALLOW_PRIVATE"),
        geoip_city_db=_geoip_city_db(env),
        clients=_client_limits(env),
        access_log=_choice(env, "CALLPATH_ACCESS_LOG", ("app", "all", "off")),
        log_json=_bool(env, "CALLPATH_LOG_JSON"),
        outbox_first_retry=_int(env, "CALLPATH_OUTBOX_RETRY_MS", 30_000, 100, 3_600_000) / 1000,
        smtp=_smtp(env),
        telegram_api=http_base_url(
            env.get("CALLPATH_TELEGRAM_API") or TELEGRAM_API, "CALLPATH_TELEGRAM_API"
        ),
    )


def _choice(env: Mapping[str, str], name: str, options: tuple[str, ...]) -> str:
    """One of `options` (the first when unset)."""
    raw = env.get(name, "").strip().lower() or options[0]
    if raw not in options:
        raise SettingsError(f"{name}: {raw[:40]!r} is not one of {', '.join(options)}")
    return raw


def _public_url(env: Mapping[str, str]) -> str | None:
    """The snippet's address is built on it: a relative one would load the snippet from
    each customer's own site."""
    raw = env.get("CALLPATH_PUBLIC_URL") or ""
    return http_base_url(raw, "CALLPATH_PUBLIC_URL") if raw.strip() else None


def http_base_url(raw: str, name: str) -> str:
    """An absolute http(s) URL with a host and no query, fragment or user, without its
    trailing slash; SettingsError naming `name` otherwise."""
    text = raw.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise SettingsError(f"{name}: {text!r} is not a URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"{name}: {text!r} must start with https:// (or http://) and a host, "
            "e.g. https://track.example.com"
        )
    if parts.query or parts.fragment or parts.username is not None:
        raise SettingsError(f"{name}: {text!r}: no query, fragment or user")
    return text


def _recordings_dir(env: Mapping[str, str]) -> Path | None:
    """Unset: keep references only. Set: an absolute folder, created if missing."""
    raw = env.get("CALLPATH_RECORDINGS_DIR", "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_absolute():
        raise SettingsError(f"CALLPATH_RECORDINGS_DIR: {raw!r} is not an absolute path")
    if path.exists() and not path.is_dir():
        raise SettingsError(f"CALLPATH_RECORDINGS_DIR: {raw!r} is not a folder")
    return path


def _geoip_city_db(env: Mapping[str, str]) -> Path | None:
    """Unset: the country table. Set: a readable file, as an absolute path (whether it is
    a MaxMind database is checked where it is opened, `services/geo.open_city_db`)."""
    raw = env.get("CALLPATH_GEOIP_CITY_DB", "").strip()
    if not raw:
        return None
    path = Path(raw).absolute()
    try:
        problem = _file_problem(path)
    except (OSError, ValueError) as exc:  # a name too long, a NUL in it
        raise SettingsError(f"CALLPATH_GEOIP_CITY_DB: {raw!r} cannot be read ({exc})") from exc
    if problem:
        raise SettingsError(f"CALLPATH_GEOIP_CITY_DB: {raw!r} {problem}")
    return path


def _file_problem(path: Path) -> str | None:
    """Why `path` is not a file we can read, if it is not."""
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    if not os.access(path, os.R_OK):
        return "is not readable"
    return None


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite database file so a fresh checkout just works, and
    the file itself readable by its owner only: it holds integration secrets and login
    hashes, and SQLite gives its -wal and -shm files the database file's permissions.
    An existing file keeps the permissions it has (its owner may have chosen them)."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
