"""Real headless Chromium against the real `callpath serve`, on host pages of our own.

The host pages live on another origin (``http://www.shop.test:PORT``, mapped to loopback by
a Chromium host-resolver rule) than callpath (``http://127.0.0.1:PORT``), exactly as on a
customer's site.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright
from sqlalchemy import Engine

from tests.browser.shop import HOST, HostSite, Tab, watch
from tests.conftest import make_test_database, open_engine
from tests.helpers import ServerProcess, free_port

DESKTOP_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    """The browser tests' own database: their shared server lives for the whole session,
    and its apply process and call worker fold whatever calls appear in its database, so
    in the other tests' database they would race the code under test."""
    return make_test_database(tmp_path_factory, f"callpath_test_{worker_id}_browser")


@pytest.fixture(scope="session")
def _engine(database_url: str) -> Iterator[Engine]:
    """As the root fixture, but on this folder's `database_url` (a session fixture made
    for another test's database would otherwise be reused here)."""
    yield from open_engine(database_url)


@pytest.fixture(scope="session")
def _shared_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("browser-server") / "server.log"
    with ServerProcess(database_url, free_port(), log) as proc:
        yield proc


@pytest.fixture
def server(engine: Any, _shared_server: ServerProcess) -> ServerProcess:
    """One `callpath serve` per test worker for all browser tests: it keeps no state of
    its own (site settings are read fresh on every request), and `engine` wipes the
    database before each test."""
    return _shared_server


@pytest.fixture
def host() -> Iterator[HostSite]:
    site = HostSite()
    yield site
    site.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """A fresh context per visitor; all closed at the end of the test."""
    made: list[BrowserContext] = []

    def make(**kwargs: Any) -> BrowserContext:
        # Headless Chromium says "HeadlessChrome", which callpath treats as a bot (no pool
        # number); the visitors in these tests are people, with a desktop Chrome's UA.
        kwargs.setdefault("user_agent", DESKTOP_CHROME)
        ctx = browser.new_context(**kwargs)
        ctx.set_default_timeout(15_000)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def new_tab(new_context: Callable[..., BrowserContext]) -> Callable[..., Tab]:
    def make(context: BrowserContext | None = None) -> Tab:
        return watch((context or new_context()).new_page())

    return make
