"""What a first visitor would otherwise load on the event loop is loaded at start-up.

The user-agent rules and the country table load on first use (about half a second): at
the first visitor after a restart, on the event loop, where every answer (routing
included) waited for it. A fresh process, so nothing another test loaded counts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import Engine

CHECK = textwrap.dedent(
    """
    import sys
    import ua_parser
    from fastapi.testclient import TestClient
    from callpath import settings
    from callpath.services import enrich
    from callpath.web.app import create_app

    app = create_app(settings.load({"CALLPATH_DATABASE_URL": sys.argv[1],
                                    "CALLPATH_SPOOL_DIR": sys.argv[2]}))
    before = ("parser" in vars(ua_parser), enrich.geo.loaded)
    with TestClient(app):  # start-up, no request
        after = ("parser" in vars(ua_parser), enrich.geo.loaded)
    print(before, after)
    """
)


def test_the_app_loads_the_user_agent_rules_and_the_country_table_before_serving(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, database_url, str(tmp_path / "spool")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "(False, False) (True, True)"
