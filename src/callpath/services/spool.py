"""A durable spool of call events received while the database was unreachable.

One file per delivery, written to a temporary name, flushed to disk and renamed, so a
crash leaves either a whole record or none. Workers claim a file by renaming it (only one
rename wins), apply it to the database, then delete it; a claim left by a worker that
died is taken back after `stale_after` seconds.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SUFFIX = ".event"
_CLAIM = ".claim"


class Spool:
    def __init__(self, directory: Path, stale_after: float = 120.0) -> None:
        self.directory = directory
        self._stale_after = stale_after

    def put(self, record: dict[str, Any]) -> Path:
        # Events carry callers' numbers: the folder is its owner's alone.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{time.time():.6f}-{secrets.token_hex(4)}"
        tmp = self.directory / (name + ".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False)
            out.flush()
            os.fsync(out.fileno())
        final = self.directory / (name + _SUFFIX)
        tmp.rename(final)
        _sync_dir(self.directory)
        return final

    def pending(self) -> int:
        if not self.directory.is_dir():
            return 0
        return sum(1 for _ in self.directory.glob("*" + _SUFFIX))

    def claim(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Yield claimed records oldest first; the caller calls `done` or `release`."""
        if not self.directory.is_dir():
            return
        self._reclaim_stale()
        for path in sorted(self.directory.glob("*" + _SUFFIX)):
            claimed = path.with_name(f"{path.name}.{os.getpid()}{_CLAIM}")
            try:
                path.rename(claimed)
            except FileNotFoundError:
                continue  # another worker took it
            try:
                record = json.loads(claimed.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                claimed.rename(claimed.with_name(path.name + ".broken"))
                continue
            yield claimed, record

    def done(self, claimed: Path) -> None:
        claimed.unlink(missing_ok=True)

    def release(self, claimed: Path) -> None:
        original = claimed.name.split(_SUFFIX + ".", 1)[0] + _SUFFIX
        claimed.rename(claimed.with_name(original))

    def _reclaim_stale(self) -> None:
        cutoff = time.time() - self._stale_after
        for claimed in self.directory.glob("*" + _CLAIM):
            try:
                if claimed.stat().st_mtime < cutoff:
                    self.release(claimed)
            except FileNotFoundError:
                continue


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
