"""A server process of a test or a benchmark (`callpath serve`, or a reference app):
started in a session of its own, waited for until `/healthz` answers, and stopped as a
service manager stops one (SIGTERM, then SIGKILL). The tests' `helpers.ServerProcess` and
the benchmarks' servers are this."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Self

HOST = "127.0.0.1"


class Served:
    def __init__(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        port: int,
        log: Path,
        *,
        ready: tuple[int, ...] = (200,),
        start_within: float = 60.0,
        stop_within: float = 40.0,
    ) -> None:
        """`ready`: the /healthz answers that mean it is up (a server whose database is
        down answers 503); `stop_within`: how long SIGTERM is given before SIGKILL."""
        self.name, self.cmd, self.env, self.port, self.log = name, cmd, env, port, log
        self.url = f"http://{HOST}:{port}"
        self._ready, self._start_within, self._stop_within = ready, start_within, stop_within
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    def start(self) -> Self:
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches the test or benchmark; it stops us
        )
        deadline = time.monotonic() + self._start_within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self._log_tail()}")
            if self._health() in self._ready:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self._log_tail()}")

    def _health(self) -> int | None:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as refused:
            return refused.code
        except (urllib.error.URLError, OSError):
            return None

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=self._stop_within)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._out is not None:
            self._out.close()
            self._out = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
