"""ARCHITECTURE.md tells a newcomer where everything is: its Layout names every package and
every module that exists, so a module added without a word there fails here."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "src" / "callpath"


def _layout() -> str:
    text = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
    return text.split("## Layout", 1)[1].split("\n## ", 1)[0]


def _named(word: str, text: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(word)}(?!\w)", text) is not None


def test_the_layout_names_every_package_and_module() -> None:
    layout = _layout()
    missing = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if "migrations" in relative.parts:
            continue  # Alembic's revisions: named as a set ("migrations")
        for package in relative.parts[:-1]:
            if not _named(f"{package}/", layout):
                missing.append(f"{package}/")
        if path.stem != "__init__" and not _named(path.stem, layout):
            missing.append(str(relative))
    assert sorted(set(missing)) == []


def test_a_missing_name_is_found() -> None:
    assert not _named("absent_module", "storage/ tables, db")
    assert not _named("db", "storage/ tables, dbcall")
    assert _named("db", "storage/ tables, db (engines)")
