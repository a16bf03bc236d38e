"""A missing browser fails the browser tests: the launcher raises, it never skips."""

from __future__ import annotations

from pathlib import Path

import pytest

from devservices import browser


def test_a_missing_chromium_raises_rather_than_skips(tmp_path: Path) -> None:
    missing = tmp_path / "chromium"
    with pytest.raises(RuntimeError, match="devservices prepare"):
        browser.headless_chromium(chromium=missing, chromedriver=tmp_path / "chromedriver")


def test_a_missing_chromium_is_installed_with_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given apt-get that "installs" by creating the two binaries
    chromium, driver = tmp_path / "chromium", tmp_path / "chromedriver"
    asked: list[list[str]] = []

    def apt_install(packages: list[str]) -> None:
        asked.append(list(packages))
        chromium.touch()
        driver.touch()

    monkeypatch.setattr(browser, "apt_install", apt_install)
    # then the packages are Debian's, asked for once, and the paths come back
    assert browser.ensure_chromium(chromium, driver) == (str(chromium), str(driver))
    assert browser.ensure_chromium(chromium, driver) == (str(chromium), str(driver))
    assert asked == [["chromium", "chromium-driver"]]


def test_apt_that_installs_nothing_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "apt_install", lambda packages: None)
    with pytest.raises(RuntimeError, match="still missing"):
        browser.ensure_chromium(tmp_path / "chromium", tmp_path / "chromedriver")
