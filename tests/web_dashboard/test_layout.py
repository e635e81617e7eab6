"""Every page at 375 px and on a desktop, in light and dark themes, and by keyboard alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from browsing import by_label, find, finished_reply, open_chat, screenshot, wait_for
from kt_web_helpers import start_creature

PHONE = (375, 812)
DESKTOP = (1280, 900)


@pytest.fixture(scope="module")
def pages(server, world):
    """A path for every page, with a live creature, a saved session and a terrarium."""
    session = start_creature(server, world, "markdown.toml")
    sid = session["session_id"]
    server.client.post(
        f"/api/sessions/{sid}/creatures/root/chat", json={"message": "a long question " * 30}
    ).raise_for_status()
    saved = Path(session["store_paths"][0]).name.removesuffix(".ktsession")
    team = server.client.post(
        "/api/sessions/active/terrarium",
        json={
            "config_path": str(world / "team"),
            "llm": f"scripted:{world / 'markdown.toml'}",
        },
    )
    assert team.status_code == 201, team.text
    team = team.json()
    yield {
        "home": "/",
        "chat": f"/chat/{sid}/root",
        "saved": "/saved",
        "session": f"/saved/{saved}",
        "settings": "/settings",
        "terrarium": f"/terrarium/{team['session_id']}",
    }
    server.client.delete(f"/api/sessions/active/{team['session_id']}")  # its ids are free again


def press_tab_until(browser, predicate, limit: int = 40):
    """Press Tab until the focused element satisfies *predicate*; the elements passed."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    passed = []
    for _ in range(limit):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        focused = browser.switch_to.active_element
        passed.append(focused)
        if predicate(focused):
            return passed
    raise AssertionError("Tab never reached the element")


def background(browser) -> tuple[int, ...]:
    colour = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    return tuple(int(part) for part in colour[colour.index("(") + 1 : -1].split(",")[:3])


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_fits_and_has_both_themes(browser, server, pages, size, tmp_path):
    from selenium.webdriver.common.keys import Keys

    browser.set_window_size(*size)
    try:
        for name, path in pages.items():
            browser.get(server.url + path)
            browser.execute_script("localStorage.removeItem('kt-theme')")
            browser.refresh()
            wait_for(
                browser, lambda b: b.execute_script("return document.readyState") == "complete"
            )
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {size[0]}px"
            screenshot(browser, tmp_path, f"{name}-light")
            assert sum(background(browser)) > 600, f"{name}: the light theme is not light"

            toggle = press_tab_until(browser, lambda e: e.text in ("Dark theme",))[-1]
            toggle.send_keys(Keys.ENTER)
            assert browser.execute_script("return document.documentElement.dataset.theme") == "dark"
            assert toggle.get_attribute("aria-pressed") == "true"
            assert sum(background(browser)) < 150, f"{name}: the dark theme is not dark"
            screenshot(browser, tmp_path, f"{name}-dark")
            browser.refresh()  # the choice is kept
            assert browser.execute_script("return document.documentElement.dataset.theme") == "dark"
            browser.execute_script("localStorage.removeItem('kt-theme')")
    finally:
        browser.set_window_size(*DESKTOP)


def test_chat_by_keyboard_alone(browser, server, world):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    session = start_creature(server, world, "markdown.toml")
    open_chat(browser, server, session)
    first = press_tab_until(browser, lambda e: True)[0]
    assert first.text == "Skip to content"
    passed = press_tab_until(browser, lambda e: e.accessible_name == "Message")
    assert all(e.accessible_name != "Send" for e in passed)  # the box comes before its button
    ActionChains(browser).send_keys("typed without a mouse", Keys.ENTER).perform()
    reply = finished_reply(browser)
    assert reply.find_element("css selector", "strong").text == "bold"
    box = browser.switch_to.active_element
    assert box.accessible_name == "Message" and box.get_attribute("value") == ""
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.switch_to.active_element.accessible_name == "Send"
    assert by_label(browser, "Interrupt").is_enabled() is False  # no turn runs: not in the way
    assert find(browser, "#transcript").get_attribute("aria-live") == "polite"
