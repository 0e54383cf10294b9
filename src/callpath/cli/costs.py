"""`callpath costs import`: ad spend from the files a marketer already has."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from callpath.cli.common import fail, open_engine, site_row
from callpath.domain.costs import FORMATS
from callpath.domain.deals import amount_text
from callpath.services import costs, setup
from callpath.storage.db import transaction

costs_app = typer.Typer(help="Ad spend (costs) per day and channel.", no_args_is_help=True)
MAX_BYTES = 50 * 1024 * 1024


@costs_app.command("import")
def import_costs(
    file: Annotated[Path, typer.Argument(help="The file (UTF-8).")],
    site: Annotated[str, typer.Option(help="Site key (or id).")],
    fmt: Annotated[str, typer.Option("--format", help=" | ".join(FORMATS))] = "csv",
    micros: Annotated[
        bool, typer.Option(help="Direct: money in micros (the Reports API's default).")
    ] = False,
    vat: Annotated[
        str | None, typer.Option(help="The amounts exclude VAT at this percent: add it.")
    ] = None,
    rate: Annotated[
        list[str] | None,
        typer.Option(help="CUR=RATE: one CUR in the site's currency (repeat per currency)."),
    ] = None,
) -> None:
    """Import a spend file: all of it or, at the first row that cannot be read, none of
    it (the line is named). The file's days replace what an earlier file of the same
    format said about them."""
    try:
        if file.stat().st_size > MAX_BYTES:
            raise fail(f"{file}: larger than {MAX_BYTES // 1024 // 1024} MB")
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise fail(f"{file}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise fail(f"{file}: not UTF-8 text") from None
    with transaction(open_engine()) as conn:
        try:
            row = site_row(conn, site)
            done = costs.import_file(
                conn,
                row["account_id"],
                row["id"],
                text,
                fmt,
                time.time(),
                micros=micros,
                vat_percent=_decimal(vat, "--vat") if vat else None,
                rates=_rates(rate or []),
            )
        except setup.SetupError as exc:
            raise fail(str(exc)) from exc
    typer.echo(
        f"imported {done.rows} rows, {done.first}..{done.last}, "
        f"{amount_text(done.total_cents)} {done.currency}"
        f" (replaced {done.replaced} rows of those days)"
    )


def _rates(given: list[str]) -> dict[str, Decimal]:
    rates = {}
    for item in given:
        code, _, value = item.partition("=")
        if len(code.strip()) != 3:
            raise setup.SetupError(f"--rate {item!r}: CUR=RATE, such as USD=92.5")
        rates[code.strip().upper()] = _decimal(value, "--rate")
    return rates


def _decimal(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise setup.SetupError(f"{option}: {text[:20]!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise setup.SetupError(f"{option}: a number above 0")
    return value
