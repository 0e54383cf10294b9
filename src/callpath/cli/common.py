"""What every `callpath` command shares: the configured database opened and checked,
errors printed as one line and a non-zero exit, a site named by key or id, and a
progress bar on stderr."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from callpath import settings as settings_mod
from callpath.services import setup
from callpath.settings import SettingsError, http_base_url
from callpath.storage import migrate as migrate_mod
from callpath.storage import site_repo, user_repo
from callpath.storage.db import make_engine, transaction
from callpath.storage.tables import MAX_ID


def fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(2)


def database_url() -> str:
    try:
        return settings_mod.load().database_url
    except SettingsError as exc:
        raise fail(str(exc)) from exc


def shown_url(url: str) -> str:
    """The database URL as we print it: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url.split("@")[-1]


def unreachable(url: str, exc: Exception) -> typer.Exit:
    reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        password = None
    if password:
        reason = reason.replace(str(password), "***")
    return fail(f"cannot reach the database {shown_url(url)}: {reason}")


def open_url(url: str) -> Engine:
    try:
        return make_engine(url)
    except (OSError, ArgumentError) as exc:  # e.g. the SQLite file's folder cannot be made
        raise unreachable(url, exc) from exc


def _schema_problem(engine: Engine, url: str) -> str | None:
    """Why this callpath cannot use the database's schema, None if it can; raises
    DBAPIError when the database cannot be reached."""
    with transaction(engine, write=False) as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    script = ScriptDirectory.from_config(migrate_mod.alembic_config(url))
    if current == set(script.get_heads()):
        return None
    if not current:
        return f"the database {shown_url(url)} has no callpath tables: run `callpath migrate`"
    at = f"the database {shown_url(url)} is at schema {', '.join(sorted(current))}"
    if current - {r.revision for r in script.walk_revisions()}:
        return f"{at}, newer than this callpath: upgrade callpath"
    return f"{at}: run `callpath migrate`"


def checked_engine(url: str, *, may_wait: bool = False) -> Engine:
    """The engine of a reachable database at this version's schema, else a message.
    `may_wait`: an unreachable database is no error (a server answers 503s until it is
    back); a reachable one at another schema still is."""
    engine = open_url(url)
    try:
        problem = _schema_problem(engine, url)
    except (DBAPIError, OSError) as exc:
        if may_wait:
            return engine
        engine.dispose()
        raise unreachable(url, exc) from exc
    if problem:
        engine.dispose()
        raise fail(problem)
    return engine


def open_engine() -> Engine:
    """The configured database, reachable and at this version's schema, else a message."""
    return checked_engine(database_url())


class ProgressBar:
    """A progress bar on stderr, made once the total is known (never on stdout)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = typer.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def site_row(conn: Connection, given: str, what: str = "--site") -> dict[str, Any]:
    """The site named by `--site` (or the argument `what`): its key, else its id (digits).
    The key goes first: a random hex key may be all digits. SetupError if none."""
    text = given.strip()
    row = site_repo.site_row(conn, key=text[:64])
    if row is None and text.isascii() and text.isdigit():
        if len(text) > 20 or not 1 <= int(text) <= MAX_ID:
            raise setup.SetupError(f"{what}: {text[:20]} is not a site id")
        row = site_repo.site_row(conn, site_id=int(text))
    if row is None:
        raise setup.SetupError(f"no site {text[:64]}")
    return row


def public_base_url(server: str | None) -> str | None:
    """This server's public base URL: --server, else $CALLPATH_PUBLIC_URL, else None (a
    ValueError naming the option when it is not an http(s) URL)."""
    raw = server or os.environ.get("CALLPATH_PUBLIC_URL") or ""
    if not raw.strip():
        return None
    return http_base_url(raw, "--server" if server else "CALLPATH_PUBLIC_URL")


def server_base_url(server: str | None) -> str:
    """The server's base URL: `public_base_url`, else the local default (a ValueError
    naming the option when it is not an http(s) URL)."""
    return public_base_url(server) or "http://127.0.0.1:8000"


def account_exists(conn: Connection, account: int) -> None:
    """The command names an account that exists, or fails."""
    if user_repo.account_name(conn, account) is None:
        raise setup.NotFound(f"no account {account}")


def site_of(conn: Connection, site: str | None, account: int) -> int | None:
    """The id of the account's site named by key or id (None: none named)."""
    if site is None:
        return None
    row = site_row(conn, site)
    if row["account_id"] != account:
        raise setup.NotFound(f"no site {site[:64]} in account {account}")
    return int(row["id"])
