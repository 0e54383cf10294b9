"""`callpath export`: the files the ad platforms upload, made from a site's calls."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from callpath.cli.common import fail, open_engine, public_base_url, site_row
from callpath.integrations.google_ads import conversions_csv
from callpath.integrations.metrica import calls_csv
from callpath.reports import exports
from callpath.reports.period import Period
from callpath.services import feeds, setup
from callpath.storage.db import transaction

export_app = typer.Typer(
    help="Files for Yandex Metrica's and Google Ads' conversion uploads.", no_args_is_help=True
)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

SiteOpt = Annotated[str, typer.Option(help="Site key (or id).")]
FromOpt = Annotated[
    str, typer.Option("--from", help="First day (YYYY-MM-DD, the site's timezone).")
]
ToOpt = Annotated[str, typer.Option("--to", help="Last day, counted whole.")]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
]


@export_app.command("metrica-calls")
def metrica_calls(
    site: SiteOpt,
    start: FromOpt,
    end: ToOpt,
    output: OutputOpt = None,
    id_kind: Annotated[
        str,
        typer.Option(
            "--id",
            help="The id column: client-id (ClientId, the visit's Metrica cookie) or yclid "
            "(Yclid, the Direct click id). Metrica reads one kind per upload.",
        ),
    ] = "client-id",
    server: Annotated[
        str | None,
        typer.Option(
            help="callpath's base URL for CallTrackerURL (default: $CALLPATH_PUBLIC_URL; "
            "neither: the column stays empty)."
        ),
    ] = None,
) -> None:
    """The CSV of Yandex Metrica's calls upload.

    The site's inbound calls of the period that have ended and are not spam, one row
    each, with their won deals' value if any. A call whose visit has no id of the chosen
    kind cannot be linked by Metrica: it is left out, and the count is printed on
    stderr."""
    if id_kind not in calls_csv.ID_KINDS:
        raise fail(f"--id: one of {', '.join(calls_csv.ID_KINDS)}")
    base = _base_url(server)
    _period, found = _calls(site, start, end)
    made = calls_csv.calls_csv(found, id_kind, base)
    _write(made.text, output)
    column = calls_csv.ID_KINDS[id_kind][0]
    typer.echo(f"{made.rows} calls written", err=True)
    if made.skipped:
        other = next(k for k in calls_csv.ID_KINDS if k != id_kind)
        typer.echo(
            f"skipped {made.skipped} calls without a {column}"
            + (
                f" ({made.other_kind} of them have one for --id {other})" if made.other_kind else ""
            ),
            err=True,
        )


@export_app.command("google-ads")
def google_ads(
    site: SiteOpt,
    conversion_name: Annotated[
        str,
        typer.Option(help="The conversion action's name in Google Ads, exactly as there."),
    ],
    start: FromOpt,
    end: ToOpt,
    output: OutputOpt = None,
    all_calls: Annotated[
        bool,
        typer.Option("--all-calls", help="Every call counts, not only target calls (the default)."),
    ] = False,
) -> None:
    """The CSV of Google Ads' click conversions import.

    One conversion per target call of the period (inbound, ended, not spam; every such
    call with --all-calls) whose visit carried a gclid, gbraid or wbraid, valued at the
    call's won deals (empty: the conversion action's default value). Times are in the
    site's UTC offset at the start of the period, named on the first line. The calls
    without a click id are counted on stderr."""
    name = feeds.valid_name(conversion_name)
    if name is None:
        raise fail(f"--conversion-name: one line of 1 to {feeds.NAME_MAX} characters")
    period, found = _calls(site, start, end)
    offset = conversions_csv.zone_offset(period.zone, period.since)
    made = conversions_csv.conversions_csv(found, name, offset, all_calls)
    _write(made.text, output)
    typer.echo(f"{made.rows} conversions written", err=True)
    if made.skipped:
        kind = "calls" if all_calls else "target calls"
        typer.echo(f"skipped {made.skipped} {kind} without a Google click id", err=True)


def _calls(site: str, start: str, end: str) -> tuple[Period, list[exports.ExportCall]]:
    with transaction(open_engine(), write=False) as conn:
        try:
            row = site_row(conn, site)
            period = _period(str(row["timezone"]), _day(start, "--from"), _day(end, "--to"))
            found = exports.calls_of(
                conn, int(row["account_id"]), int(row["id"]), period, str(row["currency"])
            )
        except setup.SetupError as exc:
            raise fail(str(exc)) from exc
    return period, found


def _period(zone: str, first: date, last: date) -> Period:
    if last < first:
        raise setup.SetupError("--to: a day on or after --from")
    try:
        return Period(zone, first, last)
    except (OverflowError, ValueError):  # the last day of year 9999, say
        raise setup.SetupError("--to: a day before 9999-12-31") from None


def _day(text: str, option: str) -> date:
    value = text.strip()
    try:
        if not _DAY.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise setup.SetupError(f"{option}: {value[:20]!r} is not a day as YYYY-MM-DD") from None


def _base_url(server: str | None) -> str | None:
    try:
        return public_base_url(server)
    except ValueError as exc:
        raise fail(str(exc)) from exc


def _write(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise fail(f"{output}: {exc.strerror or exc}") from exc
