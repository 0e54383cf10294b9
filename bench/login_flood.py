"""Routing latency while the login form is flooded with wrong passwords.

    .venv/bin/python bench/login_flood.py [--seconds S] [--flooders N] [--rate R]
                                          [--database-url URL]

One `callpath serve --workers 1` (a fresh SQLite file unless --database-url names an
empty, migrated-on-start database), seeded with one site and a generic integration.
A probe sends R call webhooks a second (each a new call) and records each routing answer's
latency, first alone, then while N clients post wrong passwords as fast as they are
answered:
  one address  every guess from one client address (the per-address limit answers 429);
  spread       each guess from another address (X-Forwarded-For through a trusted proxy)
               and for another e-mail, so no limit applies and every guess costs argon2.
Goal: routing p99 under a flood stays where it is alone (Kamailio gives up after 1 s).

Only 127.0.0.1 is ever targeted; every loop ends by itself.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tracker_load import HOST, Server, free_port

from callpath.storage.db import make_engine
from callpath.storage.migrate import upgrade
from callpath.telephony.generic import adapter as generic
from tests.helpers import add_hook, seed_site

NUMBER = "+74951234567"


def seed(url: str) -> tuple[str, str]:
    """A site with one pool number and a generic integration: its path and secret."""
    upgrade(url)
    engine = make_engine(url)
    try:
        site = seed_site(engine, name="Bench", default=False, pool_numbers=[NUMBER])
        hook = add_hook(engine, site)
    finally:
        engine.dispose()
    return hook.path, hook.secret


def probe(base: str, path: str, secret: str, rate: float, seconds: float) -> list[float]:
    """Routing answers' latencies (ms), one new call every 1/rate s."""
    latencies: list[float] = []
    seq = itertools.count()
    with httpx.Client(base_url=base, timeout=10) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            n = next(seq)
            body = json.dumps(
                {
                    "event": "started",
                    "call_id": f"b{n}",
                    "at": time.time(),
                    "caller": f"+7916{n:07d}",
                    "called": NUMBER,
                }
            ).encode()
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Callpath-Timestamp": stamp,
                "X-Callpath-Signature": generic.sign(secret, stamp, body),
            }
            began = time.perf_counter()
            assert client.post(path, content=body, headers=headers).status_code == 200
            latencies.append((time.perf_counter() - began) * 1000)
            time.sleep(max(0.0, 1 / rate - (time.perf_counter() - began)))
    return latencies


def flooder(base: str, spread: bool, stop: threading.Event, answers: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        for n in itertools.count():
            if stop.is_set():
                return
            me = threading.get_ident() % 250
            ip = f"10.{n % 250}.{me}.{n // 250 % 250}" if spread else "10.9.9.9"
            r = client.post(
                "/app/login",
                data={"email": f"guess{n}@bench.example", "password": "wrong"},
                headers={"X-Forwarded-For": ip},
            )
            answers.append(r.status_code)


def phase(base: str, hook: tuple[str, str], args: argparse.Namespace, mode: str) -> str:
    stop, answers = threading.Event(), list[int]()
    threads = [
        threading.Thread(target=flooder, args=(base, mode == "spread", stop, answers))
        for _ in range(args.flooders if mode != "alone" else 0)
    ]
    for t in threads:
        t.start()
    try:
        ms = sorted(probe(base, *hook, args.rate, args.seconds))
    finally:
        stop.set()
        for t in threads:
            t.join()
    logins = {s: answers.count(s) for s in sorted(set(answers))}
    return (
        f"{mode:>12}: routing p50 {_pct(ms, 0.5):6.1f} ms  p99 {_pct(ms, 0.99):7.1f} ms  "
        f"max {ms[-1]:7.1f} ms  ({len(ms)} calls)  logins {logins}"
    )


def _pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="callpath-login-flood-"))
    url = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
    hook = seed(url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLPATH_")}
    env.update(
        CALLPATH_DATABASE_URL=url,
        CALLPATH_SPOOL_DIR=str(work / "spool"),
        CALLPATH_TRUSTED_PROXIES="127.0.0.1/32",
    )
    cmd = [sys.executable, "-m", "callpath", "serve", "--port", str(port), "--workers", "1"]
    server = Server("callpath", cmd, env, port, work / "server.log").start()
    try:
        for mode in ("alone", "one address", "spread"):
            print(phase(f"http://{HOST}:{port}", hook, args, mode), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
