"""Headless Chromium for the browser tests and `bench/ui.py`: Debian's `chromium` and
`chromium-driver`, installed with apt-get when missing (`python -m devservices prepare`).

Selenium is pointed at /usr/bin/chromedriver, so it downloads nothing. A browser that cannot
start raises: CI fails, it never skips.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from devservices.services import apt_install

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ["chromium", "chromium-driver"]


def ensure_chromium(chromium: Path = CHROMIUM, chromedriver: Path = CHROMEDRIVER) -> tuple[str, str]:
    """Paths of chromium and chromedriver; apt-get installs Debian's packages when either is missing."""
    if not (chromium.exists() and chromedriver.exists()):
        apt_install(PACKAGES)
    if not (chromium.exists() and chromedriver.exists()):
        raise RuntimeError(f"apt-get ran but {chromium} or {chromedriver} is still missing")
    return str(chromium), str(chromedriver)


def headless_chromium(download_dir: Path | None = None, width: int = 1400, height: int = 1000,
                      chromium: Path = CHROMIUM, chromedriver: Path = CHROMEDRIVER) -> Chrome:
    """A headless Chromium under Selenium; `RuntimeError` when the browser is missing or does not start."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    if not (chromium.exists() and chromedriver.exists()):
        raise RuntimeError(f"{chromium} or {chromedriver} missing: run `python -m devservices prepare` "
                           f"(apt-get install -y {' '.join(PACKAGES)})")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--disable-extensions", "--no-first-run", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        # SE_OFFLINE: Selenium Manager never goes to the network for a driver.
        driver = webdriver.Chrome(service=Service(str(chromedriver), env={**os.environ, "SE_OFFLINE": "true"}),
                                  options=options)
    except WebDriverException as exc:
        raise RuntimeError(f"headless chromium did not start: {exc.msg}") from exc
    if download_dir is not None:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": str(download_dir), "eventsEnabled": True})
    return driver
