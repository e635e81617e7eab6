"""Crash safety: `kill -9` a real `kt run` at random points, then read and resume its file.

Each iteration runs a scripted multi-turn, multi-tool conversation in a `kt run` subprocess
and kills it with SIGKILL at a random moment (seeded) after its first reply appeared: while
text streams, while a tool runs, between turns. Then the file must open, hold every turn and
tool result the process had reported (what it printed), show the cut turn as interrupted, and
`kt resume --last` must continue: no tool re-run, a well-formed conversation, monotonic ids.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import time

import pytest
from kt_sessions_helpers import write

import kt_sessions
from kt.history import is_well_formed

ITERATIONS = 15
SEED = 20260505

TOOLS = '''
import trio
import kt

LOG = __import__("pathlib").Path(__file__).with_name("tool-runs.log")


@kt.tool
async def slow(seconds: float, tag: str) -> str:
    """Work for a while.

    Args:
        seconds: How long.
        tag: A label.
    """
    with LOG.open("a") as log:
        log.write(f"start {tag}\\n")
    await trio.sleep(seconds)
    with LOG.open("a") as log:
        log.write(f"end {tag}\\n")
    return f"slow {tag} done"


@kt.tool
def quick(tag: str) -> str:
    """Answer at once.

    Args:
        tag: A label.
    """
    with LOG.open("a") as log:
        log.write(f"start {tag}\\nend {tag}\\n")
    return f"quick {tag} done"
'''

CONFIG = """
name = "crashy"
system_prompt = "You work in small steps."

[[tools]]
name = "slow"
module = "./tools.py"

[[tools]]
name = "quick"
module = "./tools.py"

[[plugins]]
name = "session"
module = "kt_sessions"
class = "SessionRecorder"
"""


def script(turns: int) -> str:
    """Per turn: streamed text with a slow and a quick call, then a streamed answer."""
    replies = []
    for n in range(1, turns + 1):
        replies.append(
            f"""
[[replies]]
text = "Turn {n}: let me work on it step by step."
chunk_size = 4
delay = 0.02
tool_calls = [
  {{ name = "slow", args = {{ seconds = 0.3, tag = "s{n}" }} }},
  {{ name = "quick", args = {{ tag = "q{n}" }} }},
]

[[replies]]
text = "Answer {n} is ready."
chunk_size = 3
delay = 0.02
"""
        )
    return "".join(replies)


@pytest.fixture
def creature(tmp_path):
    folder = tmp_path / "creature"
    write(folder / "creature.toml", CONFIG)
    write(folder / "tools.py", TOOLS)
    write(folder / "replies.toml", script(4))
    write(folder / "resume.toml", '[[replies]]\ntext = "Resumed after the crash."\n')
    return folder


def read_for(process: subprocess.Popen, seconds: float) -> tuple[bytes, bytes]:
    """Collect stdout and stderr for *seconds* (the random kill point), then return them."""
    out, err = b"", b""
    deadline = time.monotonic() + seconds
    streams = {process.stdout.fileno(): "out", process.stderr.fileno(): "err"}
    while streams:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select(list(streams), [], [], remaining)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                del streams[fd]
            elif streams[fd] == "out":
                out += chunk
            else:
                err += chunk
    return out, err


def wait_for_first_reply(process: subprocess.Popen) -> tuple[bytes, bytes]:
    out, err = b"", b""
    deadline = time.monotonic() + 30
    while b"Turn 1:" not in out:
        assert time.monotonic() < deadline, f"no reply; stderr: {err!r}"
        more_out, more_err = read_for(process, 0.05)
        out, err = out + more_out, err + more_err
        assert process.poll() is None or b"Turn 1:" in out, err
    return out, err


def test_kill_9_at_random_points_then_read_and_resume(kt_cmd, creature, isolated_home):
    rng = random.Random(SEED)
    sessions = isolated_home / "sessions"
    log = creature / "tool-runs.log"
    inputs = b"".join(f"task {n}\n".encode() for n in range(1, 5))
    for iteration in range(ITERATIONS):
        for old in sessions.glob("*"):
            old.unlink()
        log.unlink(missing_ok=True)
        process = kt_cmd.start(
            "run",
            creature,
            "--mode",
            "plain",
            "--no-session",
            "--llm",
            f"scripted:{creature / 'replies.toml'}",
        )
        process.stdin.write(inputs)
        process.stdin.flush()
        out, err = wait_for_first_reply(process)
        more_out, more_err = read_for(process, rng.uniform(0.0, 1.8))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        rest_out, rest_err = process.communicate(timeout=10)
        out, err = (out + more_out + rest_out).decode(), (err + more_err + rest_err).decode()
        where = f"iteration {iteration}: stdout {out!r} stderr {err!r}"

        (path,) = sessions.glob("*.ktsession")
        with kt_sessions.SessionReader(path) as reader:
            turns = reader.turns()
            status = reader.status
            before_ids = [e.id for e in reader.events()]
        # Nothing the process reported is missing: every answer it printed is a completed turn.
        # An answer is reported once its line is ended: its text is printed as it streams, and
        # the line ends at the turn's TurnCompleted, which outputs see after the recorder
        # committed it. A kill between the last chunk and that is a turn still running.
        printed = [n for n in range(1, 5) if f"Answer {n} is ready.\n" in out]
        completed = [t for t in turns if t.completed]
        assert len(completed) >= len(printed), where
        for turn in completed:
            assert turn.text == f"Answer {turn.index} is ready.", where
            assert [c.status for c in turn.tool_calls] == ["ok", "ok"], where
        # Every tool result the process reported is in the file.
        reported = err.count(" ok ")
        recorded = sum(c.status == "ok" for t in turns for c in t.tool_calls)
        assert recorded >= reported, where
        if len(completed) < 4:  # the run was cut: the turn it was in is visible as cut
            assert status == "crashed", where
            cut = [t for t in turns if not t.completed]  # none when killed between two turns
            assert cut in ([], turns[-1:]), where
            assert all(t.status == "interrupted" for t in cut), where
        assert before_ids == list(range(1, len(before_ids) + 1)), where

        runs_before = log.read_text() if log.exists() else ""
        resumed = kt_cmd(
            "resume",
            "--last",
            "--mode",
            "plain",
            "--llm",
            f"scripted:{creature / 'resume.toml'}",
            stdin="carry on\n",
        )
        assert resumed.returncode == 0, f"{where}\nresume: {resumed.stderr}"
        assert resumed.stdout.strip() == "Resumed after the crash.", where
        assert (log.read_text() if log.exists() else "") == runs_before, where  # nothing re-run
        with kt_sessions.SessionReader(path) as reader:
            after = reader.turns()
            ids = [e.id for e in reader.events()]
            conversation = reader.conversation()
            assert reader.status == "paused"
        assert ids == list(range(1, len(ids) + 1)) and ids[: len(before_ids)] == before_ids
        assert after[-1].input == "carry on" and after[-1].status == "completed", where
        assert after[-1].index == max(t.index for t in turns) + 1, where
        assert is_well_formed(conversation), where
        assert conversation[-1].content == "Resumed after the crash.", where


def test_readers_in_other_processes_while_kt_run_writes(kt_cmd, creature, isolated_home):
    write(creature / "replies.toml", script(3))
    process = kt_cmd.start(
        "run",
        creature,
        "--mode",
        "plain",
        "--no-session",
        "--llm",
        f"scripted:{creature / 'replies.toml'}",
    )
    process.stdin.write(b"task 1\ntask 2\ntask 3\n")
    process.stdin.close()
    wait_for_first_reply(process)
    (path,) = (isolated_home / "sessions").glob("*.ktsession")
    seen = []
    searches = 0
    while process.poll() is None:
        with kt_sessions.SessionReader(path) as reader:  # a viewer's connection
            seen.append(reader.last_event_id())
            reader.turns()
        found = kt_cmd("search", path.name, "step by step", "--mode", "fts")  # another process
        assert found.returncode == 0, found.stderr
        searches += 1
    process.wait(timeout=30)
    assert process.returncode == 0, process.stderr.read()
    assert seen == sorted(seen) and searches >= 1
    with kt_sessions.SessionReader(path) as reader:
        assert [t.status for t in reader.turns()] == ["completed"] * 3
        assert reader.last_event_id() >= seen[-1]
    assert "Found" in found.stdout


HANG_TOOLS = """
import trio
import kt


@kt.tool
async def hang(what: str) -> str:
    \"\"\"Wait for something that never comes.

    Args:
        what: What to wait for.
    \"\"\"
    await trio.sleep(600)
    return "never"
"""


def test_scenario_kill_mid_tool_then_resume_last_shows_where_it_stopped(kt_cmd, tmp_path):
    folder = tmp_path / "hanger"
    write(
        folder / "creature.toml",
        """
        name = "hanger"

        [[tools]]
        name = "hang"
        module = "./tools.py"

        [[plugins]]
        name = "session"
        module = "kt_sessions"
        class = "SessionRecorder"
        """,
    )
    write(folder / "tools.py", HANG_TOOLS)
    write(
        folder / "replies.toml",
        """
        [[replies]]
        text = "Hello wor"
        chunk_size = 3
        tool_calls = [{ name = "hang", args = { what = "the bus" } }]
        """,
    )
    write(folder / "after.toml", '[[replies]]\ntext = "It was cut short."\n')
    process = kt_cmd.start(
        "run",
        folder,
        "--mode",
        "plain",
        "--no-session",
        "--llm",
        f"scripted:{folder / 'replies.toml'}",
    )
    process.stdin.write(b"wait for the bus\n")
    process.stdin.flush()
    err = b""
    deadline = time.monotonic() + 30
    while b"[tool] hang" not in err:
        assert time.monotonic() < deadline, err
        err += read_for(process, 0.05)[1]
    read_for(process, 0.3)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    process.communicate(timeout=10)

    resumed = kt_cmd(
        "resume",
        "--last",
        "--mode",
        "plain",
        "--llm",
        f"scripted:{folder / 'after.toml'}",
        stdin="what happened?\n",
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "> wait for the bus" in resumed.stderr
    assert "Hello wor" in resumed.stderr
    assert "[tool hang {'what': 'the bus'}]" in resumed.stderr
    assert "[hang -> In doubt" in resumed.stderr
    assert resumed.stdout.strip() == "It was cut short."
