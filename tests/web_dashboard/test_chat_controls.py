"""The chat page's controls in a real browser: regenerate, edit and re-run, the model picker,
the scratchpad and system-prompt panels, the context meter, sub-agent work nested in place."""

from __future__ import annotations

from browsing import by_label, find, find_all, finished_reply, open_chat, screenshot, send, wait_for
from conftest import THREE
from kt_web_helpers import start_creature


def transcript_texts(browser) -> list[tuple[str, str]]:
    """(role, text) of every message shown, in order."""
    items = find_all(browser, "#transcript li.msg")
    roles = [item.get_attribute("class").split()[1] for item in items]
    return [
        (role, item.find_element("css selector", ".body").text)
        for role, item in zip(roles, items, strict=True)
    ]


def test_regenerate_then_edit_a_message_and_run_it_again(browser, server, world, tmp_path):
    session = start_creature(server, world, "three.toml")
    sid = session["session_id"]
    open_chat(browser, server, session)
    regenerate = by_label(browser, "Regenerate")
    assert not regenerate.is_enabled()  # nothing to run again yet
    send(browser, "hello")
    finished_reply(browser)
    assert transcript_texts(browser) == [("user", "hello"), ("assistant", THREE[0])]

    wait_for(browser, lambda b: regenerate.is_enabled(), "Regenerate stayed disabled")
    regenerate.click()
    wait_for(browser, lambda b: THREE[1] in find(b, "#transcript").text, "no second answer")
    finished_reply(browser)
    assert transcript_texts(browser) == [("user", "hello"), ("assistant", THREE[1])]
    screenshot(browser, tmp_path, "regenerated")

    by_label(browser, "Edit: hello").click()
    edited = by_label(browser, "Edited message")
    assert browser.switch_to.active_element == edited
    assert edited.get_attribute("value") == "hello"
    edited.clear()
    edited.send_keys("hello, **again**")
    by_label(browser, "Run edited message").click()
    wait_for(browser, lambda b: THREE[2] in find(b, "#transcript").text, "no edited answer")
    finished_reply(browser)
    assert transcript_texts(browser) == [("user", "hello, **again**"), ("assistant", THREE[2])]
    assert not find(browser, "#transcript li.msg.user").find_elements("css selector", "strong")
    screenshot(browser, tmp_path, "edited")

    history = server.client.get(f"/api/sessions/{sid}/creatures/root/history").json()
    assert [(m["role"], m["content"]) for m in history["messages"]] == [
        ("user", "hello, **again**"),
        ("assistant", THREE[2]),
    ]
    browser.refresh()  # the server renders the same conversation
    wait_for(browser, lambda b: find_all(b, "#transcript li.msg.assistant .md"))
    assert transcript_texts(browser) == [("user", "hello, **again**"), ("assistant", THREE[2])]
    assert find(browser, "#transcript li.msg.user").get_attribute("data-index") == "0"


def test_panels_model_scratchpad_system_prompt_and_context(browser, server, world, tmp_path):
    session = start_creature(server, world, "tool.toml")
    sid = session["session_id"]
    api = f"/api/sessions/{sid}/creatures/root"
    open_chat(browser, server, session)
    assert find(browser, "#context-text").text == "no model call yet"
    for title in ("Scratchpad", "System prompt", "Model"):
        [s for s in find_all(browser, ".panel summary") if s.text == title][0].click()
    assert "You help." in find(browser, "#system-prompt").text

    # The creature writes its scratchpad: the panel follows, live.
    send(browser, "remember my plan")
    finished_reply(browser)
    entry = wait_for(browser, lambda b: find_all(b, '#scratchpad [data-key="plan"]'))[0]
    assert "walk the dog" in entry.text
    used = find(browser, "#context-text").text
    assert used.endswith("tokens in the last prompt") and int(used.split()[0].replace(",", "")) > 0

    # People write it too, and delete from it.
    by_label(browser, "Key").send_keys("mood")
    by_label(browser, "Value").send_keys("calm <b>not bold</b>")
    by_label(browser, "Save to scratchpad").click()
    wait_for(browser, lambda b: find_all(b, '#scratchpad [data-key="mood"]'), "mood not shown")
    assert "calm <b>not bold</b>" in find(browser, '#scratchpad [data-key="mood"]').text
    by_label(browser, "Delete plan from the scratchpad").click()
    wait_for(browser, lambda b: not find_all(b, '#scratchpad [data-key="plan"]'), "plan kept")
    assert server.client.get(f"{api}/scratchpad").json()["scratchpad"] == {
        "mood": "calm <b>not bold</b>"
    }
    screenshot(browser, tmp_path, "panels")

    # The model picker: the next turn runs on the model chosen.
    choice = by_label(browser, "Model")
    choice.clear()
    choice.send_keys(f"scripted:{world / 'markdown.toml'}")
    by_label(browser, "Switch model").click()
    wait_for(browser, lambda b: "markdown.toml" in find(b, "#model-name").text, "not switched")
    assert server.client.get(api).json()["model"].endswith("markdown.toml")
    send(browser, "and now some markdown")
    reply = finished_reply(browser, 2)
    assert reply.find_element("css selector", "strong").text == "bold"
    bad = by_label(browser, "Model")
    bad.clear()
    bad.send_keys("nosuchbackend/model")
    by_label(browser, "Switch model").click()
    error = lambda b: "nosuchbackend" in find(b, "#status").text  # noqa: E731
    wait_for(browser, error, "no error shown")
    assert "markdown.toml" in find(browser, "#model-name").text  # unchanged


def test_sub_agent_work_is_nested_under_its_call(browser, server, world, tmp_path):
    session = start_creature(
        server,
        world,
        "delegate.toml",
        config_path=str(world / "creatures" / "delegator"),
        pwd=str(world),
    )
    open_chat(browser, server, session)
    send(browser, "find the configs")
    reply = finished_reply(browser)
    block = reply.find_element("css selector", "details.tool")
    assert block.get_attribute("data-status") == "ok"
    block.find_element("css selector", "summary").click()
    nested = block.find_element("css selector", "section.subagent")
    assert nested.get_attribute("aria-label") == "Sub-agent explore"
    assert nested.get_attribute("data-status") == "completed"
    assert "find the configs" in nested.text and "The child found them." in nested.text
    inner = nested.find_element("css selector", "details.tool")
    assert inner.get_attribute("data-status") == "ok"
    inner.find_element("css selector", "summary").click()
    assert "three.toml" in inner.find_element("css selector", "pre.output").text
    assert reply.find_element("css selector", ".body.md em").text == "done"
    screenshot(browser, tmp_path, "subagent")


def test_the_branches_panel_switches_back_to_an_earlier_try(browser, server, world, tmp_path):
    session = start_creature(server, world, "three.toml")
    open_chat(browser, server, session)
    send(browser, "hello")
    finished_reply(browser)
    regenerate = by_label(browser, "Regenerate")
    wait_for(browser, lambda b: regenerate.is_enabled(), "Regenerate stayed disabled")
    regenerate.click()
    wait_for(browser, lambda b: THREE[1] in find(b, "#transcript").text, "no second answer")
    finished_reply(browser)
    find(browser, "#branches-panel summary").click()
    switch = wait_for(
        browser, lambda b: b.find_elements("css selector", "button.switch-branch"), "no branch"
    )
    assert len(switch) == 1 and "hello" in find(browser, "#branches").text
    by_label(browser, "Switch to branch 1").click()
    wait_for(
        browser,
        lambda b: transcript_texts(b) == [("user", "hello"), ("assistant", THREE[0])],
        "the first try was not shown",
    )
    wait_for(browser, lambda b: "2 (regenerate)" in find(b, "#branches").text, "list not redrawn")
    screenshot(browser, tmp_path, "branches")
    browser.refresh()  # the server keeps the switch: the first try is the conversation now
    wait_for(browser, lambda b: find_all(b, "#transcript li.msg.assistant .md"))
    assert transcript_texts(browser) == [("user", "hello"), ("assistant", THREE[0])]
