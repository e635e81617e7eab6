"""`kt run --mode tui`, driven for real on a pseudo-terminal: keys in, the screen read by pyte."""

from __future__ import annotations

import re

import pytest
from kt_cli_helpers import REPO, PtyKt, kt_env, run_kt, write

pytest.importorskip("urwid", reason="kt_tui needs urwid (the tui extra)")
pytest.importorskip(
    "pyte", reason="the terminal tests read the screen with pyte (a dev dependency)"
)

TOOLS = '''
import kt
import trio


@kt.tool
def word_count(text: str) -> str:
    """Count words."""
    return f"{len(text.split())} words"


@kt.tool
async def slow_tool(seconds: float) -> str:
    """Wait a while."""
    await trio.sleep(seconds)
    return "slept"
'''

REPLIES = """
[[replies]]
text = "Counting."
tool_calls = [{ name = "word_count", args = { text = "a b c" } }]

[[replies]]
text = "There are 3 words."

[[replies]]
text = "Waiting."
tool_calls = [{ name = "slow_tool", args = { seconds = 30 } }]
usage = { prompt_tokens = 5000, completion_tokens = 700 }

[[replies]]
text = "still here"
"""


@pytest.fixture
def creature(tmp_path):
    folder = tmp_path / "tester"
    write(
        folder / "creature.toml",
        """
        name = "tester"
        [controller]
        llm = "scripted:replies.toml"
        [[tools]]
        name = "word_count"
        module = "./tools.py"
        [[tools]]
        name = "slow_tool"
        module = "./tools.py"
        """,
    )
    write(folder / "tools.py", TOOLS)
    write(folder / "replies.toml", REPLIES)
    return folder


def tui(target, isolated_kt, tui_site, plugins="kt_tui"):
    env = kt_env(isolated_kt, plugins=plugins, extra_paths=[tui_site])
    return PtyKt(["run", target, "--mode", "tui"], env=env)


def ready(screen: str) -> bool:
    return "Enter sends · /help" in screen


def test_transcript_side_panel_and_slash_commands(creature, isolated_kt, tui_site):
    with tui(creature, isolated_kt, tui_site, plugins="kt_tui,kt_sessions") as app:
        screen = app.wait_for(ready)
        assert "kt · tester" in screen.splitlines()[0]
        for section in ("Model", "Session", "Usage", "Running", "Jobs", "Sub-agents"):
            assert f"│{section}" in screen
        assert "scripted:" in screen and "replies.toml" in screen  # the script, maybe made absolute
        app.send("count a b c\r")
        app.wait_for("There are 3 words.")
        screen = app.wait_for("turns 1 · messages 4")  # the side panel follows the turn's end
        assert "│> count a b c" in screen
        assert "│Counting." in screen
        assert '│✓ word_count {"text": "a b c"}' in screen
        app.send("/status\r")
        screen = app.wait_for("usage     ")
        assert "creature  tester" in screen and "session   tester_" in screen
        app.send("/he\t")  # Tab completes a command name
        app.wait_for("> /help")
        app.send("\r")
        app.wait_for("Ctrl+D on an empty line exits")
        app.send("\x1b[A")  # Up recalls the last input
        app.wait_for(lambda s: s.splitlines()[-1].rstrip() == "> /help")
        app.send("\x15\x04")  # Ctrl+U clears the line; Ctrl+D on an empty line leaves
        assert app.wait_exit() == 0
        assert "kt: session saved; continue it with: kt resume tester_" in app.plain_output()


def test_running_tool_spinner_and_ctrl_c(creature, isolated_kt, tui_site):
    with tui(creature, isolated_kt, tui_site) as app:
        app.wait_for(ready)
        app.send("count\r")
        app.wait_for("There are 3 words.")
        app.send("wait\r")
        screen = app.wait_for("running tools… · Ctrl+C interrupts")
        screen = app.wait_for('slow_tool {"seconds": 30}')  # in the side panel's Running
        assert "│Running" in screen

        def usage_counts_the_running_turn(screen: str) -> bool:
            rows = screen.splitlines()
            usage = next(rows[i + 1] for i, row in enumerate(rows) if "│Usage" in row)
            tokens_in, tokens_out = re.search(r"│(\d+) in / (\d+) out", usage).groups()
            return int(tokens_in) > 5000 and int(tokens_out) > 700

        app.wait_for(usage_counts_the_running_turn)  # its model call ended; the turn has not
        app.send("\x03")
        screen = app.wait_for("turn interrupted")
        assert "interrupting; press Ctrl+C again to exit" in screen
        app.wait_for(ready)
        app.send("again\r")
        app.wait_for("still here")
        app.send("\x03")  # idle, empty input: arms the exit
        app.wait_for("press Ctrl+C again to exit, or Ctrl+D")
        app.send("\x03")
        assert app.wait_exit() == 130


def test_demo_sub_agent_shows_in_the_side_panel(isolated_kt, tui_site):
    with tui(REPO / "examples" / "demo", isolated_kt, tui_site, "kt_tui,kt_subagents") as app:
        app.wait_for(ready)
        app.send("count the words in 'the quick brown fox'\r")
        app.wait_for("Your text has 4 words.")
        app.send("summarise our chat\r")
        screen = app.wait_for("My sub-agent's summary")
        assert "│✓ summarize" in screen  # the transcript line of the finished call
        # The panel follows the sub-agent's own events, which may paint a frame
        # after the reply: wait for it rather than read one snapshot.
        app.wait_for(lambda s: "✓ summarize" in s.split("│Sub-agents", 1)[-1])


def test_resume_in_the_tui_shows_where_the_conversation_stopped(creature, isolated_kt, tui_site):
    env = kt_env(isolated_kt, plugins="kt_tui,kt_sessions", extra_paths=[tui_site])
    done = run_kt(["run", creature, "--mode", "plain"], env=env, stdin="count\n")
    assert done.returncode == 0, done.stderr
    with PtyKt(["resume", "--last", "--mode", "tui"], env=env) as app:
        screen = app.wait_for(ready)
        transcript = [line.split("│")[1].rstrip() for line in screen.splitlines()[3:10]]
        assert transcript == [
            "the conversation so far ended with:",
            "> count",
            "Counting.",
            '  → word_count {"text": "a b c"}',
            "  ↳ word_count: 3 words",
            "There are 3 words.",
            "",
        ]
        app.send("\x04")
        assert app.wait_exit() == 0
