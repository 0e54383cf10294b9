"""The demo's history holds the raw events behind each call, so a call folded again (a
visit code entered on its page, the worker after a crash) keeps what its PBX said."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sqlalchemy import Engine, select, update

from callpath.services import calls as calls_service
from callpath.services import visit_codes
from callpath.storage.db import transaction
from callpath.storage.tables import call_events, calls, sessions

FACTS = (
    "caller",
    "tracking_number",
    "state",
    "status",
    "started_at",
    "answered_at",
    "ended_at",
    "talk",
    "wait",
    "direction",
    "site_id",
)


def _demo(database_url: str) -> None:
    env = {**os.environ, "CALLPATH_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "callpath", "demo"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def _facts(engine: Engine) -> dict[str, tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(select(calls.c.id, *(calls.c[f] for f in FACTS))).all()
    return {r.id: tuple(r[1:]) for r in rows}


def test_every_demo_call_folds_again_into_itself(engine: Engine, database_url: str) -> None:
    _demo(database_url)
    before = _facts(engine)
    with engine.connect() as conn:
        directions = set(conn.execute(select(calls.c.direction).distinct()).scalars())
    assert len(before) > 300 and directions == {"inbound", "outbound"}
    with transaction(engine) as conn:
        conn.execute(update(call_events).values(applied_at=None))
    folded = calls_service.apply_pending(engine, time.time, older_than=-1, limit=10_000)
    assert folded == len(before)
    assert _facts(engine) == before


def test_a_visit_code_entered_on_a_demo_call_keeps_its_caller_and_outcome(
    engine: Engine, database_url: str
) -> None:
    _demo(database_url)
    with transaction(engine) as conn:
        call = (
            conn.execute(
                select(calls)
                .where(calls.c.session_id.is_not(None), calls.c.status == "answered")
                .limit(1)
            )
            .mappings()
            .one()
        )
        conn.execute(
            update(sessions).where(sessions.c.id == call["session_id"]).values(visit_code="4821")
        )
    before = _facts(engine)[call["id"]]
    visit_codes.enter(engine, call["account_id"], call["id"], "4821", "owner", time.time)
    with engine.connect() as conn:
        after = conn.execute(select(calls).where(calls.c.id == call["id"])).mappings().one()
    assert tuple(after[f] for f in FACTS) == before
    assert after["match_method"] == "visit_code" and after["session_id"] == call["session_id"]


def test_the_demos_calls_export_for_metrica_and_google_ads(database_url: str) -> None:
    """The demo's visits carry Metrica's and GA's cookies and click ids, as a site with
    both counters and ads would: each export of the last 60 days has rows."""
    _demo(database_url)
    env = {**os.environ, "CALLPATH_DATABASE_URL": database_url}
    today = time.strftime("%Y-%m-%d", time.gmtime())
    period = ["--site", "demo", "--from", "2020-01-01", "--to", today]
    for command in (["metrica-calls"], ["google-ads", "--conversion-name", "Call"]):
        done = subprocess.run(
            [sys.executable, "-m", "callpath", "export", *command, *period],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        header = 2 if command[0] == "google-ads" else 1  # the time zone line first
        assert len(lines) > header + 5, (command, done.stdout[:300], done.stderr)
