"""Every file the package reads at run time is shipped in its wheel, not only found in a
source checkout (an editable install would hide a missing `package-data` pattern)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "callpath"


def _patterns() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns: list[str] = config["tool"]["setuptools"]["package-data"]["callpath"]
    return patterns


def _data_files() -> list[str]:
    """Files that are not Python modules, except the adapters' test fixtures."""
    found = []
    for path in PACKAGE.rglob("*"):
        rel = path.relative_to(PACKAGE).as_posix()
        if not path.is_file() or "__pycache__" in rel or "/fixtures/" in rel:
            continue
        if path.suffix != ".py":
            found.append(rel)
    return sorted(found)


def test_every_data_file_of_the_package_is_in_its_package_data() -> None:
    patterns = _patterns()
    missing = [f for f in _data_files() if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert missing == []


def test_the_kamailio_template_is_one_of_them() -> None:
    from callpath.cli import sip as cli_sip

    assert cli_sip.TEMPLATE.is_file()
    assert cli_sip.TEMPLATE.resolve().is_relative_to(PACKAGE)
