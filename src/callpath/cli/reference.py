"""The command reference (docs/cli.md), made from the commands' own `--help`.

    python -m callpath.cli.reference > docs/cli.md

`tests/unit/test_cli_reference.py` fails when docs/cli.md is not what this writes, so the
reference cannot drift from the commands.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer import rich_utils
from typer.testing import CliRunner

from callpath.cli.main import app

WIDTH = 100
HEADER = """# Command reference

Every `callpath` command with its `--help`, as the command prints it. Made by
`python -m callpath.cli.reference > docs/cli.md`; a test fails when this file is stale.
The environment the commands read (`CALLPATH_DATABASE_URL` and the rest) is in
[configuration.md](configuration.md).
"""


def commands() -> Iterator[list[str]]:
    """Every command's words after `callpath`, the root first, depth first, in the
    order `--help` lists them."""
    root = typer.main.get_command(app)
    yield from _walk(root, [])


def _walk(command: Any, words: list[str]) -> Iterator[list[str]]:
    yield words
    if hasattr(command, "list_commands"):  # a group (Typer's own click: duck-typed)
        ctx = command.context_class(command, info_name=" ".join(["callpath", *words]))
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, [*words, name])


def help_text(words: list[str]) -> str:
    with _plain_help():
        result = CliRunner().invoke(app, [*words, "--help"], prog_name="callpath")
    if result.exit_code != 0:
        raise RuntimeError(f"callpath {' '.join(words)} --help failed: {result.output}")
    lines = [line.rstrip() for line in result.output.splitlines()]
    return "\n".join(lines).strip("\n")


@contextmanager
def _plain_help() -> Iterator[None]:
    """Help drawn the same whatever the terminal: Typer reads its width and colour
    settings from the environment once, at import, so they are set here for the while."""
    saved = (rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL, rich_utils.COLOR_SYSTEM)
    rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL, rich_utils.COLOR_SYSTEM = WIDTH, False, None
    try:
        yield
    finally:
        rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL, rich_utils.COLOR_SYSTEM = saved


def markdown() -> str:
    parts = [HEADER]
    for words in commands():
        parts.append(f"## callpath {' '.join(words)}".rstrip() + "\n")
        parts.append(f"```text\n{help_text(words)}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(markdown())
