"""Sub-agents: foreground and background runs, tool subsets, budgets, depth, hooks, transcript."""

from __future__ import annotations

import pytest
import trio

import kt
import kt_subagents
from kt.events import SubAgentCompleted, SubAgentStarted, ToolCallCompleted, TurnCompleted
from kt.testing import EventRecorder, ScriptedLLM, ScriptEntry, ToolCall
from kt_subagents import SubAgentEvent

READS: list[str] = []


@kt.tool
async def read(path: str, ctx: kt.ToolContext) -> str:
    """Read a file.

    Args:
        path: The file.
        ctx: The call.
    """
    READS.append(f"{ctx.creature}:{path}")
    return f"line 1 of {path}: ANSWER = 42"


@kt.tool
async def glob(pattern: str) -> str:
    """Find files.

    Args:
        pattern: The pattern.
    """
    return "a.py\nb.py"


def is_child(request, name="explore") -> bool:
    return request.messages[0].content.startswith(f"# {name.capitalize()} sub-agent")


def last_text(request) -> str:
    return request.messages[-1].content if request.messages[-1].content else ""


async def build(config, llm, *, plugins=(), tools=(read, glob), **kwargs):
    kernel = kt.Kernel(plugins=[kt_subagents, *plugins])
    return await kt.Agent.build(
        {"name": "parent", **config}, llm=llm, tools=list(tools), kernel=kernel, **kwargs
    )


def explorer_reply(request):
    """A child that reads a file, then answers; a parent that delegates, then wraps up."""
    if is_child(request):
        if request.messages[-1].role == "tool":
            return "ANSWER is 42 (a.py:1)."
        return ToolCall("read", {"path": "a.py"})
    return None


async def test_scenario_17_foreground_answer_comes_back_in_the_same_turn():
    def reply(request):
        child = explorer_reply(request)
        if child is not None:
            return child
        if request.messages[-1].role == "tool":
            return f"The sub-agent said: {request.messages[-1].content}"
        return ToolCall(
            "explore", {"task": "Find ANSWER.", "run_in_background": False}, id="call_x"
        )

    recorder = EventRecorder()
    llm = ScriptedLLM([reply])
    async with await build({"subagents": ["explore"]}, llm, plugins=[recorder]) as agent:
        result = await agent.run("what is ANSWER?")
    assert result.status == "completed"
    (call,) = result.tool_calls
    assert (call.name, call.status) == ("explore", "ok")
    assert call.output == "ANSWER is 42 (a.py:1)."
    assert result.text == "The sub-agent said: ANSWER is 42 (a.py:1)."
    assert call.metadata["subagent"] == "explore" and call.metadata["job_id"] is None
    assert call.metadata["turns"] == 2 and call.metadata["tools_used"] == ["read"]
    assert "parent.explore:a.py" in READS
    # The child had its own conversation: its first request was its prompt and the task only.
    child_calls = [c for c in llm.calls if is_child(c.request)]
    assert [m.role for m in child_calls[0].messages] == ["system", "user"]
    assert child_calls[0].messages[1].content == "Find ANSWER."
    assert [t.name for t in child_calls[0].tools] == ["glob", "read"]  # explore ∩ parent
    # Events: started, the transcript, completed, then the parent's tool call completes.
    parent_events = [e for e in recorder.events if e.creature == "parent"]
    types = [e.type for e in parent_events]
    first, last = types.index("subagent_started"), types.index("subagent_completed")
    assert set(types[first + 1 : last]) == {"subagent_event"}
    tool_done = next(
        i
        for i, e in enumerate(parent_events)
        if isinstance(e, ToolCallCompleted) and e.name == "explore"
    )
    assert tool_done > last
    (started,) = recorder.of_type(SubAgentStarted)
    assert (started.call_id, started.name, started.task) == ("call_x", "explore", "Find ANSWER.")
    assert started.background is False
    (completed,) = recorder.of_type(SubAgentCompleted)
    assert completed.status == "completed" and completed.output == "ANSWER is 42 (a.py:1)."
    assert completed.turns == 2 and completed.usage.total_tokens > 0


async def test_the_full_transcript_is_in_the_events():
    def reply(request):
        child = explorer_reply(request)
        if child is not None:
            return child
        if request.messages[-1].role == "tool":
            return "done"
        return ToolCall("explore", {"task": "t", "run_in_background": False})

    recorder = EventRecorder()
    async with await build(
        {"subagents": ["explore"]}, ScriptedLLM([reply]), plugins=[recorder]
    ) as agent:
        await agent.run("go")
    forwarded = [e for e in recorder.of_type(SubAgentEvent) if e.creature == "parent"]
    inner = [kt.events.from_wire(e.event) for e in forwarded]
    assert {e.creature for e in inner} == {"parent.explore"}
    messages = [e.message for e in inner if isinstance(e, kt.events.MessageAppended)]
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[-1].content == "ANSWER is 42 (a.py:1)."
    assert isinstance(inner[-1], kt.events.CreatureStopped)
    (child_turn,) = [e for e in inner if isinstance(e, TurnCompleted)]
    assert child_turn.result.text == "ANSWER is 42 (a.py:1)."


async def test_scenario_17_background_is_the_default_and_the_answer_arrives_later():
    def reply(request):
        child = explorer_reply(request)
        if child is not None:
            return child
        last = request.messages[-1]
        if last.role == "tool":
            return "Delegated; I will wait for the answer."
        if last.content.startswith("[Sub-agent agent_explore_"):
            return "Got it: 42."
        return ToolCall("explore", {"task": "Find ANSWER."})

    llm = ScriptedLLM([reply])
    async with await build({"subagents": ["explore"]}, llm) as agent:
        events = agent.subscribe()
        first = await agent.run("what is ANSWER?")
        (call,) = first.tool_calls
        assert call.status == "ok"
        job_id = call.metadata["job_id"]
        assert job_id.startswith("agent_explore_") and job_id in call.output
        assert "Do not redo its task" in call.output
        assert agent.jobs[job_id].kind == "subagent"
        async for event in events:
            if isinstance(event, TurnCompleted) and event.result.input.startswith("[Sub-agent"):
                follow_up = event.result
                break
    assert follow_up.input.startswith(f"[Sub-agent {job_id} (explore) finished]")
    assert "ANSWER is 42 (a.py:1)." in follow_up.input
    assert follow_up.text == "Got it: 42."
    assert agent.jobs[job_id].status == "done"


async def test_scenario_17_a_tool_the_parent_lacks_is_not_available_to_the_child():
    def reply(request):
        if is_child(request, "worker"):
            if request.messages[-1].role == "tool":
                return "Could not write: no write tool."
            return ToolCall("write", {"path": "x", "content": "y"})
        if request.messages[-1].role == "tool":
            return "ok"
        return ToolCall("worker", {"task": "Write x.", "run_in_background": False})

    recorder = EventRecorder()
    llm = ScriptedLLM([reply])
    async with await build({"subagents": ["worker"]}, llm, plugins=[recorder]) as agent:
        await agent.run("go")
    child_first = next(c for c in llm.calls if is_child(c.request, "worker"))
    assert [t.name for t in child_first.tools] == ["read", "glob"]
    system = child_first.messages[0].content
    assert "## Unavailable tools" in system
    assert "write, edit, multi_edit, bash, grep" in system
    (child_call,) = [
        e for e in recorder.of_type(ToolCallCompleted) if e.creature == "parent.worker"
    ]
    assert child_call.status == "error" and "unknown tool 'write'" in child_call.error


async def test_running_out_of_budget_is_reported_as_such_never_as_success():
    def reply(request):
        if is_child(request):
            return ScriptEntry(
                text="still looking", tool_calls=[ToolCall("glob", {"pattern": "*"})]
            )
        if request.messages[-1].role == "tool":
            return "noted"
        return ToolCall("explore", {"task": "t", "run_in_background": False})

    config = {"subagents": [{"name": "explore", "max_turns": 3}]}
    llm = ScriptedLLM([reply])
    async with await build(config, llm) as agent:
        result = await agent.run("go")
    (call,) = result.tool_calls
    assert call.status == "error"
    assert "ran out of budget" in call.error and "all 3 of its model calls" in call.error
    assert call.metadata["budget_exhausted"] is True and call.metadata["status"] == "max_iterations"
    assert call.error_type == "BudgetExceededError"
    assert call.output == "still looking"  # the partial answer is kept, marked incomplete
    assert len([c for c in llm.calls if is_child(c.request)]) == 3


async def test_a_background_run_out_of_budget_says_so_in_its_notice():
    def reply(request):
        if is_child(request):
            return ToolCall("glob", {"pattern": "*"})
        last = request.messages[-1]
        if last.role == "tool" or last.content.startswith("[Sub-agent"):
            return "ok"
        return ToolCall("explore", {"task": "t"})

    config = {"subagents": [{"name": "explore", "max_turns": 2}]}
    async with await build(config, ScriptedLLM([reply])) as agent:
        events = agent.subscribe()
        await agent.run("go")
        async for event in events:
            if isinstance(event, TurnCompleted) and event.result.input.startswith("[Sub-agent"):
                notice = event.result.input
                break
    assert "did not finish" in notice and "ran out of budget" in notice
    assert "finished]" not in notice


async def test_timeout_is_reported_as_running_out_of_time(autojump_clock):
    def reply(request):
        if is_child(request):
            return ScriptEntry(text="x" * 100, chunk_size=1, delay=1.0)  # 100 s of streaming
        if request.messages[-1].role == "tool":
            return "ok"
        return ToolCall("explore", {"task": "t", "run_in_background": False})

    config = {"subagents": [{"name": "explore", "timeout": 10}]}
    async with await build(config, ScriptedLLM([reply])) as agent:
        t0 = trio.current_time()
        result = await agent.run("go")
        assert trio.current_time() - t0 == pytest.approx(10, abs=1.5)
    (call,) = result.tool_calls
    assert call.status == "error" and "ran out of time" in call.error and "10s" in call.error
    assert call.metadata["budget_exhausted"] is True


async def test_depth_cap_refuses_nesting_past_max_subagent_depth():
    def reply(request):
        if is_child(request, "plan"):
            if request.messages[-1].role == "tool":
                return f"plan done; explore said: {request.messages[-1].content}"
            return ToolCall("explore", {"task": "look"})  # nested: always foreground
        child = explorer_reply(request)
        if child is not None:
            return child
        if request.messages[-1].role == "tool":
            return "parent done"
        return ToolCall("plan", {"task": "plan it", "run_in_background": False})

    subagents = [{"name": "plan", "tools": ["explore", "read"]}, "explore"]
    async with await build(
        {"subagents": subagents, "max_subagent_depth": 1}, ScriptedLLM([reply])
    ) as agent:
        shallow = await agent.run("go")
    assert "nested 2 deep" in shallow.tool_calls[0].output
    assert "max_subagent_depth" in shallow.tool_calls[0].output

    recorder = EventRecorder()
    async with await build(
        {"subagents": subagents, "max_subagent_depth": 2}, ScriptedLLM([reply]), plugins=[recorder]
    ) as agent:
        deep = await agent.run("go")
    assert deep.tool_calls[0].output == "plan done; explore said: ANSWER is 42 (a.py:1)."
    assert "parent.plan.explore" in {e.creature for e in recorder.events}


class _Rewrite:
    def __init__(self):
        self.seen = []

    @kt.hookimpl
    def kt_pre_subagent(self, name, task, ctx):
        self.seen.append((name, task, ctx.creature.name))
        if "forbidden" in task:
            raise kt.PluginBlockError("no forbidden tasks")
        return task + " (be brief)"

    @kt.hookimpl
    def kt_post_subagent(self, name, result):
        import attrs

        return attrs.evolve(result, text=result.text.upper())


async def test_pre_and_post_subagent_hooks_rewrite_and_veto():
    def reply(request):
        if is_child(request):
            return f"child got: {request.messages[-1].content}"
        last = request.messages[-1]
        if last.role == "tool":
            return "ok"
        return ToolCall("explore", {"task": last.content, "run_in_background": False})

    plugin = _Rewrite()
    async with await build(
        {"subagents": ["explore"]}, ScriptedLLM([reply]), plugins=[plugin]
    ) as agent:
        allowed = await agent.run("count files")
        vetoed = await agent.run("forbidden thing")
    assert allowed.tool_calls[0].output == "CHILD GOT: COUNT FILES (BE BRIEF)"
    assert vetoed.tool_calls[0].status == "error"
    assert "was blocked: no forbidden tasks" in vetoed.tool_calls[0].error
    assert plugin.seen == [
        ("explore", "count files", "parent"),
        ("explore", "forbidden thing", "parent"),
    ]


async def test_interrupting_the_parent_cancels_a_foreground_sub_agent(autojump_clock):
    def reply(request):
        if is_child(request):
            return ScriptEntry(text="y" * 1000, chunk_size=1, delay=1.0)
        return ToolCall("explore", {"task": "t", "run_in_background": False})

    recorder = EventRecorder()
    llm = ScriptedLLM([reply])
    async with await build({"subagents": ["explore"]}, llm, plugins=[recorder]) as agent:
        events = agent.subscribe()
        results = []
        async with trio.open_nursery() as nursery:

            async def ask():
                results.append(await agent.run("go"))

            nursery.start_soon(ask)
            async for event in events:  # the child is streaming its answer
                if isinstance(event, SubAgentEvent) and event.event["type"] == "text_delta":
                    break
            agent.interrupt()
        (result,) = results
        assert result.status == "interrupted"
        assert kt.history.is_well_formed(agent.history)
    (completed,) = recorder.of_type(SubAgentCompleted)
    assert completed.status == "cancelled"
    child_turns = [e for e in recorder.of_type(TurnCompleted) if e.creature == "parent.explore"]
    assert [t.result.status for t in child_turns] == ["cancelled"]


async def test_cancelling_a_background_sub_agent_tells_the_parent(autojump_clock):
    child_started = trio.Event()

    def reply(request):
        if is_child(request):
            child_started.set()
            return ScriptEntry(text="z" * 1000, chunk_size=1, delay=1.0)
        last = request.messages[-1]
        if last.role == "tool":
            return "started"
        if last.content.startswith("[Sub-agent"):
            return "acknowledged"
        return ToolCall("explore", {"task": "t"})

    async with await build({"subagents": ["explore"]}, ScriptedLLM([reply])) as agent:
        first = await agent.run("go")
        events = agent.subscribe()
        job_id = first.tool_calls[0].metadata["job_id"]
        await child_started.wait()
        assert agent.cancel_job(job_id)  # what stop_task does
        async for event in events:
            if isinstance(event, TurnCompleted) and event.creature == "parent":
                notice = event.result.input
                break
        assert agent.jobs[job_id].status == "cancelled"
    assert notice == f"[Sub-agent {job_id} (explore) was cancelled before it finished]"


async def test_summarize_gets_the_parent_conversation():
    def reply(request):
        if is_child(request, "summarize"):
            return "SUMMARY"
        last = request.messages[-1]
        if last.role == "tool":
            return "ok"
        if last.content == "summarise":
            return ToolCall("summarize", {"task": "", "run_in_background": False})
        return "The capital of Norway is Oslo."

    llm = ScriptedLLM([reply])
    async with await build({"subagents": ["summarize"]}, llm) as agent:
        await agent.run("What is the capital of Norway?")
        result = await agent.run("summarise")
    assert result.tool_calls[0].output == "SUMMARY"
    child = next(c for c in llm.calls if is_child(c.request, "summarize"))
    task = child.messages[-1].content
    assert task.startswith("## Conversation so far")
    assert "What is the capital of Norway?" in task and "Oslo" in task
    assert "## Task" in task and "Summarise the conversation" in task
    assert child.tools == ()  # summarize has no tools


async def test_child_model_can_be_configured_and_inherits_the_working_dir(tmp_path):
    replies = tmp_path / "child.toml"
    replies.write_text('[[replies]]\ntext = "from the child model"\n')

    def reply(request):
        if request.messages[-1].role == "tool":
            return "ok"
        return ToolCall("research", {"task": "t", "run_in_background": False})

    config = {"subagents": [{"name": "research", "model": f"scripted:{replies}"}]}
    parent_llm = ScriptedLLM([reply])
    async with await build(config, parent_llm, pwd=tmp_path) as agent:
        result = await agent.run("go")
    assert result.tool_calls[0].output == "from the child model"
    assert not any(is_child(c.request, "research") for c in parent_llm.calls)


async def test_text_format_parent_passes_the_block_body_as_the_task():
    import kt_formats

    def reply(request):
        if is_child(request):
            return f"got: {request.messages[-1].content}"
        if request.messages[-1].content.startswith("[Tool results]"):
            return "ok"
        return "[/explore]\n@@run_in_background=false\nFind the config loader.\n[explore/]"

    llm = ScriptedLLM([reply])
    config = {"subagents": ["explore"], "controller": {"tool_format": "bracket"}}
    async with await build(config, llm, plugins=[kt_formats]) as agent:
        result = await agent.run("go")
    assert result.tool_calls[0].output == "got: Find the config loader."
