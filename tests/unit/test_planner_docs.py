"""docs/planner.md documents every option of `callpath pool plan` and the page's routes."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from callpath.cli import app
from callpath.web import planner_page

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs/planner.md").read_text()


def test_every_option_is_documented() -> None:
    plan = get_command(app).commands["pool"].commands["plan"]  # type: ignore[attr-defined]
    options = {o for p in plan.params for o in p.opts if o.startswith("--")}
    assert "--site" in options and "--json" in options
    assert sorted(o for o in options if f"`{o}" not in DOC) == []


def test_every_page_route_is_documented() -> None:
    paths = {getattr(r, "path", "") for r in planner_page.router.routes}
    assert len(paths) == 2
    assert sorted(p for p in paths if f"`{p}`" not in DOC and f" {p}`" not in DOC) == []
