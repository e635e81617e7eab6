"""The saved-session viewer in a real browser: timeline by turn with filters, cost, memory, fork."""

from __future__ import annotations

from pathlib import Path

from browsing import by_label, find, find_all, screenshot, wait_for
from kt_web_helpers import start_creature


def visible_events(turn) -> list[str]:
    return [e.text for e in turn.find_elements("css selector", "li.event") if e.is_displayed()]


def test_timeline_filters_memory_search_and_fork(browser, server, world, tmp_path):
    session = start_creature(server, world, "tool-then-text.toml")
    sid = session["session_id"]
    for message in ("remember my plan", "and again"):
        server.client.post(
            f"/api/sessions/{sid}/creatures/root/chat", json={"message": message}
        ).raise_for_status()
    server.client.delete(f"/api/sessions/active/{sid}").raise_for_status()
    name = Path(session["store_paths"][0]).name.removesuffix(".ktsession")

    browser.get(f"{server.url}/saved/{name}")
    first = find_all(browser, "li.turn")[0]
    assert "cost unknown" in first.find_element("css selector", ".cost").text  # scripted: unpriced
    first.find_element("css selector", ".timeline summary").click()
    events = visible_events(first)
    assert any(e.endswith("turn started by user") for e in events)
    assert any(e.endswith("tool scratchpad started") for e in events)
    assert any(e.endswith("tool scratchpad · ok") for e in events)
    assert any(e.endswith("Noted the plan.") for e in events)  # the streamed text, as one line
    assert any("model call 2 ·" in e and "tokens" in e for e in events)
    screenshot(browser, tmp_path, "timeline")

    by_label(browser, "Tools and sub-agents").click()  # filter tool events out
    shown = visible_events(first)
    assert not any("tool scratchpad" in e for e in shown) and any("model call" in e for e in shown)
    by_label(browser, "Tools and sub-agents").click()
    assert any("tool scratchpad" in e for e in visible_events(first))

    by_label(browser, "Search memory").send_keys("plan\n")
    hits = wait_for(browser, lambda b: find_all(b, "#memory-hits li"), "no memory hits")
    assert any("plan" in h.text for h in hits)
    screenshot(browser, tmp_path, "memory")

    first = find_all(browser, "li.turn")[0]
    first.find_element("css selector", ".timeline summary").click()
    before = browser.current_url
    by_label(browser, f"Fork after turn 1 of {first.get_attribute('data-creature')}").click()
    wait_for(browser, lambda b: b.current_url != before, "the fork did not open")
    forked = browser.current_url.rsplit("/", 1)[1]
    assert len(find_all(browser, "li.turn")) == 1  # up to the end of the first turn
    assert "remember my plan" in find(browser, ".transcript").text
    assert server.client.get(f"/api/sessions/{forked}").json()["turns"] == 1
    assert server.client.get(f"/api/sessions/{name}").json()["turns"] == 2  # the original stays
