"""Durability: a completed tool call is never lost on resume, nor reported as not having run.

One model reply asks for a fast and a slow call. The process dies after the fast call
completed (its ``tool_call_completed`` event is committed) while the slow one still runs: the
round's results never reached the history. Resume must give the model the fast call's real
result, and the slow call an "In doubt" result (it may have partly run), run neither again,
and leave a well-formed history; in both tool-call formats.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import trio
from kt_sessions_helpers import crash_image

import kt
import kt_formats
import kt_sessions
from kt.history import MISSING_RESULT, is_well_formed
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall


class Work:
    """A fast tool that finishes at once and a slow one that waits until released."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.slow_entered = trio.Event()
        self.release = trio.Event()

        @kt.tool
        def fast(tag: str) -> str:
            """Do a quick thing with a side effect.

            Args:
                tag: A label.
            """
            self.runs.append(f"fast {tag}")
            return f"fast {tag} done"

        @kt.tool
        async def slow(tag: str) -> str:
            """Do a slow thing.

            Args:
                tag: A label.
            """
            self.runs.append(f"slow {tag}")
            self.slow_entered.set()
            await self.release.wait()
            return f"slow {tag} done"

        self.tools = [fast, slow]


async def crash_after_fast_completed(kernel, config, reply, session_dir, tmp_path) -> tuple:
    work = Work()
    agent = await kt.Agent.build(
        config,
        llm=ScriptedLLM([reply, "unused"]),
        tools=work.tools,
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent, trio.open_nursery() as nursery:
        events = agent.subscribe()
        nursery.start_soon(agent.run, "do both")
        await work.slow_entered.wait()
        async for event in events:  # the recorder commits each event before it is passed on
            if event.type == "tool_call_completed" and event.name == "fast":
                break
        image = crash_image(agent.session.path, tmp_path / "image.ktsession")
        work.release.set()
    assert sorted(work.runs) == ["fast a", "slow b"]
    return image, work


async def test_a_completed_call_keeps_its_result_and_the_running_one_is_in_doubt(
    kernel, session_dir, tmp_path
):
    reply = ScriptEntry(
        text="Both at once.",
        tool_calls=[ToolCall("fast", {"tag": "a"}), ToolCall("slow", {"tag": "b"})],
    )
    image, _ = await crash_after_fast_completed(
        kernel, {"name": "durable"}, reply, session_dir, tmp_path
    )
    ran = []

    @kt.tool(name="fast")
    def fast_again(tag: str) -> str:
        """Must not run.

        Args:
            tag: A label.
        """
        ran.append(tag)
        return "ran again"

    @kt.tool(name="slow")
    def slow_again(tag: str) -> str:
        """Must not run.

        Args:
            tag: A label.
        """
        ran.append(tag)
        return "ran again"

    after = ScriptedLLM(["I see what happened."])
    resumed = await kt_sessions.resume(
        image, kernel=kernel, llm=after, tools=[fast_again, slow_again]
    )
    history = resumed.history
    assert is_well_formed(history)
    answers = {m.name: m.content for m in history if m.role == "tool"}
    assert answers == {"fast": "fast a done", "slow": MISSING_RESULT}
    assert "may have partly run" in MISSING_RESULT and "In doubt" in MISSING_RESULT
    async with resumed:
        result = await resumed.run("what happened?")
    assert result.status == "completed" and ran == []
    with kt_sessions.SessionReader(image) as reader:
        attached = [e.wire for e in reader.events("session_attached")][-1]
        slow_id = next(m.tool_call_id for m in history if m.name == "slow")
        assert attached["interrupted_calls"] == [slow_id]


async def test_text_format_keeps_the_completed_result_too(session_dir, tmp_path):
    kernel = kt.Kernel(plugins=[kt_sessions, kt_formats])
    reply = "Both.\n[/fast]\n@@tag=a\n[fast/]\n[/slow]\n@@tag=b\n[slow/]\n"
    image, _ = await crash_after_fast_completed(
        kernel, {"name": "texty", "tool_format": "bracket"}, reply, session_dir, tmp_path
    )
    after = ScriptedLLM(["Noted."])
    resumed = await kt_sessions.resume(image, kernel=kernel, llm=after)
    history = resumed.history
    assert is_well_formed(history)
    results = history[-1]
    assert results.role == "user" and results.meta == {"tool_results": True}
    assert "## fast " in results.content and "fast a done" in results.content
    slow_section = results.content.split("## slow ")[1]
    assert MISSING_RESULT in slow_section
    assert history[-2].role == "assistant" and "[/fast]" in history[-2].content


async def test_a_snapshot_keeps_the_open_rounds_results(kernel, session_dir, tmp_path):
    """The snapshot shortcut must agree with replaying the log."""
    reply = ScriptEntry(
        text="Both.", tool_calls=[ToolCall("fast", {"tag": "a"}), ToolCall("slow", {"tag": "b"})]
    )
    image, _ = await crash_after_fast_completed(
        kernel, {"name": "snap"}, reply, session_dir, tmp_path
    )
    with kt_sessions.SessionReader(image) as reader:
        state = reader.state("snap")
    again = type(state).from_json("snap", json.loads(json.dumps(state.to_json())))
    assert again.closed() == state.closed()
    assert any(m.content == "fast a done" for m in again.closed().messages)


async def test_session_files_and_their_folder_are_private(kernel, session_dir):
    agent = await kt.Agent.build(
        {"name": "private"},
        llm=ScriptedLLM(["hi"]),
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        await agent.run("hello")
        path = agent.session.path
        files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
        modes = {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in files}
    assert stat.S_IMODE(os.stat(session_dir).st_mode) == 0o700
    assert modes and all(mode == 0o600 for mode in modes.values()), modes


async def test_files_are_private_whatever_the_umask(kernel, tmp_path):
    folder = tmp_path / "sessions"
    old = os.umask(0)
    try:
        agent = await kt.Agent.build(
            {"name": "p"},
            llm=ScriptedLLM(["hi"]),
            kernel=kernel,
            session=True,
            session_dir=folder,
        )
        async with agent:
            await agent.run("x")
            path = agent.session.path
            wal = Path(f"{path}-wal")
            assert stat.S_IMODE(os.stat(wal).st_mode) == 0o600
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


async def test_a_new_file_records_with_the_durability_asked_for(kernel, tmp_path):
    # A new file's first transaction runs unsynced (kt_sessions.store): what follows must not.
    for durability, level in (("normal", 1), ("full", 2)):
        recorder = kt_sessions.SessionRecorder(
            tmp_path / f"{durability}.ktsession", durability=durability
        )
        agent = await kt.Agent.build(
            {"name": "d"}, llm=ScriptedLLM(["hi"]), kernel=kernel, session=recorder
        )
        async with agent:
            await agent.run("x")
            synchronous = agent.session.store.db.execute_sql("PRAGMA synchronous").fetchone()
            assert synchronous == (level,), durability


def test_a_lone_surrogate_in_a_reply_does_not_stop_kt_run(kt_cmd, tmp_path):
    folder = tmp_path / "creature"
    folder.mkdir()
    (folder / "creature.toml").write_text('name = "odd"\n')
    replies = {"replies": [{"text": "bad \udbff here"}, {"text": "second fine"}]}
    (folder / "replies.json").write_text(json.dumps(replies))  # JSON keeps the escape
    done = kt_cmd(
        "run",
        folder,
        "--mode",
        "plain",
        "--llm",
        f"scripted:{folder / 'replies.json'}",
        stdin="one\ntwo\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["bad \ufffd here", "second fine"]
