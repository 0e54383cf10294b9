"""`callpath asterisk listen`: the AMI listener for Asterisk / FreePBX."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from callpath import settings as settings_mod
from callpath.cli.common import checked_engine
from callpath.services.calls import Integration
from callpath.services.pipeline import CallPipeline
from callpath.services.pipeline import build as build_pipeline
from callpath.settings import Settings, SettingsError
from callpath.storage import call_repo
from callpath.storage.db import transaction
from callpath.telephony.asterisk import ami
from callpath.telephony.asterisk.calls import INTERNAL_CONTEXTS
from callpath.workers.asterisk import KIND, Listener, listen, run_worker

asterisk_app = typer.Typer(help="Asterisk / FreePBX over AMI.", no_args_is_help=True)
SECRET_ENV = "CALLPATH_AMI_SECRET"  # noqa: S105 (the name of the variable)
_MAX_FIXTURE = 16 * 1024 * 1024


class ListenError(Exception):
    """A misconfiguration the user must fix (exit code 2)."""


@asterisk_app.command("listen")
def listen_command(
    integration: Annotated[str, typer.Option(help="The Asterisk integration's id (int_…).")],
    host: Annotated[str, typer.Option(help="AMI host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="AMI port.", min=1, max=65535)] = 5038,
    username: Annotated[str, typer.Option(help="AMI user (manager.conf section).")] = "callpath",
    secret_file: Annotated[
        Path | None, typer.Option(help=f"File holding the AMI secret (else ${SECRET_ENV}).")
    ] = None,
    internal_context: Annotated[
        list[str] | None,
        typer.Option(
            help="Context of the office phones (repeatable): their calls to outside numbers"
            " are calls out, others are ignored."
        ),
    ] = None,
    once_file: Annotated[
        Path | None, typer.Option(help="Replay a recorded AMI stream from a file, then exit.")
    ] = None,
) -> None:
    """Turn AMI events of calls to tracking numbers into calls, until Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    contexts = frozenset(internal_context) if internal_context else INTERNAL_CONTEXTS
    try:
        settings = settings_mod.load()
        pipeline = build_pipeline(settings, checked_engine(settings.database_url))
        listener = Listener(pipeline, _integration(pipeline, integration), contexts)
        if once_file is not None:
            listener.replay(_blocks(once_file))
            typer.echo(f"replayed {once_file}: {listener.stored} new call events stored")
            return
        creds = ami.Credentials(host, port, username, _secret(secret_file))
        _serve(pipeline, listener, creds, settings)
    except (ListenError, SettingsError, ami.AmiError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo("stopped")


def _integration(pipeline: CallPipeline, integration_id: str) -> Integration:
    try:
        with transaction(pipeline.engine, write=False) as conn:
            row = call_repo.integration(conn, integration_id[:64])
    except DBAPIError as exc:
        raise ListenError(f"cannot read the database: {exc.orig}") from exc
    if row is None:
        raise ListenError(f"no integration {integration_id!r}")
    integ = Integration.from_row(row)
    if integ.kind != KIND:
        raise ListenError(
            f"integration {integ.id} is of kind {integ.kind!r}, not {KIND!r}; create one: "
            "callpath integration add --kind asterisk --site KEY"
        )
    if not integ.active:
        raise ListenError(f"integration {integ.id} is disabled")
    return integ


def _secret(secret_file: Path | None) -> str:
    if secret_file is not None:
        try:
            secret = secret_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ListenError(f"cannot read --secret-file: {exc}") from exc
    else:
        secret = os.environ.get(SECRET_ENV, "").strip()
    if not secret:
        raise ListenError(f"the AMI secret is required: --secret-file FILE or ${SECRET_ENV}")
    return secret


def _blocks(path: Path) -> list[ami.Block]:
    try:
        with path.open("rb") as recorded:
            data = recorded.read(_MAX_FIXTURE)
    except OSError as exc:
        raise ListenError(f"cannot read --once-file: {exc}") from exc
    return ami.BlockParser().feed(data + b"\r\n\r\n")


def _serve(
    pipeline: CallPipeline, listener: Listener, creds: ami.Credentials, settings: Settings
) -> None:
    try:
        pipeline.refresh_routes()
    except DBAPIError:
        pipeline.routes.load_snapshot()
    halt = run_worker(pipeline, 1.0, settings.route_refresh_seconds)
    try:
        asyncio.run(_until_signal(listener, creds))
    finally:
        halt()


async def _until_signal(listener: Listener, creds: ami.Credentials) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await listen(listener, creds, ami.Timing(), stop)
