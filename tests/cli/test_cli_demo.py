"""The offline demo (examples/demo): tools, a sub-agent, the session file and `kt resume --last`."""

from __future__ import annotations

import pytest
from kt_cli_helpers import REPO, PtyKt, kt_env, run_kt

DEMO = REPO / "examples" / "demo"
TOUR = "count the words in 'the quick brown fox'\nsummarise our chat\nthanks\n"


@pytest.fixture
def env(isolated_kt):
    return kt_env(isolated_kt, plugins="kt_sessions,kt_subagents")


def test_the_tour_runs_offline_and_resumes(env, isolated_kt):
    done = run_kt(["run", DEMO, "--mode", "plain"], env=env, stdin=TOUR)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Let me count those words.",
        "Your text has 4 words.",
        "I'll ask my summarize sub-agent to write up our conversation.",
        "My sub-agent's summary: you asked how many words 'the quick brown fox' has, and "
        "word_count counted 4. That's the tour: leave with Ctrl+D or /exit, then continue "
        "this session with `kt resume --last`.",
        "That was the demo's last scripted reply: the next message ends in an error saying "
        "the script is used up. Edit examples/demo/replies.toml to script more, or run any "
        "creature with --llm BACKEND/MODEL for a real model.",
    ]
    err = done.stderr.splitlines()
    assert err[0] == '[tool] word_count {"text": "the quick brown fox"}'
    assert err[2] == '[tool] summarize {"task": "Summarise this conversation in one sentence."}'
    assert err[3].startswith("[tool] summarize ok ")
    assert err[-1].startswith("kt: session saved; continue it with: kt resume demo_")
    (session,) = (isolated_kt / "sessions").glob("demo_*.ktsession")
    assert err[-1].endswith(session.stem)

    resumed = run_kt(["resume", "--last", "--mode", "plain"], env=env, stdin="one more\n")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed {session.stem} (3 user messages)" in resumed.stderr
    assert "> summarise our chat" in resumed.stderr  # the restored conversation is shown
    assert resumed.stdout.startswith("Let me count those words.")  # the script starts over


def test_the_tour_in_cli_mode_shows_tool_and_sub_agent_lines(env):
    pytest.importorskip("pyte", reason="the terminal tests read the screen with pyte")
    with PtyKt(["run", DEMO], env=env) as app:
        app.wait_for(lambda s: s.endswith(">"))
        app.send("count the words in 'the quick brown fox'\r")
        app.wait_for("Your text has 4 words.")
        app.send("summarise our chat\r")
        screen = app.wait_for("My sub-agent's summary")
        assert '✓ word_count {"text": "the quick brown fox"}' in screen
        assert '✓ summarize {"task": "Summarise this conversation in one sentence."}' in screen
        app.wait_for(lambda s: s.splitlines()[-1] == ">")
        app.send("\x04")
        assert app.wait_exit() == 0
        assert "kt: session saved; continue it with: kt resume demo_" in app.text()
