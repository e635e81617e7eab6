"""`kt run --mode cli`, driven for real on a pseudo-terminal (keys in, screen read back by pyte)."""

from __future__ import annotations

import pytest
from kt_cli_helpers import PtyKt, kt_env, write

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


@kt.tool(background=True)
async def report(topic: str) -> str:
    """Write a report in the background."""
    await trio.sleep(0.2)
    return f"report on {topic} ready"
'''


@pytest.fixture
def make_creature(tmp_path):
    """A creature folder with tools and the given scripted replies (TOML body)."""

    def make(replies: str, name: str = "tester"):
        folder = tmp_path / name
        write(
            folder / "creature.toml",
            f"""
            name = "{name}"
            [controller]
            llm = "scripted:replies.toml"
            [[tools]]
            name = "word_count"
            module = "./tools.py"
            [[tools]]
            name = "slow_tool"
            module = "./tools.py"
            [[tools]]
            name = "report"
            module = "./tools.py"
            """,
        )
        write(folder / "tools.py", TOOLS)
        write(folder / "replies.toml", replies)
        return folder

    return make


def kt_cli(folder, env, *extra):
    return PtyKt(["run", folder, "--mode", "cli", *extra], env=env)


TOOL_TURN = """
[[replies]]
text = "Counting."
tool_calls = [{ name = "word_count", args = { text = "a b c" } }]

[[replies]]
text = "There are 3 words."

[[replies]]
text = "Anything else?"
"""


def test_streams_the_reply_and_shows_one_line_per_finished_tool_call(make_creature, isolated_kt):
    with kt_cli(make_creature(TOOL_TURN), kt_env(isolated_kt)) as app:
        app.wait_for("/help for commands, Ctrl+D to exit")
        app.wait_for(lambda s: s.endswith(">"))
        app.send("count a b c\r")
        screen = app.wait_for("There are 3 words.")
        lines = screen.splitlines()
        start = lines.index("> count a b c")
        assert lines[start + 1 : start + 4] == [
            "Counting.",
            lines[start + 2],
            "There are 3 words.",
        ]
        assert lines[start + 2].startswith('✓ word_count {"text": "a b c"} ')
        app.wait_for(lambda s: s.splitlines()[-1] == ">")
        app.send("\x04")
        assert app.wait_exit() == 0


SLOW = """
[[replies]]
text = "Waiting for the tool."
tool_calls = [{ name = "slow_tool", args = { seconds = 30 } }]

[[replies]]
text = "{text}"
chunk_size = 4
delay = 0.2

[[replies]]
text = "second answer"
"""


def test_spinner_and_running_tool_show_while_waiting_and_ctrl_c_interrupts(
    make_creature, isolated_kt
):
    with kt_cli(
        make_creature(SLOW.replace("{text}", "the run goes on")), kt_env(isolated_kt)
    ) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("go\r")
        # the spinner says "working…" until the model asks for the tool: wait for that state
        screen = app.wait_for("running tools…")
        spinner_row = next(line for line in screen.splitlines() if "running tools…" in line)
        assert "(Ctrl+C interrupts)" in spinner_row
        app.wait_for('slow_tool {"seconds": 30}')  # the running call, live under the spinner
        app.send("\x03")
        screen = app.wait_for("turn interrupted")
        assert "interrupting; press Ctrl+C again to exit" in screen
        assert "✗ slow_tool" in screen and "interrupted" in screen
        app.wait_for(lambda s: s.splitlines()[-1] == ">")
        app.send("again\r")
        app.wait_for("the run goes on")


def test_second_ctrl_c_during_a_turn_exits_130(make_creature, isolated_kt):
    with kt_cli(make_creature(SLOW.replace("{text}", "word " * 300)), kt_env(isolated_kt)) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("go\r")
        app.wait_for("(Ctrl+C interrupts)")
        app.send("\x03")
        app.wait_for("press Ctrl+C again to exit")
        # the interrupted turn ends fast; a second press while the next turn runs exits
        app.wait_for(lambda s: s.splitlines()[-1] == ">")
        app.send("more\r")
        app.wait_for("word word")
        app.send("\x03\x03")  # one write: both presses arrive before the turn can end
        assert app.wait_exit() == 130
        assert "stopped by Ctrl+C" in app.text()


def test_ctrl_d_exits_with_the_session_saved_and_the_resume_command(make_creature, isolated_kt):
    env = kt_env(isolated_kt, plugins="kt_sessions")
    with kt_cli(make_creature(TOOL_TURN), env) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("count\r")
        app.wait_for("There are 3 words.")
        app.wait_for(lambda s: s.splitlines()[-1] == ">")
        app.send("\x04")
        assert app.wait_exit() == 0
        screen = app.text()
    hint = screen.splitlines()[-1]
    assert hint.startswith("kt: session saved; continue it with: kt resume tester_")
    name = hint.rsplit(" ", 1)[1]
    assert (isolated_kt / "sessions" / f"{name}.ktsession").is_file()


def test_ctrl_c_at_the_prompt_clears_the_line_then_twice_exits(make_creature, isolated_kt):
    with kt_cli(make_creature(TOOL_TURN), kt_env(isolated_kt)) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("half typed")
        app.wait_for("> half typed")
        app.send("\x03")
        app.wait_for(lambda s: s.splitlines()[-1] == ">")
        app.send("\x03")
        app.wait_for("press Ctrl+C again to exit, or Ctrl+D")
        app.send("\x03")
        assert app.wait_exit() == 130


def test_input_history_and_line_editing(make_creature, isolated_kt):
    with kt_cli(make_creature(TOOL_TURN), kt_env(isolated_kt)) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("count a b c\r")
        app.wait_for(lambda s: s.splitlines()[-1] == ">" and "There are 3 words." in s)
        app.send("\x1b[A")  # Up: the previous input comes back
        app.wait_for(lambda s: s.splitlines()[-1] == "> count a b c")
        app.send("\x1b[D\x1b[D\x1b[D\x7f\x7fX")  # Left x3, Backspace x2, type X
        app.wait_for(lambda s: s.splitlines()[-1] == "> count Xb c")
        app.send("\x05\x15/sta\t")  # Ctrl+E, Ctrl+U clears; Tab completes the command
        app.wait_for(lambda s: s.splitlines()[-1] == "> /status")
    history = (isolated_kt / "input-history").read_text(encoding="utf-8")
    assert history.splitlines() == ["count a b c"]


def test_slash_commands_help_status_clear_and_unknown(make_creature, isolated_kt):
    with kt_cli(make_creature(TOOL_TURN), kt_env(isolated_kt)) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("/help\r")
        screen = app.wait_for("Ctrl+D on an empty line exits")
        for command in ("/model", "/compact", "/regen", "/edit", "/fork", "/clear", "/status"):
            assert f"  {command}" in screen
        app.send("count\r")
        app.wait_for("There are 3 words.")
        app.send("/status\r")
        screen = app.wait_for("usage     ")
        assert "creature  tester" in screen
        assert "turns     1  messages 4  tools 3" in screen
        assert "session   not recorded" in screen
        app.send("/clear\r")
        app.wait_for("history cleared")
        app.send("/info\r")  # an alias
        app.wait_for("turns     1  messages 0")
        app.send("/frobnicate\r")
        app.wait_for("unknown command /frobnicate; /help lists the commands")
        app.send("/exit\r")
        assert app.wait_exit() == 0


def test_model_shows_the_choices_and_switches(make_creature, isolated_kt, tmp_path):
    other = write(tmp_path / "other.toml", 'replies = ["from the other model"]')
    with kt_cli(make_creature(TOOL_TURN), kt_env(isolated_kt)) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("/model\r")
        screen = app.wait_for("switch with /model N or /model SELECTOR")
        assert "model: scripted:" in screen and "replies.toml" in screen
        assert "  scripted" in screen
        app.send(f"/model scripted:{other}\r")
        # the path may wrap at the terminal's width: read the screen unwrapped
        app.wait_for(
            lambda screen: f"model switched to scripted:{other}" in screen.replace("\n", "")
        )
        app.send("hello\r")
        app.wait_for("from the other model")
        app.send("/model nosuch/model\r")
        app.wait_for("unknown LLM backend 'nosuch' in 'nosuch/model'")


REGEN = """
[[replies]]
text = "first answer"

[[replies]]
text = "second answer"

[[replies]]
text = "answer to the edit"

[[replies]]
text = "summary of old turns"

[[replies]]
text = "after compaction"
"""


def test_regen_edit_fork_and_compact_through_the_session_plugin(make_creature, isolated_kt):
    env = kt_env(isolated_kt, plugins="kt_sessions")
    with kt_cli(make_creature(REGEN), env) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("question\r")
        app.wait_for("first answer")
        app.send("/regen\r")
        app.wait_for("second answer")
        app.send("/edit\r")  # no text: the last input is offered for editing
        app.wait_for(lambda s: s.splitlines()[-1] == "> /edit question")
        app.send("\x15/edit better question\r")
        app.wait_for("answer to the edit")
        app.send("/status\r")
        app.wait_for("turns     3  messages 2")  # one live exchange: the others are branches
        app.send("/branch\r")
        screen = app.wait_for("branches (* live; switch with /branch PATH):")
        app.wait_for(lambda s: s.endswith(">"))
        screen = app.text()
        assert "  1        asked: question" in screen
        assert "* 3        edit: better question" in screen
        app.send("/fork --name alt\r")
        screen = app.wait_for("continue it with: kt resume")
        fork_line = next(line for line in screen.splitlines() if line.startswith("forked into"))
        assert fork_line.startswith("forked into tester_") and "-alt;" in fork_line
        app.send("another\r")
        app.wait_for("summary of old turns")  # scripted: the next reply, used as a turn
        app.send("/compact 0\r")
        app.wait_for("usage: /compact [TURNS], TURNS (at least 1) the user turns to keep")
        app.send("/compact 1\r")
        app.wait_for("history compacted: 3 messages now")
        app.send("\x04")
        assert app.wait_exit() == 0
    forks = sorted((isolated_kt / "sessions").glob("*-alt.ktsession"))
    assert len(forks) == 1


def test_regen_without_the_session_plugin_says_what_is_missing(make_creature, isolated_kt):
    with kt_cli(make_creature(REGEN), kt_env(isolated_kt)) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("/regen\r")
        app.wait_for("/regen: needs the kt_sessions plugin")


BACKGROUND = """
[[replies]]
text = "Starting the report."
tool_calls = [{ name = "report", args = { topic = "trio" } }]

[[replies]]
text = "It runs in the background."

[[replies]]
text = "The report is ready."
"""


def test_background_work_is_shown_when_handed_off_and_when_it_finishes(make_creature, isolated_kt):
    with kt_cli(make_creature(BACKGROUND), kt_env(isolated_kt)) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("write a report\r")
        screen = app.wait_for("The report is ready.")
        assert '↻ report {"topic": "trio"} · running in the background' in screen
        assert "↻ background work finished: [Background job" in screen
        assert '✓ report {"topic": "trio"} (background)' in screen
        app.wait_for(lambda s: s.splitlines()[-1] == ">")


def test_default_mode_on_a_terminal_is_cli(make_creature, isolated_kt):
    with PtyKt(["run", make_creature(TOOL_TURN)], env=kt_env(isolated_kt)) as app:
        app.wait_for("/help for commands, Ctrl+D to exit")


def test_a_line_typed_while_the_creature_works_runs_next(make_creature, isolated_kt):
    replies = SLOW.replace("{text}", "the queued line ran")
    with kt_cli(make_creature(replies), kt_env(isolated_kt)) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("go\r")
        app.wait_for('slow_tool {"seconds": 30}')
        app.send("queued line\r")  # typed unseen while the tool runs
        app.send("\x03")  # interrupt the slow turn: the queued line runs next
        screen = app.wait_for("the queued line ran")
        lines = screen.splitlines()
        assert lines.index("> queued line") > lines.index("turn interrupted")
        app.wait_for(lambda s: s.splitlines()[-1] == ">")  # the editor was emptied


def test_an_interrupted_tool_shows_how_long_it_really_ran(make_creature, isolated_kt):
    import re

    with kt_cli(make_creature(SLOW.replace("{text}", "ok")), kt_env(isolated_kt)) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("go\r")
        # the live line counts up; interrupt once it shows a second or more
        app.wait_for(lambda s: re.search(r'slow_tool \{"seconds": 30\} [1-9]\d*\.\d+s', s))
        app.send("\x03")
        screen = app.wait_for("turn interrupted")
    line = next(row for row in screen.splitlines() if row.startswith("✗ slow_tool"))
    seconds = float(re.search(r"after (\d+\.\d)s", line).group(1))
    assert seconds >= 1.0, line


def test_esc_interrupts_a_running_turn(make_creature, isolated_kt):
    with kt_cli(make_creature(SLOW.replace("{text}", "ok")), kt_env(isolated_kt)) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("go\r")
        app.wait_for('slow_tool {"seconds": 30}')
        app.send("\x1b")
        screen = app.wait_for("turn interrupted")
        assert "interrupting (Esc)" in screen
        app.wait_for(lambda s: s.splitlines()[-1] == ">")
        app.send("\x04")
        assert app.wait_exit() == 0
