"""Accuracy benchmark: naive vs ours on generated traces of a small and a large site.

    .venv/bin/python bench/accuracy.py [--seed S] [--seeds K] [--small-days D] [--large-days D]
                                       [--only small|large] [--no-search SITE]
                                       [--no-n99 SITE] [--jobs J]

For each site (550 and 30 000 visits a day) a trace is generated (`callpath bench gen`'s
generator, documented in docs/traffic-model.md) and replayed (`callpath bench replay`'s
code: the real services on a real SQLite store, a virtual clock) with both policies:
- at "visits per day / 100" and "visits per day / 5" numbers: the full summary side by side;
- N99: the smallest pool with >= 99% correct on calls within 30 minutes of the visit;
- N-good: the smallest pool with >= 90% correct and >= 97% precision.
The pool searches bisect over pool sizes (monotone in practice; the last bracket is shown).
Replays run in parallel processes (--jobs, default 2: the machine's cores).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from callpath.sim import generator, replay, score  # noqa: E402
from callpath.sim.score import CallResult, Summary, pct  # noqa: E402

POLICIES = ("naive", "ours")


@dataclass(frozen=True)
class SiteSpec:
    name: str
    visits_per_day: int
    days: float


def _trace(spec: SiteSpec, seed: int) -> tuple[object, list[object]]:
    return generator.generate(spec.visits_per_day, spec.days, seed)


def run_one(args: tuple[SiteSpec, int, str, int]) -> tuple[str, str, int, list[CallResult], float]:
    spec, seed, policy, pool = args
    header, events = _trace(spec, seed)
    started = time.perf_counter()
    results = replay.replay(header, events, pool, replay.POLICIES[policy])  # type: ignore[arg-type]
    return spec.name, policy, pool, results, time.perf_counter() - started


def within_30(s: Summary) -> float:
    """Correct share among calls within 30 minutes of the visit's start."""
    (n1, c1), (n2, c2) = s.by_delay["<=15 min"], s.by_delay["15-30 min"]
    return (n1 * c1 + n2 * c2) / (n1 + n2) if n1 + n2 else 0.0


def good(s: Summary) -> bool:
    return s.correct >= 0.90 and s.precision >= 0.97


def n99(s: Summary) -> bool:
    return within_30(s) >= 0.99


class Runner:
    """Runs replays in parallel and remembers them (the searches share results)."""

    def __init__(self, jobs: int, seeds: list[int]) -> None:
        self.pool = ProcessPoolExecutor(jobs)
        self.seeds = seeds
        self.done: dict[tuple[str, str, int], Summary] = {}

    def many(self, spec: SiteSpec, wanted: list[tuple[str, int]]) -> None:
        """Replays every wanted (policy, pool) on each seed's trace; one summary over the
        calls of all the traces (several seeds: more calls, less noise per figure)."""
        todo = [
            (spec, seed, p, n)
            for p, n in wanted
            if (spec.name, p, n) not in self.done
            for seed in self.seeds
        ]
        merged: dict[tuple[str, str, int], tuple[list[CallResult], float]] = {}
        for name, policy, pool, results, seconds in self.pool.map(run_one, todo):
            calls, total = merged.get((name, policy, pool), ([], 0.0))
            merged[(name, policy, pool)] = (calls + results, total + seconds)
        for key, (calls, seconds) in merged.items():
            self.done[key] = score.summarize(calls, seconds)

    def get(self, spec: SiteSpec, policy: str, pool: int) -> Summary:
        self.many(spec, [(policy, pool)])
        return self.done[(spec.name, policy, pool)]

    def smallest(
        self, spec: SiteSpec, test: Callable[[Summary], bool], high: int
    ) -> tuple[dict[str, int | None], str]:
        """Per policy, the smallest pool passing `test` (bisection, both policies at once)."""
        bounds = {p: [0, high] for p in POLICIES}
        self.many(spec, [(p, high) for p in POLICIES])
        found: dict[str, int | None] = {
            p: None if not test(self.done[(spec.name, p, high)]) else high for p in POLICIES
        }
        while any(
            found[p] is not None and bounds[p][1] - bounds[p][0] > _step(bounds[p][1])
            for p in POLICIES
        ):
            mids = {
                p: (bounds[p][0] + bounds[p][1]) // 2
                for p in POLICIES
                if found[p] is not None and bounds[p][1] - bounds[p][0] > _step(bounds[p][1])
            }
            self.many(spec, list(mids.items()))
            for p, mid in mids.items():
                if test(self.done[(spec.name, p, mid)]):
                    bounds[p][1] = found[p] = mid
                else:
                    bounds[p][0] = mid
        note = ", ".join(f"{p} in ({b[0]}, {b[1]}]" for p, b in bounds.items())
        return found, note


def _step(high: int) -> int:
    return max(1, high // 50)  # 2% resolution


def table(spec: SiteSpec, runner: Runner, search: bool = True, n99_too: bool = True) -> str:
    small, large = max(1, round(spec.visits_per_day / 100)), round(spec.visits_per_day / 5)
    runner.many(spec, [(p, n) for p in POLICIES for n in (small, large)])
    lines = [
        f"\n== {spec.name}: {spec.visits_per_day} visits/day, {spec.days:g} days "
        f"(seed{'s' if len(runner.seeds) > 1 else ''} "
        f"{', '.join(map(str, runner.seeds))})"
    ]
    for pool in (small, large):
        naive, ours = (runner.done[(spec.name, p, pool)] for p in POLICIES)
        lines.append(f"\npool {pool} numbers (visits/day / {spec.visits_per_day // pool})")
        lines += _side_by_side(naive, ours)
    if not search:
        lines.append("\n(N99 and N-good not searched: --no-search)")
        return "\n".join(lines)
    high = spec.visits_per_day // 3  # well past what either policy needs
    if n99_too:
        nine, note99 = runner.smallest(spec, n99, high)
        lines.append(
            f"\nN99 (>= 99% correct within 30 min): naive {nine['naive']}, "
            f"ours {nine['ours']}   [{note99}]"
        )
    fine, note_good = runner.smallest(spec, good, high)
    lines.append(
        f"N-good (>= 90% correct, >= 97% precision): naive {fine['naive']}, "
        f"ours {fine['ours']}   [{note_good}]"
    )
    if fine["naive"] and fine["ours"]:
        lines.append(f"N-good ours / naive = {fine['ours'] / fine['naive']:.2f}")
    return "\n".join(lines)


def _side_by_side(naive: Summary, ours: Summary) -> list[str]:
    def row(label: str, a: str, b: str) -> str:
        return f"  {label:<34} {a:>14} {b:>14}"

    out = [row("", "naive", "ours")]
    for label, get in [
        ("calls", lambda s: str(s.calls)),
        ("coverage", lambda s: pct(s.coverage)),
        ("correct", lambda s: pct(s.correct)),
        ("misattributed", lambda s: pct(s.misattributed)),
        ("unattributed", lambda s: pct(s.unattributed)),
        ("precision", lambda s: pct(s.precision)),
        *[(f"correct, delay {k}", _delay(k)) for k in naive.by_delay],
        ("correct, repeat calls", lambda s: f"{pct(s.repeat_calls[1])} n={s.repeat_calls[0]}"),
        (
            "calibration: correct at conf >= 0.9",
            lambda s: f"{pct(s.calibration[1])} n={s.calibration[0]}",
        ),
        ("visitor-level agreement", lambda s: pct(s.visitor_level)),
        ("channel-level agreement", lambda s: pct(s.channel_level)),
        ("replay wall time", lambda s: f"{s.seconds:.1f} s"),
    ]:
        out.append(row(label, get(naive), get(ours)))
    ratio = ours.correct / naive.correct if naive.correct else math.inf
    out.append(row("correct, ours / naive", "", f"{ratio:.2f}x"))
    return out


def _delay(key: str) -> Callable[[Summary], str]:
    return lambda s: f"{pct(s.by_delay[key][1])} n={s.by_delay[key][0]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="replay this many traces (seeds S, S+1, ...) and pool their calls",
    )
    parser.add_argument("--small-days", type=float, default=14)
    parser.add_argument("--large-days", type=float, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", choices=("small", "large"))
    parser.add_argument(
        "--no-search",
        choices=("small", "large"),
        action="append",
        default=[],
        help="skip the N99 / N-good pool searches for this site (they take many replays)",
    )
    parser.add_argument(
        "--no-n99",
        choices=("small", "large"),
        action="append",
        default=[],
        help="search N-good only for this site (half the replays)",
    )
    args = parser.parse_args(argv)
    sites = [
        SiteSpec("small site", 550, args.small_days),
        SiteSpec("large site", 30_000, args.large_days),
    ]
    if args.only:
        sites = [s for s in sites if s.name.startswith(args.only)]
    runner = Runner(args.jobs, list(range(args.seed, args.seed + args.seeds)))
    started = time.perf_counter()
    # the pool shuts down on leaving, not in the interpreter's exit hook, which can race
    # the workers' pipes and print an OSError traceback after the table
    with runner.pool:
        for spec in sites:
            short = spec.name.split()[0]
            search, n99_too = short not in args.no_search, short not in args.no_n99
            print(table(spec, runner, search=search, n99_too=n99_too), flush=True)
    print(f"\n{len(runner.done)} replays in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
