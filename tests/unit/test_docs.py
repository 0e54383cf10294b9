"""Every setting and tracker endpoint is documented."""

import re
from pathlib import Path

from callpath.settings import load
from callpath.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    code = (ROOT / "src/callpath/settings.py").read_text()
    names = set(re.findall(r'"(CALLPATH_[A-Z_]+)"', code))
    doc = (ROOT / "docs/configuration.md").read_text()
    assert names, "no settings found"
    assert sorted(n for n in names if f"`{n}`" not in doc) == []


def test_every_tracker_endpoint_is_documented(tmp_path: Path) -> None:
    doc = (ROOT / "docs/tracker-protocol.md").read_text()
    app = create_app(load({"CALLPATH_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"}))
    paths = {p for p in app.openapi()["paths"] if p.startswith("/t/v1/")}
    assert len(paths) == 4
    assert sorted(p for p in paths if f"`POST {p}`" not in doc) == []


def test_every_api_and_hook_endpoint_is_documented(tmp_path: Path) -> None:
    docs = "".join(
        (ROOT / "docs" / f).read_text() for f in ("api.md", "webhooks.md", "telephony.md")
    )
    app = create_app(load({"CALLPATH_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"}))
    paths = [p for p in app.openapi()["paths"] if p.startswith(("/api/", "/hooks/"))]
    assert len(paths) >= 8
    undocumented = [
        p for p in paths if p not in docs and p.replace("{integration_id}", "") not in docs
    ]
    assert undocumented == []
