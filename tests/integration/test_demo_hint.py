"""The demo page's "simulate a call" command reaches the server the page came from."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from callpath.cli import app as cli_app

runner = CliRunner()


@pytest.fixture
def demo(engine: Engine, database_url: str) -> None:
    seeded = runner.invoke(
        cli_app, ["demo", "--no-history"], env={"CALLPATH_DATABASE_URL": database_url}
    )
    assert seeded.exit_code == 0, seeded.output


def _command(app: Any, base_url: str) -> str:
    page = TestClient(app, base_url=base_url).get("/demo")
    assert page.status_code == 200
    return page.text.split('<code id="simulate">', 1)[1].split("</code>", 1)[0]


@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize(
    ("served_from", "option"),
    [
        ("http://127.0.0.1:8000", ""),
        ("http://localhost:8000", ""),
        ("http://127.0.0.1:8080", "--server http://127.0.0.1:8080 "),
        ("https://calls.shop.example", "--server https://calls.shop.example "),
    ],
)
def test_the_command_names_the_server_unless_it_is_the_default(
    app: Any, served_from: str, option: str
) -> None:
    command = _command(app, served_from)
    assert command.startswith(f".venv/bin/callpath call simulate {option}--to ")
