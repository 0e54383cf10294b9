"""Fixtures the call webhook tests share; a test file that needs another site defines its
own `site`, and `hook` then follows it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.helpers import Hook, Seeded, add_hook, seed_site


@pytest.fixture
def site(engine: Engine) -> Seeded:
    """A site with a default number and two pool numbers."""
    return seed_site(engine, pool_size=2)


@pytest.fixture
def hook(engine: Engine, site: Seeded) -> Hook:
    """A generic webhook integration of `site`."""
    return add_hook(engine, site)
