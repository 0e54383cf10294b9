"""A throwaway PostgreSQL server on 127.0.0.1, for the tests, the benchmarks and
scripts/test alike (one copy of how to make, start, kill and delete one).

    python -m tests.throwaway_pg start        # prints "DIR URL" of a running server
    python -m tests.throwaway_pg remove DIR   # stops it at once and deletes it

Run as root, the server runs as the `postgres` user (initdb refuses root). Durability is
off (`fsync=off`): nothing here outlives its run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

HOST = "127.0.0.1"
MAX_CONNECTIONS = 300  # the suites' parallel workers and the benchmarks' pools


def postgres_bin() -> Path | None:
    """The newest server's binaries: Debian keeps them out of PATH."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")]
    return max(found, key=_version) if found else None


def _version(bindir: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in bindir.parent.name.split("."))
    except ValueError:
        return (0,)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class PgCluster:
    """A new cluster in a temporary folder (made here: initdb), started by `start`,
    killed as a crash would (`kill`: it may be started again), stopped cleanly (`stop`),
    and deleted with its folder (`remove`)."""

    def __init__(self, directory: Path | None = None) -> None:
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError(
                "PostgreSQL server binaries not installed (scripts/test installs them)"
            )
        self.bindir = bindir
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        made = directory is None
        self.dir = Path(tempfile.mkdtemp(prefix="callpath-pg-")) if made else Path(directory)
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://callpath@{HOST}:{self.port}/postgres"
        if made:
            if self._as:
                shutil.chown(self.dir, "postgres", "postgres")
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "callpath",
                "-E",
                "UTF8",
                "--no-sync",
            )

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bindir / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C of the caller reaches the caller only
        )

    def start(self) -> str:
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses={HOST} -c fsync=off "
            f"-c max_connections={MAX_CONNECTIONS}"
        )
        log = str(self.dir / "log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-o", opts, "start")
        return self.url

    def kill(self) -> None:
        """Stop at once, as a crash would: no checkpoint, connections cut."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")

    def stop(self) -> None:
        """Stop cleanly (waiting for connections to go, at most 30 s), keep the folder."""
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def postmaster_pid(self) -> int:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return 0


def main(argv: list[str]) -> int:
    if argv == ["start"]:
        cluster = PgCluster()
        try:
            url = cluster.start()
        except BaseException:
            cluster.remove()
            raise
        print(cluster.dir, url)
        return 0
    if len(argv) == 2 and argv[0] == "remove":
        PgCluster(Path(argv[1])).remove()
        return 0
    print("usage: python -m tests.throwaway_pg start | remove DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
