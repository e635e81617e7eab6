"""Helpers for driving the dashboard in the test browser: waits, typing, screenshots."""

from __future__ import annotations

import io
from pathlib import Path

WAIT = 20  # seconds a condition may take before the test fails
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def launch_chromium(profile: Path):
    """A headless Debian Chromium driven through its chromedriver; ``None`` when missing."""
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")  # a fresh profile
    options.add_argument("--window-size=1280,900")
    return webdriver.Chrome(service=Service(driver_path), options=options)


def wait_for(browser, condition, message: str = ""):
    """What *condition(browser)* returns once it is truthy (it is re-checked as the page changes)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # an element found just before the page reloads is stale: look again
    wait = WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(condition, message)


def find(browser, css: str):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, css)


def find_all(browser, css: str):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, css)


def by_label(browser, label: str):
    """The control whose accessible name is *label* (its <label> or aria-label).

    Live parts of a page are swapped while it is searched: a control that went stale is looked
    for again in the page as it is now.
    """
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(5):
        try:
            for node in find_all(browser, "input, textarea, select, button"):
                if node.accessible_name == label:
                    return node
            break
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"no control named {label!r}")


def open_chat(browser, server, session: dict, creature: str = "root") -> None:
    """Open the chat page of *session* and wait until its socket is connected."""
    browser.get(f"{server.url}/chat/{session['session_id']}/{creature}")
    wait_for(browser, lambda b: find(b, "#chat-form").get_attribute("data-connected") == "true")


def send(browser, text: str) -> None:
    """Type *text* in the Message box and press Send."""
    box = by_label(browser, "Message")
    box.clear()
    box.send_keys(text)
    by_label(browser, "Send").click()


def finished_reply(browser, count: int = 1):
    """The *count*-th assistant reply once its turn has ended."""

    def done(b):
        replies = find_all(b, "#transcript li.msg.assistant[data-status]")
        return replies[count - 1] if len(replies) >= count else False

    return wait_for(browser, done, "the reply did not finish")


def screenshot(browser, folder: Path, name: str) -> Path:
    """Save a screenshot of the page and check that it is not blank.

    Not blank: the page draws in several colours, and a fair share of its pixels differ from
    the most common one (the background).
    """
    from PIL import Image

    png = browser.get_screenshot_as_png()
    path = folder / f"{name}.png"
    path.write_bytes(png)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 8, f"{name}: the page is (nearly) one colour"
    background = max(count for count, _ in colours)
    drawn = 1 - background / (image.width * image.height)
    assert drawn > 0.005, f"{name}: only {drawn:.2%} of the page is drawn"
    return path
