"""`kt run --mode tui`: requests for the person answered in a dialog, on a pseudo-terminal."""

from __future__ import annotations

import threading

import pytest
from fake_llm_servers import Reply, openai_text_chunks
from kt_cli_helpers import PtyKt, kt_env
from kt_requests_helpers import (
    FakeServer,
    asking_creature,
    openai_text,
    openai_tool_calls,
    tool_results,
)

pytest.importorskip("urwid", reason="kt_tui needs urwid (the tui extra)")
pytest.importorskip("pyte", reason="the terminal tests read the screen with pyte")

PLUGINS = "kt_cli,kt_tui,kt_llm,kt_openai,kt_tools,kt_guard"


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def creature(tmp_path, server):
    return asking_creature(tmp_path / "asker", server)


@pytest.mark.parametrize("cols", [110, 50])
def test_a_question_and_an_approval_are_answered_in_dialogs(creature, server, isolated_kt, cols):
    env = {**kt_env(isolated_kt, plugins=PLUGINS), "OPENAI_API_KEY": "sk-test-local"}
    server.replies += [
        openai_tool_calls([("call_1", "ask_user", {"question": "Which file?"})]),
        openai_tool_calls([("call_2", "bash", {"command": "echo tui-$((6*7))"})]),
        openai_text("All done."),
    ]
    with PtyKt(
        ["run", creature, "--mode", "tui"], env=env, cwd=creature, rows=30, cols=cols
    ) as app:
        screen = app.wait_for("Enter sends")
        assert ("Sub-agents" in screen) is (cols >= 80)  # narrow: no side panel
        assert "openai/test-model · 0 in · 0 out" in screen  # the footer keeps the usage
        app.send("go\r")
        screen = app.wait_for("answer ›")
        assert "question" in screen and "Which file?" in screen
        app.send("notes.md\r")
        screen = app.wait_for("[y/a/n] ›")
        assert "approval" in screen and "bash wants to run" in screen
        app.send("y")
        app.wait_for("All done.")
        app.wait_for("Enter sends")
        app.wait_for("179 in · 70 out")  # three model calls
        screen = app.wait_for(lambda s: s.splitlines()[-1].startswith(">"))  # dialog closed
        assert "bash wants to run" not in screen.replace("! bash wants to run", "")
        app.send("\x04")
        assert app.wait_exit() == 0
    assert tool_results(server.requests[1]) == ["notes.md"]
    assert "tui-42" in tool_results(server.requests[2])[-1]


def test_a_paste_is_one_message_alt_enter_adds_a_line_and_markdown_renders(
    creature, server, isolated_kt
):
    env = {**kt_env(isolated_kt, plugins=PLUGINS), "OPENAI_API_KEY": "sk-test-local"}
    server.replies += [openai_text("## Done\n\nGot **both**."), openai_text("Got three.")]
    with PtyKt(["run", creature, "--mode", "tui"], env=env, cwd=creature, rows=30) as app:
        app.wait_for("Enter sends")
        app.send("\x1b[200~first line\nsecond line\x1b[201~")
        app.wait_for("second line")
        app.send("\r")
        screen = app.wait_for("Got both.")  # rendered once the reply ended
        assert "**" not in screen and "## Done" not in screen and "│Done" in screen
        app.send("one\x1b\rtwo\x1b\rthree\r")  # Alt+Enter: ESC before Enter
        app.wait_for("Got three.")
        app.wait_for("Enter sends")
        app.send("\x04")
        assert app.wait_exit() == 0
    users = [
        [m["content"] for m in r.body["messages"] if m["role"] == "user"] for r in server.requests
    ]
    assert users[0] == ["first line\nsecond line"]
    assert users[1][-1] == "one\ntwo\nthree"


def test_markdown_renders_block_by_block_while_the_reply_streams(creature, server, isolated_kt):
    env = {**kt_env(isolated_kt, plugins=PLUGINS), "OPENAI_API_KEY": "sk-test-local"}
    rest = threading.Event()  # the server holds the reply's end until the test has looked
    pieces = ["## Plan\n\nFirst **bold** step.\n\nstill *arr", "iving* now."]
    server.replies.append(Reply(chunks=openai_text_chunks(pieces), gate=rest, gate_at=2))
    try:
        with PtyKt(["run", creature, "--mode", "tui"], env=env, cwd=creature, rows=30) as app:
            app.wait_for("Enter sends")
            app.send("go\r")
            screen = app.wait_for("First bold step.")  # rendered before the reply ended
            assert "## Plan" not in screen and "│Plan" in screen
            assert "still *arr" in screen  # the block still arriving shows as it came
            rest.set()
            screen = app.wait_for("still arriving now.")
            assert "*arr" not in screen and "**" not in screen
            app.wait_for("Enter sends")
            app.send("\x04")
            assert app.wait_exit() == 0
    finally:
        rest.set()
