"""How the small site's result at a generous pool depends on the share of late calls.

    .venv/bin/python bench/late_share.py [--k 1.43,1.2,1,0.8] [--pool 110] [--seeds 3]

A sensitivity check, not a setting: for each factor k, the generator's late calls (its
"30 min-24 h" and "> 24 h" delay classes, and repeat calls made hours later) are made k
times as likely, the calls taken from them coming within 30 minutes instead; everything
else in the traffic model stays. Then naive and ours replay the same traces (550 visits a
day, 14 days, seeds 1..K) at one pool size. k = 1.43 is the generator's calibration before
2026-11-22 (docs/traffic-model.md, section 8). The figures are in docs/benchmark.md.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from callpath.sim import generator, replay, score, traffic_model
from callpath.sim.score import CallResult

LATE = 1800.0  # seconds from the session start


def scale_late(k: float) -> None:
    """Patch this process's generator: late calls k times as likely."""
    shares = dict(traffic_model.DELAY_CLASSES)
    freed = (shares["day"] + shares["days"]) * (1 - k)
    early = shares["in"] + shares["quarter"]
    generator.DELAY_CLASSES = (
        ("in", shares["in"] * (1 + freed / early)),
        ("quarter", shares["quarter"] * (1 + freed / early)),
        ("day", shares["day"] * k),
        ("days", shares["days"] * k),
    )
    generator.REPEAT_QUICK = 1 - (1 - traffic_model.REPEAT_QUICK) * k


def one(job: tuple[float, int, str, int]) -> list[CallResult]:
    k, seed, policy, pool = job
    scale_late(k)
    header, events = generator.generate(550, 14, seed)
    return replay.replay(header, events, pool, replay.POLICIES[policy])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", default="1.43,1.2,1,0.8", help="late-share factors")
    parser.add_argument("--pool", type=int, default=110, help="pool size (550/5 = 110)")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    factors = [float(x) for x in args.k.split(",")]
    if any(not 0 <= k <= 10 for k in factors) or args.seeds < 1:
        parser.error("--k takes factors from 0 to 10; --seeds at least 1")
    jobs = [
        (k, s, p, args.pool)
        for k in factors
        for p in ("naive", "ours")
        for s in range(1, args.seeds + 1)
    ]
    with ProcessPoolExecutor(2) as pool:
        done = list(pool.map(one, jobs))
    print(f"{'k':>5} {'late':>6} {'naive':>7} {'ours':>7} {'precision':>9} {'calibration':>11}")
    for k in factors:
        runs = {
            p: [
                r
                for job, res in zip(jobs, done, strict=True)
                if job[0] == k and job[2] == p
                for r in res
            ]
            for p in ("naive", "ours")
        }
        naive, ours = score.summarize(runs["naive"]), score.summarize(runs["ours"])
        late = sum(r.delay > LATE for r in runs["ours"]) / max(1, len(runs["ours"]))
        print(
            f"{k:>5g} {late:>6.1%} {naive.correct:>7.1%} {ours.correct:>7.1%}"
            f" {ours.precision:>9.1%} {ours.calibration[1]:>11.1%}"
        )


if __name__ == "__main__":
    main()
