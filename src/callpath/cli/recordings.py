"""`callpath recordings fetch|prune`: the recordings worker's steps, run by hand or cron."""

from __future__ import annotations

import time

import typer

from callpath import settings as settings_mod
from callpath.cli.common import fail, open_engine
from callpath.services import recordings
from callpath.settings import SettingsError

recordings_app = typer.Typer(help="Call recordings (downloads, retention).", no_args_is_help=True)


def _config() -> recordings.Config:

    try:
        config = recordings.config_of(settings_mod.load())
    except SettingsError as exc:
        raise fail(str(exc)) from exc
    if config is None:
        raise fail("downloads are off: set CALLPATH_RECORDINGS_DIR (docs/telephony.md)")
    return config


@recordings_app.command("fetch")
def fetch(
    limit: int = typer.Option(100, min=1, max=10_000, help="At most this many downloads."),
) -> None:
    """Download the recordings that are due now (new ones, and retries whose wait is over)."""

    config, engine = _config(), open_engine()
    recordings.discover(engine, 0.0, time.time())
    stored = failed = 0
    with recordings.client() as http:
        while stored + failed < limit:
            outcome = recordings.fetch_due(engine, config, http, time.time)
            stored, failed = stored + outcome.stored, failed + outcome.failed
            for error in outcome.errors:
                typer.echo(f"  failed: {error}", err=True)
            if outcome.stored + outcome.failed == 0:
                break
    typer.echo(f"{stored} stored, {failed} failed")


@recordings_app.command("prune")
def prune() -> None:
    """Delete stored copies older than CALLPATH_RECORDINGS_RETENTION_DAYS."""

    removed = recordings.prune(open_engine(), _config(), time.time())
    typer.echo(f"{removed} recordings past retention removed")
