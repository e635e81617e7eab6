"""Requests for the person, answered in `kt run --mode cli` on a pseudo-terminal.

The model is a local OpenAI-compatible server streaming the real wire format; its request log
shows what reached the model (the answer as the tool result, a paste as one message).
"""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import pytest
from kt_cli_helpers import PtyKt, kt_env, run_kt, write
from kt_requests_helpers import (
    FakeServer,
    asking_creature,
    openai_text,
    openai_tool_calls,
    openai_usage,
    tool_results,
)

pytest.importorskip("pyte", reason="the terminal tests read the screen with pyte")

PLUGINS = "kt_cli,kt_llm,kt_openai,kt_tools,kt_guard,kt_sessions"


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def env(isolated_kt):
    return {**kt_env(isolated_kt, plugins=PLUGINS), "OPENAI_API_KEY": "sk-test-local"}


@pytest.fixture
def creature(tmp_path, server):
    return asking_creature(tmp_path / "asker", server)


def kt_cli(folder, env, *extra):
    return PtyKt(["run", folder, "--mode", "cli", *extra], env=env, cwd=folder)


def test_an_ask_user_question_is_answered_inline_and_the_answer_is_the_tool_result(
    creature, env, server
):
    server.replies += [
        openai_tool_calls([("call_1", "ask_user", {"question": "Which branch?"})]),
        openai_text("Deploying release now."),
    ]
    with kt_cli(creature, env) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("deploy it\r")
        screen = app.wait_for("answer ›")
        assert "? Which branch?\n  type your answer and press Enter" in screen
        app.send("release\r")
        app.wait_for("Deploying release now.")
        app.wait_for(lambda s: s.endswith(">"))
        app.send("\x04")
        assert app.wait_exit() == 0
    assert len(server.requests) == 2  # the answer was no new turn
    assert tool_results(server.requests[1]) == ["release"]


def test_a_bash_call_is_approved_with_y_and_denied_with_n(creature, env, server):
    server.replies += [
        openai_tool_calls([("call_1", "bash", {"command": "echo approved-$((20+22))"})]),
        openai_text("It ran."),
        openai_tool_calls([("call_2", "bash", {"command": "echo second"})]),
        openai_text("Refused, fine."),
    ]
    with kt_cli(creature, env) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("run it\r")
        screen = app.wait_for("[y/a/n] ›")
        assert "! bash wants to run" in screen and "command=echo approved-$((20+22))" in screen
        assert "y allow once · a allow for this session · n deny" in screen
        app.send("y")
        app.wait_for("It ran.")
        app.wait_for(lambda s: s.endswith(">"))
        app.send("again\r")
        app.wait_for(lambda s: s.count("[y/a/n] ›") == 2)  # the answered one, and this one
        app.send("n")
        app.wait_for("Refused, fine.")
        app.wait_for(lambda s: s.endswith(">"))
        app.send("\x04")
        assert app.wait_exit() == 0
    assert "approved-42" in tool_results(server.requests[1])[0]
    assert "Permission denied: the user refused" in tool_results(server.requests[3])[-1]


@pytest.mark.parametrize(("mode", "ran"), [("bypass", True), ("deny", False)])
def test_approval_modes_answer_without_asking(creature, env, server, mode, ran):
    server.replies += [
        openai_tool_calls([("call_1", "bash", {"command": "echo by-mode"})]),
        openai_text("Finished."),
    ]
    with kt_cli(creature, env, "--approvals", mode) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("go\r")
        screen = app.wait_for("Finished.")
        verdict = "approved" if ran else "refused"
        assert f"bash {verdict} by the approval mode '{mode}'" in screen
        assert "[y/a/n]" not in screen
        app.wait_for(lambda s: s.endswith(">"))
        app.send("\x04")
        assert app.wait_exit() == 0
    result = tool_results(server.requests[1])[0]
    assert ("by-mode" in result) is ran


def test_accept_edits_approves_a_write_inside_the_working_dir(tmp_path, env, server):
    folder = tmp_path / "editor"
    write(
        folder / "creature.toml",
        f"""
        name = "editor"
        [controller]
        llm = "openai/test-model"
        base_url = "{server.url}/v1"
        [[tools]]
        name = "write"
        [[plugins]]
        name = "kt_guard"
        [plugins.permissions]
        ask = ["write"]
        """,
    )
    server.replies += [
        openai_tool_calls([("call_1", "write", {"path": "notes.txt", "content": "hi\n"})]),
        openai_text("Written."),
        openai_tool_calls([("call_2", "write", {"path": "../outside.txt", "content": "x"})]),
        openai_text("Not written."),
    ]
    with kt_cli(folder, env, "--approvals", "accept-edits") as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("write it\r")
        screen = app.wait_for("Written.")
        assert "write approved by the approval mode 'accept-edits'" in screen
        assert "\n    +hi\n" in screen  # the change, as a diff under the call's line
        app.wait_for(lambda s: s.endswith(">"))
        app.send("write outside\r")
        screen = app.wait_for("[y/a/n] ›")  # outside the working dir: asked
        assert "path=../outside.txt" in screen
        app.send("n")
        app.wait_for("Not written.")
        app.wait_for(lambda s: s.endswith(">"))
        app.send("\x04")
        assert app.wait_exit() == 0
    assert (folder / "notes.txt").read_text() == "hi\n"
    assert not (tmp_path / "outside.txt").exists()


def test_a_paste_of_two_lines_is_one_message_and_markdown_and_footer_render(
    creature, env, server, isolated_kt
):
    # prices per million tokens: 1200 in and 34 out cost $0.0024 + $0.00034
    write(isolated_kt / "models.toml", '["openai/test-model"]\nprices = {input = 2, output = 10}\n')
    reply = "## Summary\n\nAll **good** here.\n\n```python\nprint('x')\n```\n"
    server.replies += [openai_text(reply, usage=openai_usage(prompt=1200, completion=34))]
    with kt_cli(creature, env) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("\x1b[200~first line\nsecond line\x1b[201~")
        screen = app.wait_for("… second line")
        assert "> first line" in screen
        app.send("\r")
        app.wait_for("All good here.")
        app.wait_for("1.2k in · 34 out · $0.0027")  # the footer, once usage and cost arrived
        screen = app.wait_for(lambda s: s.endswith(">"))
        lines = screen.splitlines()
        assert "Summary" in lines and "## Summary" not in screen
        assert "**" not in screen and "```" not in screen
        assert any(line.strip() == "print('x')" for line in lines)
        app.send("/cost\r")
        app.wait_for("cost      $0.0027 (last turn $0.0027)")
        app.send("\x04")
        assert app.wait_exit() == 0
    users = [m for m in server.requests[0].body["messages"] if m["role"] == "user"]
    assert [m["content"] for m in users] == ["first line\nsecond line"]


def test_a_question_pending_when_the_process_dies_is_answered_after_resume(
    creature, env, server, tmp_path
):
    session = tmp_path / "asked.ktsession"
    server.replies += [
        openai_tool_calls([("call_1", "ask_user", {"question": "Which colour?"})]),
        openai_text("Blue it is."),
    ]
    with kt_cli(creature, env, "--session", session) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("paint\r")
        app.wait_for("answer ›")
        app.proc.send_signal(signal.SIGKILL)
        app.proc.wait()
    with PtyKt(["resume", session, "--mode", "cli"], env=env, cwd=creature) as app:
        screen = app.wait_for("answer ›")
        assert "? Which colour?" in screen
        app.send("blue\r")
        app.wait_for("Blue it is.")
        app.wait_for(lambda s: s.endswith(">"))
        app.send("\x04")
        assert app.wait_exit() == 0
    last_user = [m for m in server.requests[-1].body["messages"] if m["role"] == "user"][-1]
    assert "Which colour?" in last_user["content"] and last_user["content"].endswith("blue")


def test_plain_without_a_terminal_refuses_approvals_and_says_so(creature, env, server):
    server.replies += [
        openai_tool_calls([("call_1", "bash", {"command": "echo never"})]),
        openai_text("Refused."),
        openai_tool_calls([("call_2", "ask_user", {"question": "Name?"})]),
        openai_text("No answer then."),
    ]
    done = run_kt(
        ["run", creature, "--mode", "plain", "--no-session"],
        env=env,
        stdin="run\nask\n",
        cwd=creature,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Refused.\nNo answer then.\n"
    assert "kt: approval: bash wants to run" in done.stderr
    assert "bash refused: nobody can answer approvals here" in done.stderr
    assert "--approvals bypass" in done.stderr
    assert "kt: question: Name?" in done.stderr
    assert "Permission denied" in tool_results(server.requests[1])[0]
    assert tool_results(server.requests[3])[-1].startswith("(nobody can answer")


def test_plain_on_a_terminal_reads_the_answer_from_the_next_line(creature, env, server):
    server.replies += [
        openai_tool_calls([("call_1", "ask_user", {"question": "Which tag?"})]),
        openai_text("Tagged."),
    ]
    with PtyKt(["run", creature, "--mode", "plain", "--no-session"], env=env, cwd=creature) as app:
        app.send("tag it\r")
        app.wait_for("kt: answer: type your answer and press Enter")
        app.send("v1.2\r")
        app.wait_for("Tagged.")
        app.send("\x04")
        assert app.wait_exit() == 0
    assert tool_results(server.requests[1]) == ["v1.2"]


def test_a_closed_pipe_ends_the_command_quietly(env):
    import os
    import subprocess

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before kt writes a byte: `kt plugins | head -0`
    done = subprocess.run(
        [sys.executable, "-m", "kt_cli", "plugins"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=env,
        timeout=60,
    )
    os.close(write_end)
    assert done.stderr.decode() == ""
    assert done.returncode == 1


async def test_the_events_reference_example_answers_every_request(tmp_path):
    """docs/reference/events.md, "Requests to a person": its Python block, run."""
    import trio

    import kt
    import kt_tools
    from kt.testing import ScriptedLLM, ToolCall

    doc = Path(__file__).resolve().parents[2] / "docs" / "reference" / "events.md"
    text = doc.read_text(encoding="utf-8").split("## Requests to a person", 1)[1]
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    example: dict = {}
    exec(compile(code, str(doc), "exec"), example)

    llm = ScriptedLLM(
        [
            ToolCall("ask_user", {"question": "Ready?"}),
            ToolCall("show_card", {"title": "Pick", "actions": [{"id": "a"}, {"id": "b"}]}),
            "done",
        ]
    )
    agent = await kt.Agent.build(
        {
            "name": "t",
            "tools": [
                {"name": "ask_user", "require_manual": False},
                {"name": "show_card", "require_manual": False},
            ],
        },
        llm=llm,
        kernel=kt.Kernel(plugins=[kt_tools]),
        pwd=tmp_path,
    )
    async with trio.open_nursery() as nursery:
        async with agent:
            left = []

            async def watch():
                left.append(await example["approve_all"](agent))

            nursery.start_soon(watch)
            await trio.testing.wait_all_tasks_blocked()
            result = await agent.run("go")
    assert result.text == "done" and left == [[]]
    outputs = [c.output for c in result.tool_calls]
    assert outputs == ["yes", "action: a"]


def test_cli_from_a_pipe_answers_a_question_with_the_next_line(creature, env, server):
    server.replies += [
        openai_tool_calls([("call_1", "ask_user", {"question": "Which port?"})]),
        openai_text("Using 8080."),
    ]
    done = run_kt(
        ["run", creature, "--mode", "cli", "--no-session"],
        env=env,
        stdin="serve it\n8080\n",
        cwd=creature,
    )
    assert done.returncode == 0, done.stderr
    assert "? Which port?" in done.stdout and "Using 8080." in done.stdout
    assert tool_results(server.requests[1]) == ["8080"]


def test_allow_for_this_session_is_remembered_after_resume(creature, env, server, tmp_path):
    session = tmp_path / "granted.ktsession"
    server.replies += [
        openai_tool_calls([("call_1", "bash", {"command": "echo first"})]),
        openai_text("Ran it."),
        openai_tool_calls([("call_2", "bash", {"command": "echo after-resume"})]),
        openai_text("Ran again."),
    ]
    with kt_cli(creature, env, "--session", session) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("run\r")
        app.wait_for("[y/a/n] ›")
        app.send("a")
        app.wait_for("Ran it.")
        app.wait_for(lambda s: s.endswith(">"))
        app.send("\x04")
        assert app.wait_exit() == 0
    with PtyKt(["resume", session, "--mode", "cli"], env=env, cwd=creature) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("run again\r")
        screen = app.wait_for("Ran again.")
        assert "wants to run" not in screen  # the session's grant came back
        app.wait_for(lambda s: s.endswith(">"))
        app.send("\x04")
        assert app.wait_exit() == 0
    assert "after-resume" in tool_results(server.requests[3])[-1]


def test_model_picker_lists_custom_endpoints_and_picks_one_by_number(
    creature, env, server, isolated_kt
):
    write(
        isolated_kt / "llm.toml",
        f"""
        [endpoints.lab]
        backend = "openai"
        base_url = "{server.url}/v1"
        model = "lab-model"
        api_key_env = "LAB_KEY"
        """,
    )
    server.replies += [openai_text("from the lab")]
    with kt_cli(creature, {**env, "LAB_KEY": "lab-secret"}) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("/model\r")
        screen = app.wait_for("/model N picks one")
        screen = app.wait_for("switch with /model N")
        assert f"custom endpoint: lab-model at {server.url}/v1" in screen
        assert "  openai: " in screen and "1) " in screen  # the backends and presets come first
        number = re.search(r"(\d+)\) lab\b", screen).group(1)
        app.send(f"/model {number}\r")
        app.wait_for("model switched to lab")
        app.send("hello\r")
        app.wait_for("from the lab")
        app.send("/model 999\r")
        app.wait_for("/model: pick 1 to")
        app.send("\x04")
        assert app.wait_exit() == 0
    assert server.requests[-1].body["model"] == "lab-model"
    assert server.requests[-1].headers["authorization"] == "Bearer lab-secret"


def test_an_image_mention_attaches_the_image_and_other_mentions_stay_text(creature, env, server):
    import base64
    import zlib

    def png() -> bytes:  # a real 1×1 PNG, built here
        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

        header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
        pixels = zlib.compress(b"\x00\xff\x00\x00")
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b"")
        )

    (creature / "shot.png").write_bytes(png())
    (creature / "fake.png").write_text("not an image")
    server.replies += [openai_text("I see a green pixel.")]
    with kt_cli(creature, env) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("what is in @shot.png and @fake.png?\r")
        app.wait_for("I see a green pixel.")
        app.wait_for(lambda s: s.endswith(">"))  # the turn is over: Ctrl+D reaches the prompt
        app.send("\x04")
        assert app.wait_exit() == 0
    [user] = [m for m in server.requests[0].body["messages"] if m["role"] == "user"]
    text, image = user["content"]
    assert text == {"type": "text", "text": "what is in @shot.png and @fake.png?"}
    assert image["type"] == "image_url"
    assert image["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(png()).decode()
