"""`callpath asterisk listen` against a fake Asterisk that speaks AMI as documented
(banner, Login → Response, events, Ping → Pong), with a real database: the recorded
streams become call rows attributed to the visitor who held the number."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from callpath import settings as settings_mod
from callpath.cli import app
from callpath.services import recordings, setup
from callpath.storage.db import transaction
from callpath.storage.tables import call_events, calls
from callpath.storage.tables import recordings as recordings_table
from callpath.telephony.asterisk import adapter, ami
from callpath.web.app import create_app
from tests.helpers import Seeded, classified_leads, free_port, seed_site, wait_for

FIXTURES = Path(adapter.__file__).parent / "fixtures"
STREAMS = ("answered", "busy", "no_answer", "caller_hangup", "outbound", "untracked")
POOL, STATIC_B, STATIC_C = "+74957770101", "+74957770102", "+74957770103"
USER, SECRET = "callpath", "ami-test-secret"


class FakeAsterisk:
    """An AMI server on loopback, in a thread of its own, playing `stream` after login.
    With `drop_first` it closes the first connection once the stream is out."""

    def __init__(self, stream: bytes, secret: str = SECRET, drop_first: bool = False) -> None:
        self.stream, self.secret, self.drop_first = stream, secret, drop_first
        self.port = free_port()
        self.logins = 0
        self.pings = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FakeAsterisk:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._session, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = ami.BlockParser()
        writer.write(b"Asterisk Call Manager/5.0.2\r\n")
        try:
            while data := await reader.read(4096):
                for block in parser.feed(data):
                    if not await self._answer(block, writer):
                        return
        finally:
            writer.close()

    async def _answer(self, block: ami.Block, writer: asyncio.StreamWriter) -> bool:
        action, action_id = block.get("Action", "").lower(), block.get("ActionID", "")
        if action == "ping":
            self.pings += 1
            writer.write(
                f"Response: Success\r\nActionID: {action_id}\r\nPing: Pong\r\n\r\n".encode()
            )
            return True
        if action != "login":
            writer.write(f"Response: Error\r\nActionID: {action_id}\r\n\r\n".encode())
            return True
        if (block.get("Username"), block.get("Secret")) != (USER, self.secret):
            writer.write(
                f"Response: Error\r\nActionID: {action_id}\r\n"
                "Message: Authentication failed\r\n\r\n".encode()
            )
            await writer.drain()
            return False
        self.logins += 1
        writer.write(
            f"Response: Success\r\nActionID: {action_id}\r\n"
            "Message: Authentication accepted\r\n\r\n"
            "Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n".encode()
        )
        writer.write(self.stream)
        await writer.drain()
        return not (self.drop_first and self.logins == 1)


def recorded(*names: str) -> bytes:
    return b"".join((FIXTURES / f"{name}.ami").read_bytes() for name in names)


@pytest.fixture
def site(engine: Engine) -> Seeded:
    seeded = seed_site(engine, pool_size=0)
    now = time.time()
    with transaction(engine) as conn:
        for number, kind, label in ((POOL, "pool", None), (STATIC_B, "static", "Radio")):
            setup.add_number(
                conn,
                seeded.account_id,
                seeded.site_id,
                setup.NumberInput(number=number, kind=kind, label=label),
                now,
            )
        setup.add_number(
            conn,
            seeded.account_id,
            seeded.site_id,
            setup.NumberInput(number=STATIC_C, kind="static", label="Billboard"),
            now,
        )
    return seeded


def integration(engine: Engine, site: Seeded, kind: str = "asterisk") -> str:
    with transaction(engine) as conn:
        made = setup.create_integration(
            conn, site.account_id, site.site_id, kind, "office PBX", time.time()
        )
    return made.id


def visit(database_url: str, tmp_path: Path, site: Seeded) -> dict[str, Any]:
    settings = settings_mod.load(
        {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_SPOOL_DIR": str(tmp_path / "web")}
    )
    with TestClient(create_app(settings)) as client:
        body = {"site": site.key, "url": "https://shop.example/?utm_source=yandex&utm_medium=cpc"}
        answer = client.post("/t/v1/session", content=json.dumps(body))
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def rows(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {r.provider_call_id: dict(r._mapping) for r in conn.execute(select(calls))}


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(call_events)).scalar_one())


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "ami-secret"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def listen_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CALLPATH_DATABASE_URL": database_url,
        "CALLPATH_SPOOL_DIR": str(tmp_path / "spool"),
    }


@pytest.fixture
def listener_process(
    tmp_path: Path, listen_env: dict[str, str]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_recorded_streams_become_calls_once_across_a_reconnect(
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    site: Seeded,
    secret_file: Path,
    listen_env: dict[str, str],
    listener_process: list[subprocess.Popen[bytes]],
) -> None:
    held = visit(database_url, tmp_path, site)
    assert held["number"] == POOL
    integ = integration(engine, site)
    log = tmp_path / "listener.log"
    with FakeAsterisk(recorded(*STREAMS), drop_first=True) as pbx, log.open("wb") as out:
        cmd = [sys.executable, "-m", "callpath", "asterisk", "listen", "--integration", integ]
        cmd += ["--port", str(pbx.port), "--username", USER, "--secret-file", str(secret_file)]
        proc = subprocess.Popen(cmd, env=listen_env, stdout=out, stderr=subprocess.STDOUT)
        listener_process.append(proc)
        wait_for(lambda: pbx.logins == 2 and len(rows(engine)) == 4, seconds=30)
        time.sleep(1.0)  # the replayed stream must not add anything
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0, log.read_text()
    text = log.read_text()
    assert "stopped" in text and "reconnecting" in text
    assert text.count("(already stored)") == 9  # every event of the replay was known
    assert count(engine) == 9  # 3 + 2 + 2 + 2: nothing stored twice
    calls_by_id = rows(engine)
    assert set(calls_by_id) == {
        "1767225600.101",
        "1767226200.201",
        "1767226800.301",
        "1767227400.401",
    }
    answered = calls_by_id["1767225600.101"]
    assert (answered["status"], answered["tracking_number"]) == ("answered", POOL)
    assert answered["talk"] == pytest.approx(52.003, abs=0.01)
    assert answered["visitor_id"] == held["visitor"]
    assert answered["session_id"] == held["session"]
    assert calls_by_id["1767226200.201"]["status"] == "busy"
    assert calls_by_id["1767226800.301"]["status"] == "missed"
    assert calls_by_id["1767226800.301"]["tracking_number"] == STATIC_C
    assert calls_by_id["1767227400.401"]["status"] == "missed"


def test_once_file_replays_a_recorded_stream(
    engine: Engine, database_url: str, site: Seeded, tmp_path: Path
) -> None:
    integ = integration(engine, site)
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_SPOOL_DIR": str(tmp_path / "s")}
    args = ["asterisk", "listen", "--integration", integ, "--once-file"]
    result = CliRunner().invoke(app, [*args, str(FIXTURES / "busy.ami")], env=env)
    assert result.exit_code == 0, result.output
    assert "2 new call events stored" in result.output
    assert [r["status"] for r in rows(engine).values()] == ["busy"]


def test_a_mixmonitor_file_is_kept_as_a_reference(
    engine: Engine, database_url: str, site: Seeded, tmp_path: Path
) -> None:
    """recorded.ami: an answered call FreePBX recorded; the path becomes the call's
    recording reference, which the recordings worker keeps and never fetches."""
    integ = integration(engine, site)
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_SPOOL_DIR": str(tmp_path / "s")}
    args = ["asterisk", "listen", "--integration", integ, "--once-file"]
    outputs = []
    for _ in range(2):  # a replay stores nothing twice
        result = CliRunner().invoke(app, [*args, str(FIXTURES / "recorded.ami")], env=env)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert "4 new call events stored" in outputs[0]  # started, answered, recording, ended
    assert "0 new call events stored" in outputs[1]
    assert count(engine) == 4
    call = rows(engine)["1767229800.801"]
    assert (call["status"], call["tracking_number"]) == ("answered", STATIC_B)
    assert call["recording_url"] == (
        "file:///var/spool/asterisk/monitor/2026/01/01/"
        "in-74957770102-79037778899-20260101-011000-1767229800.801.wav"
    )
    recordings.discover(engine, 0.0, time.time())
    with engine.connect() as conn:
        kept = conn.execute(select(recordings_table)).one()._mapping
    assert (kept["call_id"], kept["state"]) == (call["id"], "reference")
    assert kept["source_url"] == call["recording_url"]


def test_an_office_phone_calling_a_missed_caller_back_is_a_call_out(
    engine: Engine, database_url: str, site: Seeded, tmp_path: Path
) -> None:
    """caller_hangup.ami: a caller gives up on the pool number; call_out.ami: extension 101
    (from-internal) dials them (8 926 …) through the trunk and they answer; outbound.ami:
    it dials one of the tracking numbers, a test call and no call out."""
    integ = integration(engine, site)
    stream = tmp_path / "stream.ami"
    stream.write_bytes(recorded("caller_hangup", "call_out", "outbound"))
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_SPOOL_DIR": str(tmp_path / "s")}
    args = ["asterisk", "listen", "--integration", integ, "--once-file", str(stream)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "5 new call events stored" in result.output  # 2 of the call in, 3 of the call out
    stored = rows(engine)
    assert set(stored) == {"1767227400.401", "1767227700.501"}
    missed, out = stored["1767227400.401"], stored["1767227700.501"]
    assert (missed["direction"], missed["status"]) == ("inbound", "missed")
    assert (out["direction"], out["caller"], out["tracking_number"]) == (
        "outbound",
        "+79265554433",
        "+74951096375",  # the line the trunk showed
    )
    assert (out["status"], out["match_method"], out["session_id"]) == ("answered", "outbound", None)
    leads = classified_leads(engine)
    assert leads[out["id"]]["kind"] == "outbound"
    assert not any(leads[out["id"]][v] for v in ("first_time", "target", "missed", "lost"))
    back = leads[missed["id"]]
    assert back["missed"] and not back["lost"]
    assert back["called_back_after"] == pytest.approx(0, abs=30)  # dated on our clock


def test_misconfiguration_exits_with_2(
    engine: Engine, database_url: str, site: Seeded, tmp_path: Path, secret_file: Path
) -> None:
    # A real process each time, as a user runs it (an in-process runner would share the
    # test worker's event loop state).
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CALLPATH_")},
        "CALLPATH_DATABASE_URL": database_url,
        "CALLPATH_SPOOL_DIR": str(tmp_path / "s"),
    }
    integ = integration(engine, site)

    def listen(*extra: str, integration_id: str = integ) -> tuple[int, str]:
        argv = ["asterisk", "listen", "--integration", integration_id, "--username", USER]
        done = subprocess.run(
            [sys.executable, "-m", "callpath", *argv, *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.returncode, done.stdout + done.stderr

    assert listen(integration_id="int_nope")[0] == 2
    code, out = listen(integration_id=integration(engine, site, "generic"))
    assert code == 2 and "not 'asterisk'" in out
    code, out = listen()
    assert code == 2 and "CALLPATH_AMI_SECRET" in out
    with socket.socket() as closed:  # bound, never listening: the connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        code, out = listen("--port", str(port), "--secret-file", str(secret_file))
    assert code == 2 and "cannot connect" in out, out
    with FakeAsterisk(b"", secret="another") as pbx:
        code, out = listen("--port", str(pbx.port), "--secret-file", str(secret_file))
    assert code == 2 and "Authentication failed" in out
