"""Selenium helpers for Home Assistant's frontend: a headless Debian Chromium, queries that
reach into shadow roots (the frontend is web components all the way down), the login page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import shutil
import time
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webelement import WebElement

WAIT_S = 30.0
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)

# Every element matching a CSS selector, in the document and in every shadow root under it.
DEEP_QUERY_JS = """
const [selector, root] = arguments;
const found = [];
const walk = (node) => {
  if (node.querySelectorAll) found.push(...node.querySelectorAll(selector));
  const all = node.querySelectorAll ? node.querySelectorAll('*') : [];
  for (const el of all) if (el.shadowRoot) walk(el.shadowRoot);
  if (node.shadowRoot) walk(node.shadowRoot);
};
walk(root || document);
return [...new Set(found)];
"""
# The visible text of the page, shadow roots included (innerText stops at them).
DEEP_TEXT_JS = """
const parts = [];
const walk = (node) => {
  for (const child of node.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) {
      const t = child.textContent.trim();
      if (t) parts.push(t);
    } else if (child.nodeType === Node.ELEMENT_NODE) {
      const style = getComputedStyle(child);
      if (style.display === 'none' || style.visibility === 'hidden') continue;
      if (child.shadowRoot) walk(child.shadowRoot);
      walk(child);
    }
  }
};
const root = arguments[0] || document.body;
if (root.shadowRoot) walk(root.shadowRoot);
walk(root);
return parts.join('\\n');
"""


def chromium_paths() -> tuple[str, str] | None:
    """Debian's chromium and chromedriver, or None where they are not installed."""
    browser = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def start_browser(profile: Path) -> webdriver.Chrome:
    paths = chromium_paths()
    assert paths is not None, "chromium and chromedriver: run scripts/setup-browser"
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=paths[1]))


def deep(
    driver: webdriver.Chrome, selector: str, root: WebElement | None = None
) -> list[WebElement]:
    result: list[WebElement] = driver.execute_script(DEEP_QUERY_JS, selector, root)
    return result


def deep_text(driver: webdriver.Chrome, root: WebElement | None = None) -> str:
    text: str = driver.execute_script(DEEP_TEXT_JS, root)
    return text


def wait_for[T](what: str, probe: Callable[[], T | None], timeout: float = WAIT_S) -> T:
    """Poll the page until probe() gives something truthy (the page renders asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def wait_for_text(driver: webdriver.Chrome, *texts: str, timeout: float = WAIT_S) -> str:
    def probe() -> str | None:
        text = deep_text(driver)
        return text if all(t in text for t in texts) else None

    try:
        return wait_for(f"{texts} on the page", probe, timeout)
    except AssertionError as err:
        raise AssertionError(f"{err}; the page shows:\n{deep_text(driver)[:3000]}") from None


def fill(driver: webdriver.Chrome, element: WebElement, value: str) -> None:
    """Type into an input inside a web component, as the user's typing would."""
    driver.execute_script(
        "const el = arguments[0]; el.focus(); el.value = arguments[1];"
        "el.dispatchEvent(new Event('input', {bubbles: true, composed: true}));"
        "el.dispatchEvent(new Event('change', {bubbles: true, composed: true}));",
        element,
        value,
    )


def log_in(driver: webdriver.Chrome, url: str, username: str, password: str) -> None:
    """Through the login page, as a person."""
    driver.get(url)
    inputs = wait_for(
        "the login form",
        lambda: [
            i for i in deep(driver, "input") if i.get_attribute("type") in ("text", "password")
        ],
    )
    by_type = {i.get_attribute("type"): i for i in inputs}
    fill(driver, by_type["text"], username)
    fill(driver, by_type["password"], password)
    buttons = [
        b for b in deep(driver, "ha-button, mwc-button, button") if "Log in" in (b.text or "")
    ]
    assert buttons, deep_text(driver)
    buttons[0].click()
    wait_for("the frontend after logging in", lambda: deep(driver, "home-assistant-main"))


def console_errors(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
