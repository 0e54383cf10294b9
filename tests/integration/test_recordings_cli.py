"""`callpath recordings fetch|prune` on the test database, against a recording server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from callpath.cli import app
from callpath.storage.tables import recordings as recordings_table
from tests.helpers import Seeded, seed_site
from tests.recording_fakes import WAV, Served, add_call, recording_server

runner = CliRunner()


@pytest.fixture
def served() -> Iterator[Served]:
    with recording_server() as s:
        yield s


def _env(database_url: str, folder: Path | None) -> dict[str, str]:
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_RECORDINGS_ALLOW_PRIVATE": "1"}
    if folder is not None:
        env["CALLPATH_RECORDINGS_DIR"] = str(folder)
    return env


def test_fetch_without_a_folder_explains_and_fails(database_url: str) -> None:
    result = runner.invoke(app, ["recordings", "fetch"], env=_env(database_url, None))
    assert result.exit_code == 2
    assert "CALLPATH_RECORDINGS_DIR" in result.output


def test_fetch_downloads_due_recordings_then_prune_keeps_fresh_ones(
    engine: Engine, database_url: str, served: Served, tmp_path: Path
) -> None:
    site: Seeded = seed_site(engine, pool_size=1)
    call = add_call(engine, site, "generic", served.url("/pbx/rec.wav"), time.time())
    env = _env(database_url, tmp_path)
    result = runner.invoke(app, ["recordings", "fetch"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 stored, 0 failed" in result.output
    with engine.connect() as conn:
        row = conn.execute(select(recordings_table).where(recordings_table.c.call_id == call)).one()
    assert (tmp_path / str(row.path)).read_bytes() == WAV
    again = runner.invoke(app, ["recordings", "fetch"], env=env)
    assert "0 stored, 0 failed" in again.output  # nothing due twice
    pruned = runner.invoke(app, ["recordings", "prune"], env=env)
    assert pruned.exit_code == 0 and "0 recordings past retention" in pruned.output
    assert (tmp_path / str(row.path)).exists()
