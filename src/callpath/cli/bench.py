"""`callpath bench …`: traffic traces for the accuracy benchmark (format: docs/benchmark.md)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, TextIO

import typer

from callpath.cli.common import ProgressBar, fail
from callpath.sim import generator, replay, score, trace

bench_app = typer.Typer(
    help="Accuracy benchmark: traffic traces and their replay.", no_args_is_help=True
)

MAX_SESSIONS = 5_000_000  # a trace is built in memory: refuse what would not fit


def _check(visits_per_day: float, days: float) -> None:

    if not visits_per_day > 0:
        raise fail(f"--visits-per-day must be more than 0 (got {visits_per_day:g})")
    if not days > 0:
        raise fail(f"--days must be more than 0 (got {days:g})")
    if visits_per_day * days > MAX_SESSIONS:
        raise fail(f"--visits-per-day x --days must be at most {MAX_SESSIONS:,} sessions")


def _write(out: TextIO, header: trace.Header, events: list[trace.Event]) -> None:
    with typer.progressbar(events, label="writing", file=sys.stderr) as bar:
        trace.write(out, header, bar)


@bench_app.command("gen")
def gen(
    visits_per_day: Annotated[float, typer.Option(help="Sessions a day (bots included).")],
    days: Annotated[float, typer.Option(help="Length of the trace in days.")],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same trace.")],
    start: Annotated[str, typer.Option(help="Trace start, ISO-8601 UTC.")] = "2026-03-02T00:00:00Z",
    site: Annotated[str, typer.Option(help="Site key written in the header.")] = "demo",
    timezone: Annotated[str, typer.Option(help="IANA timezone of the site.")] = "Europe/Moscow",
    out: Annotated[
        Path | None, typer.Option(help="Write the trace here (default: stdout).")
    ] = None,
) -> None:
    """Generate a synthetic traffic trace (JSON Lines; model: docs/traffic-model.md)."""

    _check(visits_per_day, days)
    bar = ProgressBar("generating")
    try:
        header, events = generator.generate(
            visits_per_day, days, seed, start, site, timezone, progress=bar
        )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    finally:
        bar.close()
    if out is None:
        _write(sys.stdout, header, events)
        return
    try:
        with out.open("w", encoding="utf-8") as handle:
            _write(handle, header, events)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from exc
    calls = sum(1 for e in events if e.type == "call")
    typer.echo(f"{out}: {len(events):,} events, {calls:,} calls", err=True)


@bench_app.command("replay")
def replay_cmd(
    trace_file: Annotated[
        Path, typer.Argument(help="A trace (JSON Lines; format in docs/benchmark.md).")
    ],
    pool_size: Annotated[int, typer.Option(help="Pool numbers to replay with.", min=0)],
    policy: Annotated[str, typer.Option(help=" | ".join(replay.POLICIES))] = "ours",
    out: Annotated[Path | None, typer.Option(help="Write one line per call here.")] = None,
) -> None:
    """Replay a trace through the real allocation and matching code; print the score."""

    if policy not in replay.POLICIES:
        raise fail(f"--policy must be one of {', '.join(replay.POLICIES)}")
    try:
        header, loaded = trace.load(trace_file)
    except OSError as exc:
        raise fail(f"cannot read {trace_file}: {exc.strerror or exc}") from exc
    except trace.TraceError as exc:
        raise fail(f"{trace_file}: {exc}") from exc
    started = time.perf_counter()
    with typer.progressbar(length=len(loaded), label="replaying", file=sys.stderr) as bar:
        results = replay.replay(
            header, loaded, pool_size, replay.POLICIES[policy], progress=bar.update
        )
    summary = score.summarize(results, time.perf_counter() - started)
    if out is not None:
        _write_results(out, results)
    typer.echo(score.format_summary(policy, summary))


def _write_results(out: Path, results: list[score.CallResult]) -> None:

    try:
        with out.open("w", encoding="utf-8") as handle:
            for r in results:
                handle.write(json.dumps(r.as_json()) + "\n")
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from exc
