"""`callpath pool plan`: recorded sessions, a trace, the demo site, and bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from callpath.cli import app
from callpath.services import tracking
from callpath.sim import generator, trace
from callpath.storage import site_repo
from callpath.storage.db import transaction
from callpath.storage.tables import pool_plans
from tests.helpers import Clock, Seeded, seed_site

runner = CliRunner()
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/133.0.0.0 Mobile Safari/537.36"
)
BOT = "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"


@pytest.fixture
def env(engine: Engine, database_url: str) -> dict[str, str]:
    return {"CALLPATH_DATABASE_URL": database_url}


def record(engine: Engine, seeded: Seeded, humans: int, bots: int = 0) -> None:
    """Visits through the tracker's own service functions, over the last two days."""
    with transaction(engine, write=False) as conn:
        site = site_repo.load_site_config(conn, site_id=seeded.site_id)
    assert site is not None
    clock = Clock(time.time() - 2 * 86_400)
    for i in range(humans + bots):
        ua = BOT if i < bots else PHONE
        url = (
            "https://shop.example/?utm_source=yandex&utm_medium=cpc"
            if i % 2
            else "https://shop.example/"
        )
        got = tracking.start_session(engine, site, tracking.Visit(url=url, user_agent=ua), clock)
        clock.advance(40 + i % 7 * 20)
        tracking.leave(engine, lambda _id: site, got.session, clock)
        clock.advance(600)


def test_plan_from_recorded_sessions(engine: Engine, env: dict[str, str]) -> None:
    site = seed_site(engine, pool_size=3)
    record(engine, site, humans=210, bots=4)
    result = runner.invoke(
        app, ["pool", "plan", "--site", site.key, "--sizes", "1,4", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["source"] == "recorded"
    assert plan["sessions"] == 210  # bots left out
    assert "drawn over them by the traffic model" in plan["note"]
    assert plan["calls"] > 0 and plan["thin"] is None
    assert [p["size"] for p in plan["points"]] == [1, 4]
    assert plan["recommended"] in (None, 1, 4)
    assert plan["erlang"]["sessions"] == 210 and plan["erlang"]["numbers"] >= 1
    assert "replaying with    4 numbers" in result.stderr
    with engine.connect() as conn:
        stored = conn.execute(select(pool_plans.c.status, pool_plans.c.result)).one()
    assert stored.status == "done" and stored.result["points"] == plan["points"]


def test_demo_site_gets_a_recommendation_on_stated_generated_traffic(
    engine: Engine, env: dict[str, str]
) -> None:
    assert runner.invoke(app, ["demo", "--no-history"], env=env).exit_code == 0
    result = runner.invoke(app, ["pool", "plan", "--site", "demo", "--sizes", "16"], env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "too thin to replay: 0 human visits in the last 7 days" in out
    assert "generated traffic, not the site's own: 100 visits/day" in out
    assert "size  correct ≤30 min" in out
    assert "Erlang: N = " in out
    assert "recommended: 16 pool numbers (the site has 5)" in out


def test_plan_searches_a_trace(engine: Engine, env: dict[str, str], tmp_path: Path) -> None:
    site = seed_site(engine, pool_size=2)
    header, events = generator.generate(300, 1, seed=3)
    path = tmp_path / "trace.jsonl"
    with path.open("w") as out:
        trace.write(out, header, events)
    result = runner.invoke(
        app, ["pool", "plan", "--site", site.key, "--trace", str(path), "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    sizes = [p["size"] for p in plan["points"]]
    assert plan["source"] == "trace" and 1 <= len(sizes) <= 10
    assert plan["recommended"] is None or plan["recommended"] in sizes
    if plan["recommended"] is not None:  # the smallest good size: the one below it is not
        below = [p for p in plan["points"] if p["size"] < plan["recommended"]]
        assert all(p["correct_30"] < 0.95 for p in below)


def _bad_trace(tmp_path: Path) -> Path:
    path = tmp_path / "quiet.jsonl"
    path.write_text(
        '{"type":"header","version":1,"start":"2026-03-02T00:00:00Z"}\n'
        '{"t":1,"type":"pageview","session":"s1","visitor":"v1","url":"https://a.example/"}\n'
    )
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "nope"], "no site nope"),
        (["--target", "1.5"], "target must be a number from 0.5 to 0.999"),
        (["--target", "0"], "target must be a number from 0.5 to 0.999"),
        (["--days", "0"], "days must be a number from 1 to 366"),
        (["--visits-per-day", "8e-269"], "visits per day must be a number from 1 to 50000"),
        (["--sizes", "2,x"], "sizes must be whole numbers"),
        (["--trace", "/nonexistent/t.jsonl"], "cannot read /nonexistent/t.jsonl"),
        (["--trace", "QUIET"], "too little data"),
    ],
)
def test_bad_input_exits_2_with_a_reason(
    engine: Engine, env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    site = seed_site(engine, pool_size=1)
    args = [str(_bad_trace(tmp_path)) if a == "QUIET" else a for a in args]
    if "--site" not in args:
        args = ["--site", site.key, *args]
    result = runner.invoke(app, ["pool", "plan", *args], env=env)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
