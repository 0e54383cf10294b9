"""`callpath pool …`: how many pool numbers a site needs (docs/planner.md)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from callpath.cli.common import ProgressBar, fail, open_engine, site_row
from callpath.planner import run
from callpath.planner.run import Params, PlanError
from callpath.planner.text import erlang_line, pct, recommendation
from callpath.services.setup import SetupError
from callpath.storage import plan_repo, site_repo
from callpath.storage.db import transaction

pool_app = typer.Typer(help="Pool numbers: how many a site needs.", no_args_is_help=True)


class _Bars:
    """One progress bar per replayed pool size, on stderr."""

    def __init__(self) -> None:
        self.size: int | None = None
        self.bar: ProgressBar | None = None

    def __call__(self, size: int, done: int, total: int) -> None:
        if size != self.size:
            self.close()
            self.size, self.bar = size, ProgressBar(f"replaying with {size:>4} numbers")
        assert self.bar is not None
        self.bar(done, total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@pool_app.command("plan")
def plan_cmd(
    site: Annotated[str, typer.Option(help="The site's key or id.")],
    target: Annotated[
        float, typer.Option(help="Share of calls within 30 minutes to attribute right (0-1).")
    ] = 0.95,
    days: Annotated[float, typer.Option(help="Replay the recorded sessions of these days.")] = 7.0,
    trace: Annotated[
        Path | None, typer.Option(help="Replay this trace (format in docs/benchmark.md) instead.")
    ] = None,
    sizes: Annotated[
        str | None, typer.Option(help="Replay exactly these pool sizes, e.g. 2,4,8.")
    ] = None,
    visits_per_day: Annotated[
        float | None,
        typer.Option(help="Replay generated traffic at this many visits a day instead."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recommend a pool size for a target accuracy, from replays of the site's traffic."""

    try:
        params = Params(target, days, run.parse_sizes(sizes or ""), visits_per_day)
    except PlanError as exc:
        raise fail(str(exc)) from exc
    engine, began = open_engine(), time.time()
    try:
        with transaction(engine, write=False) as conn:
            row = site_row(conn, site)
            config = site_repo.load_site_config(conn, site_id=int(row["id"]))
    except SetupError as exc:
        raise fail(str(exc)) from exc
    assert config is not None
    try:
        data = (
            run.file_input(trace, config, params)
            if trace is not None
            else run.recorded_input(engine, config, params, began)
        )
    except PlanError as exc:
        raise fail(str(exc)) from exc
    if data.thin:
        typer.secho(f"note: {data.thin}", fg="yellow", err=True)
    typer.echo(f"planning on {data.note}", err=True)
    bars = _Bars()
    try:
        result = run.compute(data, config, int(row["match_window"]), params, progress=bars)
    finally:
        bars.close()
    with transaction(engine) as conn:
        plan_repo.save_done(
            conn, config.account_id, config.id, params.as_json(), result, began, time.time()
        )
    typer.echo(json.dumps(result, indent=2) if json_out else format_result(result))


def format_result(result: dict[str, Any]) -> str:
    """The plan as a table with the Erlang estimate and the recommendation."""
    target = result["params"]["target"]
    lines = [
        f"pool plan for site {result['site']}: smallest pool with ≥ {100 * target:g}% of "
        "calls within 30 min attributed to the right visit",
        f"source: {result['note']}",
    ]
    if result["thin"]:
        lines.append(f"note: {result['thin']}; state your traffic with --visits-per-day")
    lines += [f"warning: {w}" for w in result["warnings"]]
    lines.append(f"{'size':>6} {'correct ≤30 min':>16} {'correct all':>12} {'precision':>10}")
    for p in result["points"]:
        lines.append(
            f"{p['size']:>6} {pct(p['correct_30']):>16} {pct(p['correct']):>12} "
            f"{pct(p['precision']):>10}   ({p['calls_30']} of {p['calls']} calls ≤30 min)"
        )
    for label, key in (("Erlang", "erlang"), ("Erlang, recorded visits", "recorded_erlang")):
        if result[key]:
            lines.append(f"{label}: {erlang_line(result[key])}")
    lines.append(recommendation(result))
    return "\n".join(lines)
