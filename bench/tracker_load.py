"""Load test of the tracker's session start (`POST /t/v1/session`) against a bare FastAPI app.

    .venv/bin/python bench/tracker_load.py [--db sqlite|postgres|both] [--seconds S]
                                           [--pool-size N] [--small-pool M] [--concurrency C]
                                           [--postgres-url URL] [--py-spy DIR] [--rate R]

For each backend, and for each pool size (N, default 1000, and M, default 20; 0 skips it):
a fresh database is created (SQLite: a temp file; PostgreSQL: a new database on
`--postgres-url`, or on a throwaway cluster this script starts with initdb/pg_ctl and
deletes afterwards), migrated and seeded with one site, a default number and the pool;
then ONE `callpath serve --workers 1` process is started on a free loopback port. A bare
FastAPI app (one POST endpoint: read the body, json.loads it, return a small dict) is
served by uvicorn with the same flags in another process, as the reference.

Each target is measured the same way by a load generator in its own process (raw asyncio
HTTP/1.1 keep-alive connections, so the client costs little CPU of the 2 cores):
  warm-up  closed loop, not reported;
  peak     closed loop at --concurrency connections for S seconds -> req/s;
  half     open loop at half of that target's peak for S seconds: sends are scheduled at
           fixed intervals and latency runs from the *scheduled* time, so time spent
           queueing (in the client or the server) counts -> p50/p99.
Before each measured callpath phase every pool hold is cleared (one UPDATE), so the phase
starts with the whole pool free: with `"visitor": null` every request is a new visitor
who keeps its number for the hold time, hence a pool of N numbers serves the first N
requests of a phase and the rest get the default number ("exhausted"). The `mix` column
shows how each phase's answers split by `reason`.

Only 127.0.0.1 is ever targeted; every loop ends by itself (deadline + per-request timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests/
from tests.served import Served as Server
from tests.throwaway_pg import HOST, PgCluster, free_port

PATH = "/t/v1/session"
SITE_ORIGIN = "https://shop.example"
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
LANDING = "https://shop.example/?utm_source=yandex&utm_medium=cpc"
REFERRER = "https://yandex.ru/"
REQUEST_TIMEOUT = 10.0
GOAL_RATIO = 0.3
GOAL_P99_MS = 20.0


# ----------------------------------------------------------------------------- client


def _request_bytes(port: int, site_key: str) -> bytes:
    body = json.dumps(
        {"site": site_key, "visitor": None, "url": LANDING, "referrer": REFERRER},
        separators=(",", ":"),
    ).encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\n"
        f"Host: {HOST}:{port}\r\n"
        f"User-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\n"
        "Accept-Language: ru-RU,ru;q=0.9,en-US;q=0.8\r\n"
        f"Origin: {SITE_ORIGIN}\r\n"
        f"Referer: {LANDING}\r\n"
        "Content-Type: text/plain;charset=UTF-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


class _Conn:
    """One HTTP/1.1 keep-alive connection; reconnects when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, payload: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = 0, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, body


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    error_sample: str = ""

    def record(self, started: float, status: int, body: bytes) -> None:
        self.latencies.append(time.perf_counter() - started)
        if status != 200:
            self.statuses[str(status)] += 1
            if not self.error_sample:
                self.error_sample = f"{status} {body[:200]!r}"
            return
        self.statuses["200"] += 1
        at = body.find(b'"reason":"')
        if at >= 0:
            start = at + 10
            self.reasons[body[start : body.find(b'"', start)].decode()] += 1

    def failure(self, started: float, exc: BaseException) -> None:
        self.latencies.append(time.perf_counter() - started)
        kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        self.statuses[kind] += 1
        if not self.error_sample:
            self.error_sample = f"{kind}: {exc}"[:200]


async def _one(conn: _Conn, payload: bytes, tally: _Tally, started: float) -> None:
    try:
        status, body = await asyncio.wait_for(conn.request(payload), REQUEST_TIMEOUT)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
        conn.close()
        tally.failure(started, exc)
    else:
        tally.record(started, status, body)


async def _closed_loop(
    port: int, make: Callable[[], bytes], concurrency: int, seconds: float, tally: _Tally
) -> float:
    """`make` builds each request (the same bytes, or a fresh signed one each time)."""
    conns = [_Conn(port) for _ in range(concurrency)]
    await asyncio.gather(*(c.open() for c in conns))
    t0 = time.perf_counter()
    deadline = t0 + seconds

    async def worker(conn: _Conn) -> None:
        while time.perf_counter() < deadline:
            await _one(conn, make(), tally, time.perf_counter())

    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    return elapsed


async def _open_loop(
    port: int,
    make: Callable[[], bytes],
    rate: float,
    seconds: float,
    connections: int,
    tally: _Tally,
) -> tuple[float, float]:
    """Send at fixed intervals; a send waits for a free connection (queueing counts)."""
    conns = [_Conn(port) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in conns))
    free: asyncio.Queue[_Conn] = asyncio.Queue()
    for c in conns:
        free.put_nowait(c)
    total = max(1, int(rate * seconds))
    interval = 1.0 / rate
    tasks: set[asyncio.Task[None]] = set()
    max_lag = 0.0

    async def send(scheduled: float) -> None:
        conn = await free.get()
        try:
            await _one(conn, make(), tally, scheduled)
        finally:
            free.put_nowait(conn)

    t0 = time.perf_counter() + 0.05
    for i in range(total):
        scheduled = t0 + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        max_lag = max(max_lag, time.perf_counter() - scheduled)
        task = asyncio.create_task(send(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT * 3)
    for task in list(tasks):  # only left if something hung past every timeout
        task.cancel()
        tally.statuses["unfinished"] += 1
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    return elapsed, max_lag


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k] * 1000.0


def client_main(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one phase; `spec` = port, site, mode (closed|open), seconds, concurrency, rate."""
    payload = _request_bytes(int(spec["port"]), str(spec["site"]))
    return run_phase(spec, lambda: payload)


def run_phase(spec: dict[str, Any], make: Callable[[], bytes]) -> dict[str, Any]:
    """One load phase against `spec["port"]`, each request built by `make`."""
    port = int(spec["port"])
    tally = _Tally()
    cpu0 = time.process_time()
    max_lag = 0.0
    if spec["mode"] == "closed":
        elapsed = asyncio.run(
            _closed_loop(port, make, int(spec["concurrency"]), float(spec["seconds"]), tally)
        )
    else:
        elapsed, max_lag = asyncio.run(
            _open_loop(
                port,
                make,
                float(spec["rate"]),
                float(spec["seconds"]),
                int(spec["connections"]),
                tally,
            )
        )
    lat = sorted(tally.latencies)
    done = sum(tally.statuses.values())
    return {
        "requests": done,
        "elapsed": elapsed,
        "rps": done / elapsed if elapsed > 0 else 0.0,
        "ok": tally.statuses.get("200", 0),
        "errors": {k: v for k, v in tally.statuses.items() if k != "200"},
        "error_sample": tally.error_sample,
        "reasons": dict(tally.reasons),
        "p50": _pct(lat, 0.50),
        "p90": _pct(lat, 0.90),
        "p99": _pct(lat, 0.99),
        "max": _pct(lat, 1.0),
        "client_cpu": (time.process_time() - cpu0) / elapsed if elapsed > 0 else 0.0,
        "max_send_lag_ms": max_lag * 1000.0,
    }


# ------------------------------------------------------------------------ bare server


def bare_server_main(port: int) -> None:
    import uvicorn

    app = FastAPI()

    @app.post(PATH)
    async def session(request: Request) -> dict[str, Any]:
        data = json.loads(await request.body())
        return {"ok": True, "site": data.get("site"), "number": "+74951234567"}

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    uvicorn.run(
        app,
        host=HOST,
        port=port,
        workers=1,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # as `callpath serve`
    )


# --------------------------------------------------------------------- orchestration


def _cpu_ticks(pid: int) -> int:
    """utime + stime of one process (Linux /proc), 0 when unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def _tree_pids(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            parents[int(stat.split("/")[2])] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


class CpuMeter:
    """CPU share (1.0 = one core) used by a set of processes between start() and stop()."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self._pids = pids
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._t0 = 0.0
        self._ticks0: dict[int, int] = {}

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._ticks0 = {p: _cpu_ticks(p) for p in self._pids()}

    def stop(self) -> float:
        wall = time.perf_counter() - self._t0
        used = sum(_cpu_ticks(p) - self._ticks0.get(p, 0) for p in self._pids())
        return used / self._hz / wall if wall > 0 else math.nan


class MachineMeter:
    """Cores busy machine-wide between start() and stop() (Linux /proc/stat)."""

    def __init__(self) -> None:
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._t0, self._busy0 = 0.0, 0

    @staticmethod
    def _busy() -> int:
        try:
            first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, first[1:9])
        except (OSError, ValueError):
            return 0
        return user + nice + system + irq + softirq + steal

    def start(self) -> None:
        self._t0, self._busy0 = time.perf_counter(), self._busy()

    def stop(self) -> float:
        wall = time.perf_counter() - self._t0
        return (self._busy() - self._busy0) / self._hz / wall if wall > 0 else math.nan


def _create_pg_database(server_url: str) -> tuple[str, Callable[[], None]]:
    """A fresh database on the server of `server_url`; returns its URL and a dropper."""
    from sqlalchemy import create_engine, make_url, text

    if server_url.startswith(("postgres://", "postgresql://")):
        server_url = "postgresql+psycopg://" + server_url.split("://", 1)[1]
    url = make_url(server_url)
    name = f"callpath_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()

    def drop() -> None:
        eng = create_engine(url, isolation_level="AUTOCOMMIT")
        with contextlib.suppress(Exception), eng.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def seed(database_url: str, pool_size: int) -> tuple[str, int]:
    """Migrate, then add one site with a default number and `pool_size` pool numbers
    (`pool_number(i)`, so other benchmarks can dial them)."""
    from callpath.storage import migrate
    from callpath.storage.db import make_engine
    from tests.helpers import seed_site

    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        seeded = seed_site(
            engine,
            name="Bench shop",
            domains=("shop.example",),
            default_number="+74952999999",
            pool_numbers=[pool_number(i) for i in range(pool_size)],
        )
    finally:
        engine.dispose()
    return seeded.key, seeded.site_id


def pool_number(i: int) -> str:
    return f"+7495{3_000_000 + i:07d}"


def reset_pool(database_url: str, site_id: int) -> None:
    """Free every pool number of the site, so the next phase starts with a full pool."""
    from sqlalchemy import update

    from callpath.storage.db import make_engine, transaction
    from callpath.storage.tables import tracking_numbers as n

    engine = make_engine(database_url)
    try:
        with transaction(engine) as conn:
            free = {
                "held_session_id": None,
                "held_visitor_id": None,
                "held_until": 0,
                "held_since": None,
            }
            conn.execute(update(n).where(n.c.site_id == site_id).values(free))
    finally:
        engine.dispose()


@dataclass
class Row:
    backend: str
    target: str
    pool: str
    peak: dict[str, Any]
    half: dict[str, Any]
    server_cpu_peak: float
    db_cpu_peak: float
    bare_peak: float = math.nan


def run_client(spec: dict[str, Any], timeout: float, script: str = __file__) -> dict[str, Any]:
    """One load phase in a fresh process: `script --_client SPEC` prints its result."""
    cmd = [sys.executable, str(Path(script).resolve()), "--_client", json.dumps(spec)]
    done = subprocess.run(
        cmd, capture_output=True, timeout=timeout, check=False, start_new_session=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(
    args: argparse.Namespace,
    name: str,
    port: int,
    site: str,
    cpu_pids: Callable[[], list[int]],
    db_pids: Callable[[], list[int]],
    before_phase: Callable[[], None],
    profile_to: Path | None,
) -> tuple[dict[str, Any], dict[str, Any], float, float]:
    s = float(args.seconds)
    timeout = s + REQUEST_TIMEOUT * 4 + 60
    base = {"port": port, "site": site, "concurrency": args.concurrency}
    print(f"  {name}: warm-up {args.warmup:g}s ...", flush=True)
    run_client({**base, "mode": "closed", "seconds": args.warmup}, timeout)

    before_phase()
    print(f"  {name}: peak, closed loop x{args.concurrency}, {s:g}s ...", flush=True)
    server_cpu, db_cpu, machine = CpuMeter(cpu_pids), CpuMeter(db_pids), MachineMeter()
    spy = _start_py_spy(cpu_pids()[0], s, profile_to) if profile_to else None
    server_cpu.start()
    db_cpu.start()
    machine.start()
    peak = run_client({**base, "mode": "closed", "seconds": s}, timeout)
    scpu, dcpu = server_cpu.stop(), db_cpu.stop()
    # CPU used by anything but the server, its database and the load generator
    peak["other_cpu"] = max(0.0, machine.stop() - scpu - dcpu - peak["client_cpu"])
    if spy is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            spy.wait(timeout=30)
    # --rate: the callpath runs' open loop at that rate (two commits compared at one load)
    fixed = getattr(args, "rate", None) if site != "bare" else None
    rate = float(fixed) if fixed else max(1.0, peak["rps"] / 2)

    before_phase()
    print(f"  {name}: open loop at {rate:.0f} req/s, {s:g}s ...", flush=True)
    server_cpu.start()
    db_cpu.start()
    machine.start()
    half = run_client(
        {
            **base,
            "mode": "open",
            "seconds": s,
            "rate": rate,
            "connections": max(32, 2 * args.concurrency),
        },
        timeout,
    )
    half["rate"] = rate
    scpu_half, dcpu_half = server_cpu.stop(), db_cpu.stop()
    half["other_cpu"] = max(0.0, machine.stop() - scpu_half - dcpu_half - half["client_cpu"])
    for phase, res in (("peak", peak), ("half", half)):
        if res["errors"]:
            print(
                f"  !! {name} {phase}: errors {res['errors']} e.g. {res['error_sample']}",
                flush=True,
            )
    return peak, half, scpu, dcpu


def _start_py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        print("  (py-spy not found: pip install py-spy into the venv to profile)")
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    # --nonblocking: do not pause the server for each sample (that would skew the figures)
    return subprocess.Popen(
        [
            exe,
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "100",
            "--nonblocking",
            "-f",
            "raw",
            "-o",
            str(out),
            "--threads",
            "--idle",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _fmt_mix(reasons: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))


def _errors(res: dict[str, Any]) -> int:
    return int(sum(res["errors"].values()))


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    print()
    print(
        f"POST {PATH}  one server worker each, {args.concurrency} connections at peak, "
        f"{args.seconds:g}s per phase; latency at half peak counts from the scheduled send"
    )
    head = (
        f"{'backend':<9} {'target':<9} {'pool':>5} {'peak req/s':>10} {'ratio':>6} "
        f"{'half req/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>7} "
        f"{'srv cpu':>7} {'db cpu':>6} {'cpu ms/req':>10}  mix(peak | half)"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = r.peak["rps"] / r.bare_peak if r.target == "callpath" else 1.0
        errs = _errors(r.peak) + _errors(r.half)
        mix = (
            f"{_fmt_mix(r.peak['reasons'])} | {_fmt_mix(r.half['reasons'])}"
            if r.target == "callpath"
            else ""
        )
        db = (
            f"{r.db_cpu_peak:6.2f}"
            if r.backend == "postgres" and r.target == "callpath"
            else f"{'-':>6}"
        )
        # server (+ database) CPU time per request at peak: unlike req/s, this hardly
        # depends on what else the machine runs, and bounds req/s per core
        cpu = r.server_cpu_peak + (0.0 if math.isnan(r.db_cpu_peak) else r.db_cpu_peak)
        per_req = cpu / r.peak["rps"] * 1000 if r.peak["rps"] else math.nan
        print(
            f"{r.backend:<9} {r.target:<9} {r.pool:>5} {r.peak['rps']:>10.1f} {ratio:>6.2f} "
            f"{r.half['rps']:>10.1f} {r.half['p50']:>7.2f} {r.half['p99']:>7.2f} "
            f"{r.half['max']:>7.2f} {errs:>7} {r.server_cpu_peak:>7.2f} {db} {per_req:>10.2f}"
            f"  {mix}"
        )
    print()
    print("peak-phase latency (closed loop) and client health:")
    for r in rows:
        print(
            f"  {r.backend:<9} {r.target:<9} pool {r.pool:>5}: peak p50 {r.peak['p50']:.2f} "
            f"p99 {r.peak['p99']:.2f} ms; client cpu peak {r.peak['client_cpu']:.2f} "
            f"half {r.half['client_cpu']:.2f}; max send lag at half "
            f"{r.half['max_send_lag_ms']:.1f} ms; requests {r.peak['requests']}"
            f"+{r.half['requests']}; other processes' cpu peak {r.peak['other_cpu']:.2f} "
            f"half {r.half['other_cpu']:.2f}"
        )
    busy = max(max(r.peak["other_cpu"], r.half["other_cpu"]) for r in rows)
    if busy > 0.15:
        print(
            f"!! up to {busy:.2f} cores were used by other processes during a phase: "
            "the machine was not quiet, figures are pessimistic/noisy"
        )
    total_errors = sum(_errors(r.peak) + _errors(r.half) for r in rows)
    print()
    if total_errors:
        print(f"!! {total_errors} requests failed (non-200, timeout or connection error):")
        for r in rows:
            for phase, res in (("peak", r.peak), ("half", r.half)):
                if res["errors"]:
                    print(
                        f"   {r.backend} {r.target} pool {r.pool} {phase}: {res['errors']} "
                        f"e.g. {res['error_sample']}"
                    )
    else:
        print("errors: none (every response was 200)")
    print("cpu ms/req = (server + PostgreSQL) CPU time per request during the peak phase")
    print(f"goal: ratio >= {GOAL_RATIO} and p99 <= {GOAL_P99_MS:g} ms at half peak")
    for r in rows:
        if r.target != "callpath":
            continue
        ratio = r.peak["rps"] / r.bare_peak
        ok = (
            ratio >= GOAL_RATIO
            and r.half["p99"] <= GOAL_P99_MS
            and not (_errors(r.peak) + _errors(r.half))
        )
        print(
            f"  {r.backend:<9} pool {r.pool:>5}: ratio {ratio:.2f}, p99 {r.half['p99']:.2f} ms"
            f" -> {'MET' if ok else 'NOT MET'}"
        )


def run(args: argparse.Namespace) -> int:
    backends = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    pools = [args.pool_size] + ([args.small_pool] if args.small_pool > 0 else [])
    rows: list[Row] = []
    with contextlib.ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="callpath-bench-"))
        stack.callback(shutil.rmtree, work, True)
        logs = work / "logs"
        logs.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLPATH_")}

        bare_port = free_port()
        bare = Server(
            "bare",
            [sys.executable, str(Path(__file__).resolve()), "--_bare", str(bare_port)],
            env,
            bare_port,
            logs / "bare.log",
        )
        stack.callback(bare.stop)
        bare.start()
        print(f"bare FastAPI reference on {HOST}:{bare_port} (pid {bare.pid})", flush=True)

        for backend in backends:
            print(f"\n== {backend}", flush=True)
            cluster: PgCluster | None = None
            server_url = ""
            if backend == "postgres":
                if args.postgres_url:
                    server_url = args.postgres_url
                else:
                    cluster = PgCluster()
                    stack.callback(cluster.remove)
                    server_url = cluster.start()
                    print(
                        f"  throwaway PostgreSQL ({cluster.bindir.parent.name}) on "
                        f"{HOST}:{cluster.port}",
                        flush=True,
                    )
            # the bare reference, measured next to this backend's callpath runs
            bare_peak, bare_half, bare_cpu, _ = measure(
                args, "bare", bare_port, "bare", lambda: [bare.pid], list, lambda: None, None
            )
            rows.append(
                Row(
                    backend, "bare", "-", bare_peak, bare_half, bare_cpu, math.nan, bare_peak["rps"]
                )
            )
            for pool_size in pools:
                if backend == "sqlite":
                    db_url = f"sqlite:///{work / f'callpath-{pool_size}.sqlite3'}"
                else:
                    db_url, drop = _create_pg_database(server_url)
                    if cluster is None:  # a throwaway cluster goes away as a whole
                        stack.callback(drop)
                site_key, site_id = seed(db_url, pool_size)
                port = free_port()
                # Every request comes from this one address: lift the per-client limits
                # (counted on every start all the same) so a start takes the pool path.
                srv_env = {
                    **env,
                    "CALLPATH_DATABASE_URL": db_url,
                    "CALLPATH_CLIENT_POOL_SHARE": "100",
                    "CALLPATH_CLIENT_STARTS_PER_MINUTE": "0",
                }
                srv = Server(
                    f"callpath-{backend}-{pool_size}",
                    [
                        sys.executable,
                        "-m",
                        "callpath",
                        "serve",
                        "--host",
                        HOST,
                        "--port",
                        str(port),
                        "--workers",
                        "1",
                    ],
                    srv_env,
                    port,
                    logs / f"callpath-{backend}-{pool_size}.log",
                )
                stack.callback(srv.stop)
                srv.start()
                print(
                    f"  callpath ({backend}, pool {pool_size}) on {HOST}:{port} (pid {srv.pid})",
                    flush=True,
                )
                pg_pid = cluster.postmaster_pid() if cluster else 0

                def db_pids(pg_pid: int = pg_pid) -> list[int]:
                    return _tree_pids(pg_pid) if pg_pid else []

                profile = (
                    Path(args.py_spy) / f"{backend}-pool{pool_size}.txt" if args.py_spy else None
                )
                peak, half, scpu, dcpu = measure(
                    args,
                    f"callpath pool {pool_size}",
                    port,
                    site_key,
                    lambda srv=srv: [srv.pid],
                    db_pids,
                    lambda db_url=db_url, site_id=site_id: reset_pool(db_url, site_id),
                    profile,
                )
                rows.append(
                    Row(
                        backend,
                        "callpath",
                        str(pool_size),
                        peak,
                        half,
                        scpu,
                        dcpu,
                        bare_peak["rps"],
                    )
                )
                srv.stop()
                if srv.log.exists() and "Traceback" in srv.log.read_text(errors="replace"):
                    print(
                        f"  !! server log has tracebacks:\n"
                        f"{srv.log.read_text(errors='replace')[-2000:]}"
                    )
            if cluster is not None:
                cluster.remove()
        print_table(rows, args)
    failed = any(_errors(r.peak) + _errors(r.half) for r in rows)
    return 1 if failed else 0


def run_child(argv: list[str], client: Callable[[dict[str, Any]], Any]) -> bool:
    """This process is one a benchmark started (`--_client SPEC` runs `client` on the
    JSON spec and prints its JSON result, `--_bare PORT` serves the bare endpoint):
    run it and say so."""
    if argv[:1] == ["--_client"]:
        print(json.dumps(client(json.loads(argv[1]))))
        return True
    if argv[:1] == ["--_bare"]:
        bare_server_main(int(argv[1]))
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if run_child(argv, client_main):
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unreported warm-up, s")
    parser.add_argument("--pool-size", type=int, default=1000)
    parser.add_argument("--small-pool", type=int, default=20, help="second run; 0 skips it")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--postgres-url",
        help="use this PostgreSQL server (a fresh database is created on it "
        "and dropped) instead of a throwaway cluster",
    )
    parser.add_argument(
        "--rate",
        type=float,
        help="callpath's latency phase at this rate instead of half its own peak "
        "(to compare two commits at the same load; the goal line still reads p99 there)",
    )
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        help="record a py-spy raw profile of the callpath server during "
        "each peak phase into DIR (needs py-spy in the venv)",
    )
    args = parser.parse_args(argv)
    if not 0.5 <= args.seconds <= 600 or args.concurrency < 1 or args.pool_size < 0:
        parser.error("--seconds must be 0.5..600, --concurrency >= 1, --pool-size >= 0")

    def on_term(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("\ninterrupted; servers and databases cleaned up", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
