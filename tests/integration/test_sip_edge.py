"""The Kamailio SIP edge end to end: real kamailio, real sipp, `callpath serve`, a database.

A sipp UAC plays the carrier calling a tracking number, kamailio (configured by
`callpath sip config`) asks callpath where the call goes and relays it to a sipp UAS
playing the business PBX; its reports must leave the call right in the database.
Everything listens on free loopback ports; every process is killed when a test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from callpath.cli import app
from callpath.services import setup
from callpath.storage.db import transaction
from callpath.storage.tables import call_events, calls, tracking_numbers
from tests.helpers import Seeded, ServerProcess, count, free_port, seed_site

KAMAILIO = Path("/usr/sbin/kamailio")
SIPP = shutil.which("sipp")
SCENARIOS = Path(__file__).parent / "sip"
CALLER = "79161234567"
OWN_DESTINATION = "+74957770000"
_MODULES = ("http_client.so", "jansson.so")


def _modules_installed() -> bool:
    found = {p.name for d in Path("/usr/lib").glob("*/kamailio/modules") for p in d.iterdir()}
    found |= {p.name for p in Path("/usr/lib/kamailio/modules").glob("*.so")}
    return all(m in found for m in _MODULES)


pytestmark = pytest.mark.skipif(
    not (KAMAILIO.exists() and SIPP and _modules_installed()),
    reason="kamailio (+ kamailio-extra-modules, kamailio-utils-modules) and sipp "
    "(sip-tester) are not installed; scripts/test installs them",
)


# Below Linux's ephemeral range (32768-60999): a port the kernel hands to some process's
# outgoing socket between our pick and sipp's bind made sipp fail ("Address already in use").
_QUIET_PORTS = range(20_000, 32_000)


def free_udp_ports(n: int) -> list[int]:
    """`n` distinct free UDP ports (all held until all are picked, so none repeats)."""
    picks = random.Random()
    with contextlib.ExitStack() as stack:
        found: list[int] = []
        while len(found) < n:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            port = picks.choice(_QUIET_PORTS)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            found.append(port)
        return found


def free_udp_port() -> int:
    return free_udp_ports(1)[0]


def udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End a process we started and everything it forked (its own session)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # children left behind by a dead parent


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
            start_new_session=True,
        )


def _options_answered(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        tag = uuid.uuid4().hex
        probe = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{sock.getsockname()[1]};branch=z9hG4bK{tag}\r\n"
            f"From: <sip:probe@127.0.0.1>;tag={tag}\r\nTo: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: {tag}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        sock.sendto(probe.encode(), ("127.0.0.1", port))
        try:
            return sock.recv(4096).startswith(b"SIP/2.0 200")
        except OSError:
            return False


@contextlib.contextmanager
def kamailio(cfg: Path, port: int) -> Iterator[Path]:
    log = cfg.with_suffix(".log")
    proc = _spawn([str(KAMAILIO), "-DD", "-E", "-m", "32", "-M", "4", "-f", str(cfg)], log)
    try:
        deadline = time.monotonic() + 120  # generously: a busy machine is slow
        while not _options_answered(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kamailio did not start: {log.read_text()[-3000:]}")
        yield log
    finally:
        _stop(proc)


@dataclass
class Edge:
    site: Seeded
    integration: str
    port: int  # kamailio, where the carrier sends calls
    pbx_port: int  # the sipp UAS
    dir: Path
    log: Path  # kamailio's

    def sipp(self, name: str, scenario: Path, *args: str) -> subprocess.Popen[bytes]:
        base = self.dir / name
        media, control = free_udp_ports(2)
        cmd = [
            str(SIPP),
            "-sf",
            str(scenario),
            "-i",
            "127.0.0.1",
            "-m",
            "1",
            "-mp",
            str(media),
            "-cp",
            str(control),
            "-nostdin",
            "-timeout",
            "20",
            "-timeout_error",
            "-trace_msg",
            "-message_file",
            f"{base}.messages",
            "-trace_err",
            "-error_file",
            f"{base}.errors",
            *args,
        ]
        return _spawn(cmd, base.with_suffix(".out"))

    def report(self, *names: str) -> str:
        parts = [self.dir / f"{n}.{ext}" for n in names for ext in ("out", "errors", "messages")]
        text = "\n".join(
            f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}"
            for p in parts
            if p.exists()
        )
        return f"{text}\n--- kamailio ---\n{self.log.read_text(errors='replace')[-3000:]}"

    def pbx(self, scenario: str) -> subprocess.Popen[bytes]:
        """The PBX's sipp UAS, returned once it listens (a loaded machine starts it slowly)."""
        uas = self.sipp("pbx", SCENARIOS / f"{scenario}.xml", "-p", str(self.pbx_port))
        deadline = time.monotonic() + 120  # generously: a busy machine is slow
        while not udp_port_taken(self.pbx_port):
            if uas.poll() is not None or time.monotonic() > deadline:
                _stop(uas)
                raise RuntimeError(f"the PBX's sipp did not start:\n{self.report('pbx')}")
            time.sleep(0.02)
        return uas


@contextlib.contextmanager
def start_edge(engine: Engine, tmp_path: Path, callpath_url: str) -> Iterator[Edge]:
    site = seed_site(engine, pool_size=2)
    with transaction(engine) as conn:
        made = setup.create_integration(
            conn, site.account_id, site.site_id, "sip", "trunk", time.time()
        )
    port, pbx_port = free_udp_ports(2)
    cfg = tmp_path / "kamailio.cfg"
    args = ["sip", "config", "--site", site.key, "--pbx", f"127.0.0.1:{pbx_port}"]
    args += ["--listen", f"127.0.0.1:{port}", "--callpath-url", callpath_url]
    args += ["--ring-timeout", "2", "--output", str(cfg)]
    env = {"CALLPATH_DATABASE_URL": str(engine.url.render_as_string(hide_password=False))}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert oct(cfg.stat().st_mode & 0o777) == "0o600"
    with kamailio(cfg, port) as log:
        yield Edge(site, made.id, port, pbx_port, tmp_path, log)


@pytest.fixture
def edge(engine: Engine, server: ServerProcess, tmp_path: Path) -> Iterator[Edge]:
    with start_edge(engine, tmp_path, server.url) as e:
        yield e


def place_call(edge: Edge, pbx: str | None, number: str, final: int = 200) -> str:
    """Carrier calls `number`; the PBX plays scenario `pbx`. Returns what the PBX saw."""
    uas = edge.pbx(pbx) if pbx else None
    try:
        if final == 200:
            scenario, extra = SCENARIOS / "uac_answered.xml", ["-d", "1500"]
        else:
            scenario, extra = edge.dir / "uac_rejected.xml", []
            text = (SCENARIOS / "uac_rejected.xml").read_text()
            scenario.write_text(text.replace('response="CODE"', f'response="{final}"'))
        uac = edge.sipp(
            "carrier",
            scenario,
            f"127.0.0.1:{edge.port}",
            "-p",
            str(free_udp_port()),
            "-s",
            number.lstrip("+"),
            "-key",
            "caller",
            CALLER,
            *extra,
        )
        try:
            assert uac.wait(timeout=25) == 0, edge.report("carrier", "pbx")
        finally:
            _stop(uac)
        if uas is None:
            return ""
        assert uas.wait(timeout=10) == 0, edge.report("pbx")
        return (edge.dir / "pbx.messages").read_text(errors="replace")
    finally:
        if uas is not None:
            _stop(uas)


def wait_for(check: Callable[[], Any], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def ended_call(engine: Engine) -> dict[str, Any]:
    def one() -> dict[str, Any] | None:
        with engine.connect() as conn:
            row = conn.execute(select(calls).where(calls.c.state == "ended")).first()
        return dict(row._mapping) if row else None

    found = wait_for(one)
    assert found, "no ended call in the database"
    return dict(found)


def test_answered_call_is_routed_and_timed(edge: Edge, engine: Engine) -> None:
    number = edge.site.pool[0]
    with transaction(engine) as conn:
        conn.execute(
            update(tracking_numbers)
            .where(tracking_numbers.c.e164 == number)
            .values(forward_to=OWN_DESTINATION)
        )
    seen = place_call(edge, "uas_answer", number)
    assert f"INVITE sip:{OWN_DESTINATION}@127.0.0.1:{edge.pbx_port}" in seen
    row = ended_call(engine)
    assert (row["status"], row["tracking_number"], row["caller"]) == (
        "answered",
        number,
        "+" + CALLER,
    )
    assert row["forward_to"] == OWN_DESTINATION
    assert 1.3 <= row["talk"] <= 5, row
    assert row["duration"] >= row["talk"]
    assert count(engine, call_events) == 3  # started, answered, ended: retransmits deduped


def test_busy_pbx(edge: Edge, engine: Engine) -> None:
    place_call(edge, "uas_busy", edge.site.pool[0], final=486)
    row = ended_call(engine)
    assert (row["status"], row["talk"]) == ("busy", 0)


def test_nobody_answers(edge: Edge, engine: Engine) -> None:
    seen = place_call(edge, "uas_no_answer", edge.site.pool[1], final=408)
    assert "CANCEL sip:" in seen  # the ring timeout cancelled the PBX leg
    row = ended_call(engine)
    assert (row["status"], row["talk"], row["answered_at"]) == ("missed", 0, None)


def test_unknown_number_is_refused(edge: Edge, engine: Engine) -> None:
    place_call(edge, None, "+74950000099", final=404)
    assert count(engine, call_events) == 0
    assert count(engine, calls) == 0


def test_call_goes_to_the_visitor_who_held_the_number(
    edge: Edge, engine: Engine, server: ServerProcess
) -> None:
    visit = httpx.post(
        f"{server.url}/t/v1/session",
        content=json.dumps(
            {"site": edge.site.key, "url": "https://shop.example/?utm_source=yandex&utm_medium=cpc"}
        ),
        timeout=10,
    ).json()
    assert visit["number"] in edge.site.pool
    seen = place_call(edge, "uas_answer", visit["number"])
    assert f"INVITE sip:{edge.site.original}@" in seen  # the site's default destination
    row = ended_call(engine)
    assert (row["session_id"], row["match_method"]) == (visit["session"], "pool")
    assert (row["source"], row["medium"]) == ("yandex", "cpc")


def test_callpath_down_the_call_still_gets_through(engine: Engine, tmp_path: Path) -> None:
    with start_edge(engine, tmp_path, f"http://127.0.0.1:{free_port()}") as e:
        seen = place_call(e, "uas_answer", e.site.pool[0])
    assert f"INVITE sip:{e.site.original}@127.0.0.1:{e.pbx_port}" in seen
    assert "callpath route unavailable" in e.log.read_text()
    assert count(engine, call_events) == 0


def test_callpath_hanging_the_call_goes_on_after_a_second(engine: Engine, tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with start_edge(engine, tmp_path, url) as e:
            seen = place_call(e, "uas_busy", e.site.pool[0], final=486)
    assert f"INVITE sip:{e.site.original}@" in seen
    # relayed because the edge gave up on the silent callpath (it never answers at all)
    assert "callpath route unavailable" in e.log.read_text()
    # 100 Trying reached the carrier before callpath was given up on (a 1 s wait), not
    # only when the call was relayed to the PBX.
    trying = first_logged(e.dir / "carrier.messages", "received", "SIP/2.0 100 ")
    relayed = first_logged(e.dir / "pbx.messages", "received", "INVITE sip:")
    assert relayed - trying >= 0.5, (trying, relayed)
    # The busy reply went on to the carrier before the (hanging) failure report, which
    # waits up to 1 s.
    busy = first_logged(e.dir / "pbx.messages", "sent", "SIP/2.0 486 ")
    passed_on = first_logged(e.dir / "carrier.messages", "received", "SIP/2.0 486 ")
    assert passed_on - busy < 0.5, (busy, passed_on)


def first_logged(trace: Path, way: str, start: str) -> float:
    """When a sipp message trace (-trace_msg) first logs a message `way` ("sent" or
    "received") opening `start`."""
    for block in trace.read_text(errors="replace").split("-" * 47 + " ")[1:]:
        stamp, _, rest = block.partition("\n")
        kind, _, message = rest.partition("\n\n")
        if way in kind and message.lstrip().startswith(start):
            day, clock = stamp.split()[:2]
            return datetime.fromisoformat(f"{day}T{clock}").timestamp()
    raise AssertionError(f"{trace.name} never logged a {way} {start!r}")
