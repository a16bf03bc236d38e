"""A real uvicorn server on the embedded store with the seeded world (`tests/support/ui_world`)
and headless Chromium under Selenium (`devservices/browser.py`).

Every test page collects Content-Security-Policy violations (`securitypolicyviolation`) into
`window.__csp`; the `page` fixture asserts none were reported. A browser that cannot start
fails the run: `browser` raises, never skips.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devservices.browser import headless_chromium
from tests.support.launchers import ApiServer
from tests.support.ui_world import UiWorld, serving

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, UiWorld, Path]]:
    tmp = tmp_path_factory.mktemp("ui")
    with serving(tmp) as (server, seeded):
        yield server, seeded, tmp


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def browser(downloads: Path) -> Iterator[Any]:
    driver = headless_chromium(downloads)
    # Before any script of the page runs: every CSP violation lands in window.__csp.
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")})
    yield driver
    driver.quit()


@pytest.fixture
def page(browser: Any, world: tuple[ApiServer, UiWorld, Path], request: pytest.FixtureRequest) -> Iterator[Any]:
    """The browser on a fresh /ui/ (no key in this tab); after the test, a screenshot and no CSP violation."""
    server = world[0]
    browser.get(f"{server.url}/ui/")
    browser.execute_script("sessionStorage.clear(); localStorage.clear();")
    browser.get(f"{server.url}/ui/")
    yield browser
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / f"{request.node.name}.png"))
    violations = browser.execute_script("return window.__csp")
    assert violations == [], violations
