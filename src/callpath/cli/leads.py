"""`callpath leads classify`: what the calls count as, applied to history again."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from callpath.cli.common import fail, open_engine, site_row
from callpath.services import leads, setup
from callpath.storage.db import transaction

leads_app = typer.Typer(help="Leads: what each call counts as.", no_args_is_help=True)


@leads_app.command("classify")
def classify(
    site: Annotated[str, typer.Option(help="Site key (or id).")],
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD, the site's timezone).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day, counted whole (default: today).")
    ] = None,
) -> None:
    """Classify the site's calls of a period again by its current rules and block list
    (after a rule changed). The calls themselves are not changed. Default: all history."""
    with transaction(open_engine()) as conn:
        try:
            row = site_row(conn, site)
            zone = ZoneInfo(row["timezone"])
            since = _day(start, zone) if start else 0.0
            until = _day(end, zone) + 86_400 if end else time.time() + 86_400
            if until <= since:
                raise setup.SetupError("--to: a day on or after --from")
            done = leads.classify_period(
                conn, row["account_id"], row["id"], since, until, time.time()
            )
        except setup.SetupError as exc:
            raise fail(str(exc)) from exc
    typer.echo(f"classified {done} calls of site {row['key']}")


def _day(text: str, zone: ZoneInfo) -> float:
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=zone)
    except ValueError:
        raise setup.SetupError(f"{text[:20]!r}: a day as YYYY-MM-DD") from None
    return day.timestamp()
