"""The apply process's heartbeat: a file whose modification time says it is alive.

The apply process (`workers.applier`) beats; the processes that would otherwise fold
calls themselves (the web processes' call workers, the Asterisk listener) read it. A
library, so that they need not import the process.
"""

from __future__ import annotations

import time
from pathlib import Path

HEARTBEAT_FILE = "applier.alive"
BEAT_EVERY = 1.0  # seconds between heartbeats
ALIVE_WITHIN = 5.0  # a heartbeat older than this: no applier (the web process folds)


def heartbeat_path(spool_dir: Path) -> Path:
    """Where the applier serving this spool folder's web processes shows it is alive."""
    return spool_dir / HEARTBEAT_FILE


def beat(path: Path) -> None:
    """Show the applier is alive (the file's modification time is the heartbeat)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch()


def alive(path: Path | None, within: float = ALIVE_WITHIN) -> bool:
    """Whether an applier beat within `within` seconds (wall clock, as file times are)."""
    if path is None:
        return False
    try:
        return time.time() - path.stat().st_mtime <= within
    except OSError:
        return False
