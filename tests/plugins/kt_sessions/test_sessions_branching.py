"""Branching: regenerate, edit and re-run, list and select branches, fork into a new file."""

from __future__ import annotations

import json
import sqlite3

import pytest
import trio

import kt
import kt_sessions
from kt.testing import ScriptedLLM, ToolCall
from kt_sessions.errors import BranchError, ForkNotStableError


def echo_model():
    """A model that answers each user input with a numbered echo, so branches differ."""
    count = 0

    def reply(request):
        nonlocal count
        count += 1
        last = [m for m in request.messages if m.role == "user"][-1]
        return f"reply {count} to {last.content}"

    return ScriptedLLM([reply])


async def build(kernel, session_dir, **options):
    return await kt.Agent.build(
        {"name": "brancher"},
        llm=options.pop("llm", None) or echo_model(),
        kernel=kernel,
        session=True,
        session_dir=session_dir,
        **options,
    )


def contents(messages):
    return [m.content for m in messages]


async def test_regenerate_makes_a_new_branch_of_the_last_turn(kernel, session_dir):
    agent = await build(kernel, session_dir)
    async with agent:
        await agent.run("hello")
        await agent.run("how are you")
        result = await kt_sessions.regenerate(agent)
        assert result.text == "reply 3 to how are you"
        assert contents(agent.history) == [
            "hello",
            "reply 1 to hello",
            "how are you",
            "reply 3 to how are you",
        ]
        listed = [(b.path, b.reason, b.input, b.live) for b in kt_sessions.branches(agent)]
    assert listed == [
        ((1,), "", "hello", True),
        ((1, 1), "", "how are you", False),
        ((1, 2), "regenerate", "how are you", True),
    ]
    with kt_sessions.SessionReader(agent.session.path) as reader:
        # The default view follows the newest branch; the old one is still there.
        assert reader.conversation() == agent.history
        assert contents(reader.conversation(branch=(1, 1))) == [
            "hello",
            "reply 1 to hello",
            "how are you",
            "reply 2 to how are you",
        ]
        # The user message is in the conversation once per branch, never twice.
        assert contents(reader.conversation()).count("how are you") == 1


async def test_edit_reruns_from_an_earlier_turn_and_drops_later_turns_from_the_view(
    kernel, session_dir
):
    agent = await build(kernel, session_dir)
    async with agent:
        for text in ("one", "two", "three"):
            await agent.run(text)
        await kt_sessions.edit(agent, "TWO", turn=2)
        assert contents(agent.history) == ["one", "reply 1 to one", "TWO", "reply 4 to TWO"]
        await agent.run("four")  # continues the new branch
        await kt_sessions.edit(agent, "new text")  # -1: the last user turn
        assert contents(agent.history)[-2:] == ["new text", "reply 6 to new text"]
        branches = kt_sessions.branches(agent)
    by_path = {b.path: b for b in branches}
    assert by_path[(1, 2)].reason == "edit" and by_path[(1, 2)].input == "TWO"
    assert by_path[(1, 1, 1)].input == "three" and not by_path[(1, 1, 1)].live
    assert by_path[(1, 2, 2)].reason == "edit" and by_path[(1, 2, 2)].live


async def test_select_branch_switches_back_and_turns_follow_the_selected_branch(
    kernel, session_dir
):
    agent = await build(kernel, session_dir)
    async with agent:
        await agent.run("hello")
        await agent.run("question")
        await kt_sessions.regenerate(agent)
        await agent.run("follow-up on branch 2")
        await kt_sessions.select_branch(agent, (1, 1))
        assert contents(agent.history) == [
            "hello",
            "reply 1 to hello",
            "question",
            "reply 2 to question",
        ]
        await agent.run("follow-up on branch 1")
        live = [b.path for b in kt_sessions.branches(agent) if b.live]
        assert live == [(1,), (1, 1), (1, 1, 1)]
        await kt_sessions.select_branch(agent, (1, 2))
        assert contents(agent.history)[-2:] == [
            "follow-up on branch 2",
            "reply 4 to follow-up on branch 2",
        ]
        with pytest.raises(BranchError, match="no branch"):
            await kt_sessions.select_branch(agent, (1, 7))
    # The same tree comes back from the file, and resume continues the selected branch.
    with kt_sessions.SessionReader(agent.session.path) as reader:
        assert [b.path for b in reader.branches()] == [b.path for b in kt_sessions.branches(agent)]
        assert reader.conversation() == agent.history
    resumed = await kt.Agent.resume(agent.session.path, kernel=kernel, llm=echo_model())
    assert resumed.history == agent.history
    async with resumed:
        await kt_sessions.select_branch(resumed, (1, 1))
        assert contents(resumed.history)[-1] == "reply 5 to follow-up on branch 1"


async def test_branching_needs_a_session_and_an_idle_agent(kernel, session_dir):
    plain = await kt.Agent.build({"name": "plain"}, llm=ScriptedLLM(["x"]), kernel=kernel)
    async with plain:
        await plain.run("hi")
        with pytest.raises(BranchError, match="session=True"):
            await kt_sessions.regenerate(plain)
    agent = await build(kernel, session_dir)
    async with agent:
        with pytest.raises(BranchError, match="no turn to regenerate"):
            await kt_sessions.regenerate(agent)
        with pytest.raises(BranchError, match="no user turn 3"):
            await kt_sessions.edit(agent, "x", turn=3)


async def test_fork_copies_the_log_up_to_an_event_with_links_both_ways(kernel, session_dir):
    agent = await build(kernel, session_dir)
    async with agent:
        await agent.run("first")
        await agent.run("second")
    parent = agent.session.path
    with kt_sessions.SessionReader(parent) as reader:
        (end_of_first,) = [e.id for e in reader.events("turn_completed") if e.turn_index == 1]
    child = kt_sessions.fork(parent, end_of_first, name="alt")
    assert child.name == f"{agent.session.name}-alt.ktsession"
    with kt_sessions.SessionReader(child) as reader:
        assert reader.last_event_id() == end_of_first
        assert [e.id for e in reader.events()] == list(range(1, end_of_first + 1))
        assert reader.meta["parent"]["event_id"] == end_of_first
        assert reader.meta["parent"]["path"] == str(parent)
        assert contents(reader.conversation()) == ["first", "reply 1 to first"]
        assert [h.content for h in reader.search("first")][:1] == ["first"]
    with kt_sessions.SessionReader(parent) as reader:
        assert reader.meta["children"][0]["path"] == str(child)
    resumed = await kt.Agent.resume(child, kernel=kernel, llm=ScriptedLLM(["forked reply"]))
    async with resumed:
        await resumed.run("another way")
    assert contents(resumed.history) == ["first", "reply 1 to first", "another way", "forked reply"]
    with kt_sessions.SessionReader(parent) as reader:  # the parent is untouched
        assert len(reader.turns()) == 2


async def test_a_fork_refuses_to_split_a_running_tool_call(kernel, session_dir):
    release = trio.Event()
    started = trio.Event()

    @kt.tool
    async def slow() -> str:
        """Take a while."""
        started.set()
        await release.wait()
        return "done"

    agent = await build(
        kernel, session_dir, llm=ScriptedLLM([ToolCall("slow", {}), "finished"]), tools=[slow]
    )
    async with agent, trio.open_nursery() as nursery:
        nursery.start_soon(agent.run, "go")
        await started.wait()
        path = agent.session.path
        with kt_sessions.SessionReader(path) as reader:
            (call,) = [e.id for e in reader.events("tool_call_started")]
            last = reader.last_event_id()
        with pytest.raises(ForkNotStableError, match="still running|running from"):
            kt_sessions.fork(path, last, name="live")  # the call is running right now
        kt_sessions.fork(path, call - 1, name="before")  # before the call: fine
        release.set()
    with kt_sessions.SessionReader(path) as reader:
        (completed,) = [e.id for e in reader.events("tool_call_completed")]
    with pytest.raises(ForkNotStableError, match=f"fork at event {call - 1} or {completed}"):
        kt_sessions.fork(path, completed - 1, name="split")
    assert kt_sessions.fork(path, completed, name="after").exists()
    with pytest.raises(kt_sessions.errors.SessionError, match="exists already"):
        kt_sessions.fork(path, completed, name="after")


async def test_branch_events_are_in_the_log(kernel, session_dir):
    agent = await build(kernel, session_dir)
    async with agent:
        await agent.run("a")
        await kt_sessions.regenerate(agent)
        await kt_sessions.select_branch(agent, (2,))  # already live: nothing happens
        await kt_sessions.select_branch(agent, (1,))
    connection = sqlite3.connect(agent.session.path)
    types = [row[0] for row in connection.execute("SELECT type FROM event ORDER BY id")]
    data = [
        json.loads(row[0])
        for row in connection.execute("SELECT data FROM event WHERE type = 'session_branch_opened'")
    ]
    connection.close()
    assert types.count("session_branch_opened") == 1
    assert types.count("session_branch_selected") == 1
    assert data == [{"position": 1, "reason": "regenerate"}]
    assert contents(agent.history) == ["a", "reply 1 to a"]
