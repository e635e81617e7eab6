"""The terrarium page in a real browser: the graph drawing follows hot-plug changes made on it."""

from __future__ import annotations

from browsing import by_label, find, find_all, screenshot, wait_for

WATCH_STATUSES = """
window.__statuses = [];
new MutationObserver(() => {
  for (const node of document.querySelectorAll('#graph-drawing [data-creature]')) {
    window.__statuses.push(node.dataset.creature + ':' + node.dataset.status);
  }
}).observe(document.getElementById('graph-view'), {subtree: true, attributes: true, childList: true});
"""


def drawn(browser, css: str):
    return find_all(browser, f"#graph-drawing {css}")


def edge(kind: str, source: str, target: str) -> str:
    return f'line.edge.{kind}[data-source="{source}"][data-target="{target}"]'


def submit(browser, action: str, values: dict[str, str]) -> None:
    """Fill the controls named by the keys of *values* (their labels) and press *action*."""
    for label, value in values.items():
        control = by_label(browser, label)
        control.clear()
        control.send_keys(value)
    by_label(browser, action).click()


def test_draw_the_graph_and_change_it_live(browser, server, world, tmp_path):
    team = server.client.post(
        "/api/sessions/active/terrarium",
        json={"config_path": str(world / "team"), "llm": f"scripted:{world / 'markdown.toml'}"},
    )
    assert team.status_code == 201, team.text
    sid = team.json()["session_id"]
    try:
        browser.get(f"{server.url}/terrarium/{sid}")
        wait_for(browser, lambda b: find(b, "#traffic").get_attribute("data-attached") == "true")
        browser.execute_script(WATCH_STATUSES)
        assert {n.get_attribute("data-creature") for n in drawn(browser, "g.creature")} == {
            "root",
            "worker",
        }
        assert drawn(browser, 'g.channel[data-channel="tasks"]')
        assert drawn(browser, edge("listen", "tasks", "worker"))
        assert drawn(browser, edge("send", "worker", "report_to_root"))
        assert "worker (idle)" in find(browser, "#graph-desc").get_attribute("textContent")
        screenshot(browser, tmp_path, "graph")

        for summary in find_all(browser, ".panel summary"):
            summary.click()
        submit(
            browser,
            "Add creature",
            {
                "Creature config": str(world / "creatures" / "helper"),
                "Creature model": f"scripted:{world / 'markdown.toml'}",
                "Creature name": "scout",
            },
        )
        wait_for(browser, lambda b: drawn(b, 'g.creature[data-creature="scout"]'), "no scout")
        assert find_all(browser, '#creature-list [data-creature="scout"]')

        submit(
            browser, "Connect", {"Sender": "scout", "Receiver": "worker", "Over channel": "tasks"}
        )
        wait_for(browser, lambda b: drawn(b, edge("send", "scout", "tasks")), "not connected")
        by_label(browser, "Wire output").click()
        wait_for(browser, lambda b: drawn(b, edge("wire", "scout", "worker")), "not wired")
        screenshot(browser, tmp_path, "graph-changed")
        by_label(browser, "Remove wire").click()
        wait_for(browser, lambda b: not drawn(b, edge("wire", "scout", "worker")), "still wired")
        by_label(browser, "Disconnect").click()
        wait_for(browser, lambda b: not drawn(b, edge("send", "scout", "tasks")), "still sends")

        submit(
            browser,
            "Add channel",
            {"Channel name": "notes", "Channel description": "<script>window.__pwned=1</script>"},
        )
        wait_for(browser, lambda b: drawn(b, 'g.channel[data-channel="notes"]'), "no channel")
        title = drawn(browser, 'g.channel[data-channel="notes"] title')[0]
        assert "<script>" in title.get_attribute("textContent")
        assert not find_all(browser, "#graph-view script")
        wait_for(browser, lambda b: "notes" in [o.text for o in find_all(b, "#channel option")])

        # A message on its channel makes the worker work: its status changes in the drawing.
        # (Disconnecting scout from worker over tasks took worker's listening edge away too.)
        from selenium.webdriver.support.ui import Select

        Select(by_label(browser, "Channel")).select_by_visible_text("worker")
        by_label(browser, "Channel message").send_keys("sweep the floor")
        by_label(browser, "Send to channel").click()
        wait_for(browser, lambda b: "sweep the floor" in find(b, "#traffic").text, "no message")
        seen = lambda b: b.execute_script("return window.__statuses")  # noqa: E731
        wait_for(browser, lambda b: "worker:busy" in seen(b), "the worker never showed busy")
        wait_for(
            browser,
            lambda b: drawn(b, 'g.creature[data-creature="worker"][data-status="idle"]'),
            "the worker never went back to idle",
        )

        by_label(browser, "Remove scout").click()
        wait_for(browser, lambda b: not drawn(b, 'g.creature[data-creature="scout"]'), "kept")
        assert not find_all(browser, '#creature-list [data-creature="scout"]')
        assert browser.execute_script("return window.__pwned === undefined")
        live = server.client.get(f"/api/sessions/active/{sid}").json()
        assert {c["id"] for c in live["creatures"]} == {"root", "worker"}
        assert "notes" in live["channels"]
        submit(browser, "Remove channel", {"Channel to remove": "notes"})
        wait_for(browser, lambda b: not drawn(b, 'g.channel[data-channel="notes"]'), "kept notes")
        live = server.client.get(f"/api/sessions/active/{sid}").json()
        assert "notes" not in live["channels"]
        member = server.client.get(f"/chat/{sid}/worker")  # a member's chat links back here
        assert member.status_code == 200 and f'href="/terrarium/{sid}"' in member.text
    finally:
        server.client.delete(f"/api/sessions/active/{sid}")  # its creature ids are free again
