"""The dashboard in a real headless Chromium, against a real server and scripted models."""

from __future__ import annotations

import json
from pathlib import Path

from browsing import (
    by_label,
    find,
    find_all,
    finished_reply,
    open_chat,
    screenshot,
    send,
    wait_for,
)
from kt_web_helpers import connect, frames_until, start_creature


def test_start_a_creature_and_see_a_markdown_reply_stream(browser, server, world, tmp_path):
    browser.get(server.url + "/")
    screenshot(browser, tmp_path, "home")
    by_label(browser, "Config path").send_keys(str(world / "creatures" / "helper"))
    by_label(browser, "Model").send_keys(f"scripted:{world / 'markdown.toml'}")
    by_label(browser, "Start creature").click()
    wait_for(browser, lambda b: "/chat/" in b.current_url, "the chat page did not open")
    wait_for(browser, lambda b: find(b, "#chat-form").get_attribute("data-connected") == "true")

    send(browser, "show me some markdown")
    reply = finished_reply(browser)
    assert reply.get_attribute("data-status") == "completed"
    assert find(browser, "#transcript li.msg.user .body").text == "show me some markdown"
    body = reply.find_element("css selector", ".body.md")
    assert body.find_element("css selector", "strong").text == "bold"
    assert [li.text for li in body.find_elements("css selector", "li")] == ["apple", "pear"]
    code = body.find_element("css selector", "pre.highlight")
    assert code.find_elements("css selector", "span.nb")  # Pygments marked print() a builtin
    screenshot(browser, tmp_path, "chat")


def test_a_tool_call_shows_as_a_block_with_arguments_and_result(browser, server, world, tmp_path):
    session = start_creature(server, world, "tool.toml")
    open_chat(browser, server, session)
    send(browser, "remember my plan")
    reply = finished_reply(browser)
    block = reply.find_element("css selector", "details.tool")
    assert block.get_attribute("data-status") == "ok"
    assert "scratchpad" in block.find_element("css selector", "summary").text
    block.find_element("css selector", "summary").click()  # open it: arguments and output
    assert "walk the dog" in block.find_element("css selector", "pre.args").text
    assert block.find_elements("css selector", "pre.output")
    assert "Noted the plan." in reply.text
    screenshot(browser, tmp_path, "tool-call")
    browser.refresh()  # the same call, rendered by the server from the history
    block = wait_for(browser, lambda b: find_all(b, "#transcript details.tool"))[0]
    block.find_element("css selector", "summary").click()
    assert '"value": "walk the dog"' in block.find_element("css selector", "pre.args").text
    result = find_all(browser, "#transcript li.tool-result details")[0]
    result.find_element("css selector", "summary").click()
    assert "Set 'plan'" in result.text


def test_an_ask_user_question_is_answered_in_place(browser, server, world, tmp_path):
    session = start_creature(
        server, world, "ask.toml", config_path=str(world / "creatures" / "asker")
    )
    open_chat(browser, server, session)
    send(browser, "paint the shed")
    question = wait_for(browser, lambda b: find_all(b, "#requests form.request .prompt strong"))
    assert question[0].text == "colour"  # the question's Markdown, rendered
    screenshot(browser, tmp_path, "question")
    answer = by_label(browser, "Answer")
    assert browser.switch_to.active_element == answer  # focus moved to it
    answer.send_keys("teal\n")
    reply = finished_reply(browser)
    assert "Painting it now." in reply.text
    assert not find_all(browser, "#requests form.request")
    block = reply.find_element("css selector", "details.tool")
    block.find_element("css selector", "summary").click()
    assert block.find_element("css selector", "pre.output").text == "teal"


def test_a_tool_approval_is_denied_then_given_in_place(browser, server, world, tmp_path):
    session = start_creature(
        server, world, "tool-twice.toml", config_path=str(world / "creatures" / "guarded")
    )
    sid = session["session_id"]
    open_chat(browser, server, session)
    for message, decision, status in (
        ("remember my plan", "deny", "blocked"),
        ("now really remember it", "allow once", "ok"),
    ):
        send(browser, message)
        wait_for(browser, lambda b: find_all(b, "#requests form.request"), "no approval asked")
        request = find(browser, "#requests form.request")
        assert "scratchpad wants to run" in request.text
        assert "value=walk the dog" in request.find_element("css selector", "pre").text
        choices = [b.text for b in request.find_elements("css selector", "button")]
        assert choices == ["allow once", "allow for this session", "deny"]
        screenshot(browser, tmp_path, f"approval-{status}")
        by_label(browser, decision).click()
        reply = finished_reply(browser, 1 if status == "blocked" else 2)
        assert reply.find_element("css selector", "details.tool").get_attribute("data-status") == (
            status
        )
        assert not find_all(browser, "#requests form.request")
    pad = server.client.get(f"/api/sessions/{sid}/creatures/root/scratchpad").json()
    assert pad["scratchpad"] == {"plan": "walk the dog"}  # only the approved call ran


def test_a_question_asked_before_the_page_opened_is_shown(browser, server, world):
    session = start_creature(
        server, world, "ask.toml", config_path=str(world / "creatures" / "asker")
    )
    sid = session["session_id"]
    with connect(f"{server.ws_url}/ws/sessions/{sid}/creatures/root/chat") as ws:
        ws.send(json.dumps({"type": "input", "content": "paint the shed"}))
        while True:  # until the question is asked
            frame = frames_until(ws, "activity")[-1]
            if frame["activity_type"] == "user_question":
                break
        listing = f"/api/dashboard/sessions/{sid}/creatures/root/requests"
        pending = server.client.get(listing).json()["requests"]
        assert [r["prompt"] for r in pending] == ["Which **colour** should the shed be?"]
        open_chat(browser, server, session)
        form = find(browser, f'#requests form[data-request="{pending[0]["request_id"]}"]')
        assert "colour" in form.text
        by_label(browser, "Answer").send_keys("red\n")
        frames_until(ws, "processing_end")
    assert not server.client.get(listing).json()["requests"]
    wrong = server.client.post(f"{listing}/nope/answer", json={"answer": "x"})
    assert wrong.status_code == 400 and "no pending request" in wrong.json()["error"]["message"]


def test_interrupt_stops_a_long_turn(browser, server, world, tmp_path):
    session = start_creature(server, world, "slow.toml")
    open_chat(browser, server, session)
    send(browser, "take your time")
    interrupt = by_label(browser, "Interrupt")
    wait_for(browser, lambda b: interrupt.is_enabled(), "Interrupt never became available")
    wait_for(browser, lambda b: find_all(b, "#transcript .streaming"), "no text streamed")
    interrupt.click()
    reply = finished_reply(browser)
    assert reply.get_attribute("data-status") == "interrupted"
    assert "turn interrupted" in reply.text
    assert not interrupt.is_enabled()
    assert "a very slow reply that goes on and on" not in reply.text
    screenshot(browser, tmp_path, "interrupted")


def test_markup_in_a_reply_is_shown_as_text_and_runs_nothing(browser, server, world, tmp_path):
    session = start_creature(server, world, "hostile.toml")
    open_chat(browser, server, session)
    send(browser, '<b>my own</b> <img src=x onerror="window.__pwned = 3">')
    reply = finished_reply(browser)
    assert "<script>window.__pwned = 1</script>" in reply.text
    assert '<img src=x onerror="window.__pwned = 2">' in reply.text
    assert "<b>my own</b>" in find(browser, "#transcript li.msg.user").text
    transcript = find(browser, "#transcript")
    assert not transcript.find_elements("css selector", "script, img, b")
    assert browser.execute_script("return window.__pwned === undefined")
    browser.refresh()  # the same conversation, rendered by the server this time
    wait_for(browser, lambda b: find_all(b, "#transcript li.msg.assistant .md"))
    assert not find(browser, "#transcript").find_elements("css selector", "script, img, b")
    assert browser.execute_script("return window.__pwned === undefined")
    screenshot(browser, tmp_path, "hostile")


def test_open_a_saved_session_and_find_a_word(browser, server, world, tmp_path):
    session = start_creature(server, world, "markdown.toml")
    server.client.post(
        f"/api/sessions/{session['session_id']}/creatures/root/chat", json={"message": "fruit?"}
    ).raise_for_status()
    name = Path(session["store_paths"][0]).name.removesuffix(".ktsession")

    browser.get(server.url + "/saved")
    by_label(browser, "Search sessions").send_keys(name + "\n")
    wait_for(browser, lambda b: "search=" in b.current_url)
    links = [a for a in find_all(browser, "#saved-list a") if a.text == name]
    assert links, "the session is not listed"
    screenshot(browser, tmp_path, "saved")
    links[0].click()
    wait_for(browser, lambda b: by_label(b, "Find in session"))
    by_label(browser, "Find in session").send_keys("pear\n")
    result = wait_for(browser, lambda b: find_all(b, "#find-result"))[0]
    assert result.text.startswith("1 turn")
    assert "pear" in find(browser, ".transcript").text
    by_label(browser, "Find in session").clear()
    by_label(browser, "Find in session").send_keys("zebra\n")
    wait_for(browser, lambda b: find(b, "#find-result").text.startswith("0 turns"))
    screenshot(browser, tmp_path, "saved-session")


def test_set_and_delete_a_key(browser, server, tmp_path):
    secret = "sk-dashboard-test-0123456789abcdef"
    browser.get(server.url + "/settings")
    by_label(browser, "Provider").send_keys("openai")
    by_label(browser, "API key").send_keys(secret)
    by_label(browser, "Save key").click()
    row = wait_for(browser, lambda b: find_all(b, 'tr[data-provider="openai"] button.delete-key'))
    assert secret not in browser.page_source  # shown masked only
    assert find(browser, 'tr[data-provider="openai"]').text.count("stored") == 1
    screenshot(browser, tmp_path, "settings")
    row[0].click()
    wait_for(browser, lambda b: not find_all(b, 'tr[data-provider="openai"] button.delete-key'))
    keys = server.client.get("/api/settings/keys").json()["keys"]
    assert all(k["source"] != "stored" for k in keys if k["provider"] == "openai")


def test_set_the_default_model(browser, server, world):
    browser.get(server.url + "/settings")
    choice = by_label(browser, "Default model")
    choice.clear()
    choice.send_keys(f"scripted:{world / 'markdown.toml'}")
    by_label(browser, "Save default model").click()
    wait_for(browser, lambda b: "markdown.toml" in find(b, "#default-model").text)
    model = server.client.get("/api/settings/default-model").json()["model"]
    assert model == f"scripted:{world / 'markdown.toml'}"
    by_label(browser, "Default model").clear()
    by_label(browser, "Save default model").click()
    wait_for(browser, lambda b: find(b, "#default-model").text == "none")


def test_a_terrarium_shows_channel_messages_live(browser, server, world, tmp_path):
    browser.get(server.url + "/")
    by_label(browser, "Config path").send_keys(str(world / "team"))
    by_label(browser, "Model").send_keys(f"scripted:{world / 'markdown.toml'}")
    by_label(browser, "Start terrarium").click()
    wait_for(browser, lambda b: "/terrarium/" in b.current_url, "the terrarium page did not open")
    wait_for(browser, lambda b: find(b, "#traffic").get_attribute("data-attached") == "true")
    assert "worker" in find(browser, "main").text
    from selenium.webdriver.support.ui import Select

    Select(by_label(browser, "Channel")).select_by_visible_text("tasks")
    by_label(browser, "Channel message").send_keys("sweep the floor")
    by_label(browser, "Send to channel").click()
    wait_for(browser, lambda b: "sweep the floor" in find(b, "#traffic").text, "no message")
    assert "#tasks" in find(browser, "#traffic").text
    screenshot(browser, tmp_path, "terrarium")
    sid = browser.current_url.rsplit("/", 1)[1]
    server.client.delete(f"/api/sessions/active/{sid}").raise_for_status()  # frees its ids


def test_stop_a_running_session_from_home(browser, server, world):
    session = start_creature(server, world, "markdown.toml", name="stoppable")
    sid = session["session_id"]
    browser.get(server.url + "/")
    by_label(browser, f"Stop {session['name']}").click()
    wait_for(browser, lambda b: not find_all(b, f'li[data-session="{sid}"]'), "still listed")
    live = server.client.get("/api/sessions/active").json()["sessions"]
    assert sid not in [s["session_id"] for s in live]


def saved_and_stopped(server, world) -> str:
    """The name of a saved session whose creature chatted once and was stopped."""
    session = start_creature(server, world, "markdown.toml")
    sid = session["session_id"]
    server.client.post(
        f"/api/sessions/{sid}/creatures/root/chat", json={"message": "remember the pear"}
    ).raise_for_status()
    server.client.delete(f"/api/sessions/active/{sid}").raise_for_status()
    return Path(session["store_paths"][0]).name.removesuffix(".ktsession")


def test_resume_a_saved_session(browser, server, world):
    name = saved_and_stopped(server, world)
    browser.get(f"{server.url}/saved/{name}")
    by_label(browser, "Resume").click()
    wait_for(browser, lambda b: "/chat/" in b.current_url or find(b, "#status").text)
    assert "/chat/" in browser.current_url, find(browser, "#status").text
    assert "remember the pear" in find(browser, "#transcript").text  # the history came back
    resumed = browser.current_url.split("/chat/")[1].split("/")[0]
    server.client.delete(f"/api/sessions/active/{resumed}").raise_for_status()


def test_delete_a_saved_session(browser, server, world):
    name = saved_and_stopped(server, world)
    browser.get(f"{server.url}/saved/{name}")
    by_label(browser, "Delete").click()
    browser.switch_to.alert.accept()
    wait_for(browser, lambda b: b.current_url.endswith("/saved"), "not back at the list")
    assert server.client.get(f"/api/sessions/{name}").status_code == 404
