"""docs/cli.md is the commands' own `--help`: it fails here when a command, an option or
a help text changed without the reference being made again."""

from __future__ import annotations

from pathlib import Path

import callpath
from callpath.cli import reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_docs_cli_md_is_what_the_commands_say() -> None:
    assert DOC.read_text(encoding="utf-8") == reference.markdown(), (
        "docs/cli.md is stale: python -m callpath.cli.reference > docs/cli.md"
    )


def test_the_reference_covers_every_command_group_and_its_commands() -> None:
    words = {" ".join(command) for command in reference.commands()}
    assert {"number add", "number retire", "integration disable", "user list"} <= words
    text = reference.markdown()
    for command in words:
        assert f"## callpath {command}".rstrip() in text
    assert "Usage: callpath integration enable" in text


def test_the_reference_does_not_depend_on_where_callpath_is_installed() -> None:
    """A default shown as the install folder's path would differ on every checkout."""
    installed = str(Path(callpath.__file__).resolve().parent.parent)
    assert installed not in reference.markdown()
