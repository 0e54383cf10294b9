"""Fixtures the call webhook tests share; a test file that needs another site defines its
own `site`, and `hook` then follows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from callpath import settings as settings_mod
from callpath.web.app import create_app
from tests.helpers import Hook, Seeded, add_hook, seed_site


@pytest.fixture
def site(engine: Engine) -> Seeded:
    """A site with a default number and two pool numbers."""
    return seed_site(engine, pool_size=2)


@pytest.fixture
def hook(engine: Engine, site: Seeded) -> Hook:
    """A generic webhook integration of `site`."""
    return add_hook(engine, site)


@pytest.fixture
def app(engine: Engine, database_url: str, tmp_path: Path) -> Any:
    """The web app on the test database, its spool in the test's folder, sites read
    afresh on every request (a test file that needs other settings defines its own)."""
    env = {
        "CALLPATH_DATABASE_URL": database_url,
        "CALLPATH_SPOOL_DIR": str(tmp_path),
        "CALLPATH_SITE_CACHE_SECONDS": "0",
    }
    return create_app(settings_mod.load(env))


@pytest.fixture
def client(app: Any) -> TestClient:
    """`app` without its lifespan (no call worker): requests only."""
    return TestClient(app, raise_server_exceptions=False)
