"""Resume: rebuild from the record, restore the conversation, never re-run, usage goes on."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
import trio
from kt_sessions_helpers import crash_image, write

import kt
import kt_sessions
from kt.history import is_well_formed
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall
from kt_sessions.errors import SessionBusyError


@kt.tool
def count_words(text: str) -> str:
    """Count the words in a text.

    Args:
        text: The text.
    """
    return str(len(text.split()))


REPLIES = [
    ToolCall("count_words", {"text": "a b c"}),
    "There are 3 words.",
    "You said thanks.",
    "Third answer.",
]
INPUTS = ["count a b c", "thanks", "and now?"]


async def test_run_read_resume_run_sends_what_an_uninterrupted_run_sends(kernel, session_dir):
    straight = ScriptedLLM(REPLIES)
    async with await kt.Agent.build(
        {"name": "demo"}, llm=straight, tools=[count_words], kernel=kernel
    ) as agent:
        for text in INPUTS:
            await agent.run(text)

    first = ScriptedLLM(REPLIES[:3])
    agent = await kt.Agent.build(
        {"name": "demo"},
        llm=first,
        tools=[count_words],
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        for text in INPUTS[:2]:
            await agent.run(text)
    path = agent.session.path
    with kt.SessionReader(path, kernel=kernel) as reader:
        assert reader.conversation() == agent.history
        turns = reader.turns()
    assert [(t.input, t.text, t.status) for t in turns] == [
        ("count a b c", "There are 3 words.", "completed"),
        ("thanks", "You said thanks.", "completed"),
    ]
    assert [(c.name, c.status, c.output) for c in turns[0].tool_calls] == [
        ("count_words", "ok", "3")
    ]
    assert turns[0].usage.total_tokens > 0 and turns[0].duration >= 0

    second = ScriptedLLM(REPLIES[3:])
    resumed = await kt.Agent.resume(path, kernel=kernel, llm=second, tools=[count_words])
    assert resumed.history == agent.history
    assert resumed.usage == agent.usage
    assert resumed.turn_index == 2
    async with resumed:
        result = await resumed.run(INPUTS[2])
    assert result.turn_index == 3
    assert second.calls[0].messages == straight.calls[3].messages
    with kt.SessionReader(path, kernel=kernel) as reader:
        ids = [e.id for e in reader.events()]
        assert ids == sorted(set(ids))
        assert [t.index for t in reader.turns()] == [1, 2, 3]
        assert reader.usage() == resumed.usage
        (attached_new, attached_resumed) = [e.wire for e in reader.events("session_attached")]
        assert attached_new["resumed_from"] == 0
        assert attached_resumed["resumed_from"] > 0


class Gate:
    """A tool that blocks until released, to hold a turn in the middle of a call."""

    def __init__(self) -> None:
        self.entered = trio.Event()
        self.release = trio.Event()

        @kt.tool(name="wait_for_it")
        async def wait_for_it(what: str) -> str:
            """Wait for something.

            Args:
                what: What to wait for.
            """
            self.entered.set()
            await self.release.wait()
            return f"{what} arrived"

        self.tool = wait_for_it


async def test_a_crash_mid_call_resumes_with_the_call_interrupted_and_not_rerun(
    kernel, session_dir, tmp_path
):
    gate = Gate()
    llm = ScriptedLLM(
        [
            "First reply.",
            ScriptEntry(
                text="Hello wor",
                tool_calls=[ToolCall("wait_for_it", {"what": "the bus"})],
                usage=kt.Usage(7, 3, 10),
            ),
            "unused",
        ],
        chunk_size=3,
    )
    agent = await kt.Agent.build(
        {"name": "crashy"},
        llm=llm,
        tools=[gate.tool],
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent, trio.open_nursery() as nursery:
        await agent.run("first turn")
        nursery.start_soon(agent.run, "wait for the bus")
        await gate.entered.wait()
        image = crash_image(agent.session.path, tmp_path / "image.ktsession")
        gate.release.set()

    with kt_sessions.SessionReader(image) as reader:
        assert reader.status == "crashed"
        first, second = reader.turns()
        assert first.status == "completed"
        assert second.status == "interrupted" and not second.completed
        assert second.text == "Hello wor"
        assert [(c.name, c.status) for c in second.tool_calls] == [("wait_for_it", "interrupted")]
        last_before = reader.last_event_id()

    ran = []

    @kt.tool(name="wait_for_it")
    def must_not_run(what: str) -> str:
        """Refuse to run.

        Args:
            what: What.
        """
        ran.append(what)
        return "ran"

    after = ScriptedLLM(["Sorry, the bus call was interrupted."])
    resumed = await kt_sessions.resume(image, kernel=kernel, llm=after, tools=[must_not_run])
    history = resumed.history
    assert is_well_formed(history)
    assistant = history[-2]
    assert assistant.content == "Hello wor"  # the reply was complete; the call was not
    assert [c.name for c in assistant.tool_calls] == ["wait_for_it"]
    assert history[-1].role == "tool" and history[-1].content.startswith("In doubt")
    assert resumed.usage.total_tokens >= 10  # the crashed turn's model call still counts
    async with resumed:
        result = await resumed.run("what happened?")
    assert ran == []
    assert result.status == "completed" and result.turn_index == 3
    sent = after.calls[0].messages
    calls = [c.id for m in sent for c in m.tool_calls]
    answers = [m.tool_call_id for m in sent if m.role == "tool"]
    assert sorted(calls) == sorted(answers)
    assert any(m.content == "Hello wor" for m in sent)
    with kt_sessions.SessionReader(image) as reader:
        (attached,) = [e.wire for e in reader.events("session_attached", after=last_before)]
        assert attached["interrupted_calls"] == [assistant.tool_calls[0].id]
        replaced = [e.wire for e in reader.events("history_replaced", after=last_before)]
        assert [r["reason"] for r in replaced] == ["resume"]
        assert reader.conversation() == resumed.history


class Stalling:
    """Streams part of a reply, then stalls until the test has taken its crash image."""

    def __init__(self) -> None:
        self.streamed = trio.Event()

    async def stream(self, request):
        yield kt.TextChunk("Hello ")
        yield kt.TextChunk("wor")
        self.streamed.set()
        await trio.sleep_forever()
        yield kt.LLMDone()  # never reached


async def test_a_crash_mid_stream_keeps_the_partial_reply_marked_interrupted(
    kernel, session_dir, tmp_path, autojump_clock
):
    llm = Stalling()
    agent = await kt.Agent.build(
        {"name": "streamy"}, llm=llm, kernel=kernel, session=True, session_dir=session_dir
    )
    async with agent, trio.open_nursery() as nursery:
        nursery.start_soon(agent.run, "tell me")
        await llm.streamed.wait()
        await trio.sleep(1.5)  # streamed text reaches the disk within a second
        image = crash_image(agent.session.path, tmp_path / "stream.ktsession")
        nursery.cancel_scope.cancel()
    resumed = await kt_sessions.resume(image, kernel=kernel, llm=ScriptedLLM(["again"]))
    user, partial = resumed.history
    assert user.content == "tell me"
    assert partial.content == "Hello wor" and partial.meta == {"interrupted": True}


async def test_a_background_job_lost_in_a_crash_is_told_to_the_model(kernel, session_dir, tmp_path):
    gate = Gate()
    llm = ScriptedLLM([ToolCall("wait_for_it", {"what": "x", "run_in_background": True}), "ok"])
    agent = await kt.Agent.build(
        {"name": "jobs"},
        llm=llm,
        tools=[gate.tool],
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        await agent.run("start it")
        await gate.entered.wait()
        image = crash_image(agent.session.path, tmp_path / "jobs.ktsession")
    after = ScriptedLLM(["noted"])
    resumed = await kt_sessions.resume(image, kernel=kernel, llm=after, tools=[gate.tool])
    assert "was still running when the previous session ended" in resumed.history[-1].content
    async with resumed:
        await resumed.run("status?")
    last_user = after.calls[0].messages[-1]
    assert last_user.role == "user"
    assert "interrupted" in last_user.content and last_user.content.endswith("status?")


async def test_resume_rebuilds_from_the_folder_then_the_dict_then_the_stored_config(
    kernel, session_dir, tmp_path
):
    folder = tmp_path / "creature"
    write(folder / "creature.toml", 'name = "folk"\nsystem_prompt = "Version one."\n')
    agent = await kt.Agent.build(
        folder, llm=ScriptedLLM(["hi"]), kernel=kernel, session=True, session_dir=session_dir
    )
    async with agent:
        await agent.run("hello")
    path = agent.session.path

    write(folder / "creature.toml", 'name = "folk"\nsystem_prompt = "Version two."\n')
    resumed = await kt.Agent.resume(path, kernel=kernel, llm=ScriptedLLM(["ok"]))
    async with resumed:
        assert resumed.system_prompt == "Version two."  # edits to the folder apply
    shutil.rmtree(folder)
    resumed = await kt.Agent.resume(path, kernel=kernel, llm=ScriptedLLM(["ok"]))
    async with resumed:
        assert resumed.system_prompt == "Version two."  # the stored resolved config
        assert resumed.name == "folk"

    dict_agent = await kt.Agent.build(
        {"name": "dicty", "system_prompt": "From a dict."},
        llm=ScriptedLLM(["hi"]),
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with dict_agent:
        await dict_agent.run("hello")
    resumed = await kt.Agent.resume(dict_agent.session.path, kernel=kernel, llm=ScriptedLLM(["ok"]))
    async with resumed:
        assert resumed.system_prompt == "From a dict."
        assert resumed.working_dir == dict_agent.working_dir


async def test_resume_reuses_the_recorded_model_selector(kernel, session_dir, tmp_path):
    replies = write(tmp_path / "replies.toml", '[[replies]]\ntext = "scripted one"\n')
    agent = await kt.Agent.build(
        {"name": "sel"},
        llm_selector=f"scripted:{replies}",
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        await agent.run("hi")
    resumed = await kt.Agent.resume(agent.session.path, kernel=kernel)
    assert resumed.llm_name == f"scripted:{replies}"

    instance = await kt.Agent.build(
        {"name": "inst"},
        llm=ScriptedLLM(["x"]),
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with instance:
        await instance.run("hi")
    with pytest.raises(kt.LLMNotConfiguredError, match="pass llm="):
        await kt.Agent.resume(instance.session.path, kernel=kernel)


async def test_a_session_still_being_written_cannot_be_resumed(kernel, session_dir):
    agent = await kt.Agent.build(
        {"name": "busy"},
        llm=ScriptedLLM(["hi"]),
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        await agent.run("hello")
        with pytest.raises(SessionBusyError, match="still being recorded"):
            await kt.Agent.resume(agent.session.path, kernel=kernel, llm=ScriptedLLM(["x"]))
    resumed = await kt.Agent.resume(agent.session.path, kernel=kernel, llm=ScriptedLLM(["x"]))
    assert len(resumed.history) == 2


async def test_resume_by_name_prefix_and_last(kernel, session_dir):
    for name in ("alpha", "beta"):
        agent = await kt.Agent.build(
            {"name": name},
            llm=ScriptedLLM([f"{name} says hi"]),
            kernel=kernel,
            session=True,
            session_dir=session_dir,
        )
        async with agent:
            await agent.run("hello")
    resumed = await kt_sessions.resume(
        "bet", kernel=kernel, session_dir=session_dir, llm=ScriptedLLM(["x"])
    )
    assert resumed.name == "beta"
    assert kt_sessions.last_session(session_dir).name.startswith("beta_")


async def test_a_stale_snapshot_is_completed_from_the_log_and_a_fresh_one_used_as_is(
    kernel, session_dir
):
    agent = await kt.Agent.build(
        {"name": "snap"},
        llm=ScriptedLLM(["one"]),
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        await agent.run("first")
    path = agent.session.path
    connection = sqlite3.connect(path)
    stale = connection.execute("SELECT last_event_id, state FROM snapshot").fetchone()
    resumed = await kt.Agent.resume(path, kernel=kernel, llm=ScriptedLLM(["two"]))
    async with resumed:
        await resumed.run("second")
    full = ["first", "one", "second", "two"]
    try:
        # The snapshot of the first run, as if the second run had died before writing one.
        connection.execute("UPDATE snapshot SET last_event_id = ?, state = ?", stale)
        connection.commit()
        with kt_sessions.SessionReader(path) as reader:
            assert [m.content for m in reader.state().messages] == full
        # A snapshot covering every event is used as it is (a marker proves it).
        data = json.loads(stale[1])
        data["messages"][0]["content"] = "from the snapshot"
        last = connection.execute("SELECT MAX(id) FROM event").fetchone()[0]
        connection.execute(
            "UPDATE snapshot SET last_event_id = ?, state = ?", (last, json.dumps(data))
        )
        connection.commit()
        with kt_sessions.SessionReader(path) as reader:
            assert [m.content for m in reader.state().messages] == ["from the snapshot", "one"]
    finally:
        connection.close()


async def test_hook_kt_session_restore(kernel, session_dir):
    """Plugins rebuild their own state from the log when a creature is resumed."""
    seen = []

    class Restorer:
        @kt.hookimpl
        def kt_session_restore(self, creature, reader):
            seen.append((creature.name, [t.input for t in reader.turns()]))

    agent = await kt.Agent.build(
        {"name": "plug"},
        llm=ScriptedLLM(["one"]),
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with agent:
        await agent.run("first")
    restoring = kt.Kernel(plugins=[kt_sessions, Restorer()])
    resumed = await kt.Agent.resume(agent.session.path, kernel=restoring, llm=ScriptedLLM(["x"]))
    async with resumed:
        pass
    assert seen == [("plug", ["first"])]


async def test_one_creature_of_a_shared_session_is_resumed_by_name(kernel, session_dir):
    lead = await kt.Agent.build(
        {"name": "lead"},
        llm=ScriptedLLM(["lead 1"]),
        kernel=kernel,
        session=True,
        session_dir=session_dir,
    )
    async with lead:
        helper = await kt.Agent.build(
            {"name": "helper"},
            llm=ScriptedLLM(["helper 1"]),
            kernel=kernel,
            session=lead.session,
        )
        async with helper:
            await lead.run("to lead")
            await helper.run("to helper")
    path = lead.session.path
    with pytest.raises(kt_sessions.errors.SessionError, match="creature=NAME"):
        await kt_sessions.resume(path, kernel=kernel, llm=ScriptedLLM(["x"]))
    resumed = await kt_sessions.resume(
        path, kernel=kernel, creature="helper", llm=ScriptedLLM(["helper 2"])
    )
    assert [m.content for m in resumed.history] == ["to helper", "helper 1"]
    async with resumed:
        await resumed.run("again")
    with kt_sessions.SessionReader(path) as reader:
        assert [(t.creature, t.index, t.text) for t in reader.turns()] == [
            ("lead", 1, "lead 1"),
            ("helper", 1, "helper 1"),
            ("helper", 2, "helper 2"),
        ]
