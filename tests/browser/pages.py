"""What an investigator does on the page, as steps the browser tests share."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from tests.support.settings import KEYS

WAIT_S = 15


def wait(driver: Any, condition: Any, timeout: float = WAIT_S) -> Any:
    return WebDriverWait(driver, timeout).until(condition)


def visible(driver: Any, css: str) -> Any:
    return wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def text_is(driver: Any, css: str, text: str) -> None:
    wait(driver, ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))


def log_in(driver: Any, scope: str = "admin") -> None:
    """Log in with the test key of `scope` (or `scope` itself as the key)."""
    visible(driver, "#key-input").send_keys(KEYS.get(scope, scope))
    driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    visible(driver, "#queue tbody tr")


def open_first_ring(driver: Any) -> str:
    ring_id: str = driver.find_element(By.CSS_SELECTOR, "#queue tbody tr").get_attribute("data-ring")
    driver.find_element(By.CSS_SELECTOR, "#queue tbody tr a").click()
    visible(driver, "#members tbody tr")
    wait(driver, lambda d: d.find_element(By.ID, "graph").get_attribute("data-accounts") not in (None, "", "0"))
    return ring_id


def graph_counts(driver: Any) -> dict[str, int]:
    data = driver.find_element(By.ID, "graph")
    return {k: int(data.get_attribute(f"data-{k}") or 0)
            for k in ("accounts", "identifiers", "others", "hubs", "edges", "visible-nodes", "visible-edges")}


def answer(driver: Any, check: bool = False, value: str | None = None) -> None:
    """Answer the open question dialog with OK (ticking its box, typing `value`)."""
    visible(driver, "#ask-ok")
    if check:
        driver.find_element(By.ID, "ask-check").click()
    if value is not None:
        field = driver.find_element(By.ID, "ask-input")
        field.clear()
        field.send_keys(value)
    driver.find_element(By.ID, "ask-ok").click()
    wait(driver, lambda d: not d.find_element(By.ID, "ask").get_attribute("open"))
