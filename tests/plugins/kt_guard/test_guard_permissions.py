"""The permission gate: approval requests are events, answered through the Python API."""

from __future__ import annotations

import pytest
import trio

import kt
import kt_guard
from kt.events import TurnCompleted, to_wire
from kt.testing import EventRecorder, ScriptedLLM, ToolCall
from kt_guard import ApprovalAnswered, ApprovalError, ApprovalRequested


def make_bash(ran: list[str]) -> kt.ToolSpec:
    @kt.tool(name="bash")
    async def bash(command: str) -> str:
        """Run a shell command.

        Args:
            command: The command.
        """
        ran.append(command)
        return f"ran {command}"

    return bash


@kt.tool
async def read(path: str) -> str:
    """Read a file.

    Args:
        path: Which file.
    """
    return f"contents of {path}"


def build(llm, ran, permissions, *, recorder=None):
    plugins = [kt_guard.plugin] + ([recorder] if recorder else [])
    config = {"name": "t", "plugins": [{"name": "kt_guard", "permissions": permissions}]}
    return kt.Agent.build(
        config, llm=llm, tools=[make_bash(ran), read], kernel=kt.Kernel(plugins=plugins)
    )


async def run_answering(agent, text, decide):
    """Run one turn; answer each approval request with ``decide(request)`` as a UI would."""
    requests = []
    async with agent.run_stream(text) as events:
        async for event in events:
            if isinstance(event, ApprovalRequested):
                requests.append(event)
                kt_guard.answer(agent, event.request_id, decide(event))
            elif isinstance(event, TurnCompleted):
                return event.result, requests
    raise AssertionError("the turn did not complete")


def bash(command: str) -> ToolCall:
    return ToolCall("bash", {"command": command})


async def test_allow_once_runs_the_call_and_asks_again_next_time():
    ran: list[str] = []
    recorder = EventRecorder()
    llm = ScriptedLLM([bash("ls"), bash("ls"), "done"])
    async with await build(llm, ran, {"ask": ["bash"]}, recorder=recorder) as agent:
        result, requests = await run_answering(agent, "go", lambda r: "allow_once")
    assert [c.status for c in result.tool_calls] == ["ok", "ok"]
    assert ran == ["ls", "ls"]
    assert len(requests) == 2
    request = requests[0]
    assert (request.tool, request.args, request.summary) == (
        "bash",
        {"command": "ls"},
        "command=ls",
    )
    assert request.call_id == result.tool_calls[0].id
    assert [c.id for c in request.choices] == ["allow_once", "allow_session", "deny"]
    assert request.kind == "approval" and request.prompt == "bash wants to run"
    answers = recorder.of_type(ApprovalAnswered)
    assert [(a.decision, a.reason) for a in answers] == [("allow_once", "answered")] * 2
    assert "## Approvals" in agent.system_prompt


async def test_allow_session_stops_asking_for_that_tool():
    ran: list[str] = []
    llm = ScriptedLLM([bash("ls"), bash("pwd"), "done", bash("whoami"), "done"])
    async with await build(llm, ran, {}, recorder=None) as agent:
        result, requests = await run_answering(agent, "go", lambda r: "allow_session")
        later, more = await run_answering(agent, "again", lambda r: "deny")
    assert len(requests) == 1 and more == []
    assert ran == ["ls", "pwd", "whoami"]
    assert later.tool_calls[0].status == "ok"


async def test_deny_is_a_tool_error_the_model_sees_in_the_same_turn():
    ran: list[str] = []
    llm = ScriptedLLM([bash("rm -rf build"), "I will not delete it."])
    async with await build(llm, ran, {"ask": ["bash"]}) as agent:
        result, _ = await run_answering(agent, "clean", lambda r: "deny")
    assert ran == []
    (call,) = result.tool_calls
    assert call.status == "blocked"
    assert call.error.startswith("Permission denied: the user refused this bash call")
    assert "Permission denied" in llm.calls[1].messages[-1].content
    assert result.status == "completed"


async def test_unanswered_requests_are_denied_after_the_timeout(autojump_clock):
    ran: list[str] = []
    recorder = EventRecorder()
    llm = ScriptedLLM([bash("ls"), "ok"])
    async with await build(llm, ran, {"timeout": 30}, recorder=recorder) as agent:
        t0 = trio.current_time()
        result = await agent.run("go")
        assert trio.current_time() - t0 == pytest.approx(30)
    assert ran == []
    assert "nobody approved this bash call within 30s" in result.tool_calls[0].error
    (answered,) = recorder.of_type(ApprovalAnswered)
    assert (answered.decision, answered.reason) == ("deny", "timeout")
    assert kt_guard.pending_approvals(agent) == []


async def test_rules_deny_allow_and_ask_by_tool_and_argument_pattern():
    ran: list[str] = []
    permissions = {"ask": ["bash"], "allow": ["bash(git status)"], "deny": ["bash(rm *)"]}
    script = [[bash("rm -rf /"), bash("git status"), ToolCall("read", {"path": "a"})], "ok"]
    llm = ScriptedLLM(script)
    async with await build(llm, ran, permissions) as agent:
        result, requests = await run_answering(agent, "go", lambda r: "deny")
    statuses = {c.args.get("command", c.name): c.status for c in result.tool_calls}
    assert statuses == {"rm -rf /": "blocked", "git status": "ok", "read": "ok"}
    assert requests == []  # denied by rule, allowed by rule, and read is not gated
    assert "matching 'bash(rm *)' are not allowed" in result.tool_calls[0].error
    assert "Never allowed: bash(rm *)" in agent.system_prompt


async def test_every_tool_is_gated_when_ask_is_not_given():
    ran: list[str] = []
    llm = ScriptedLLM([ToolCall("read", {"path": "a"}), "ok"])
    async with await build(llm, ran, {"allow": ["bash"]}) as agent:
        _, requests = await run_answering(agent, "go", lambda r: "allow_once")
    assert [r.tool for r in requests] == ["read"]


async def test_many_requests_may_be_pending_at_once():
    ran: list[str] = []
    llm = ScriptedLLM([[bash("a"), bash("b"), bash("c")], "done"])
    async with await build(llm, ran, {}) as agent:
        events = agent.subscribe()
        async with trio.open_nursery() as nursery:
            results = []

            async def go():
                results.append(await agent.run("go"))

            nursery.start_soon(go)
            requests = []
            async for event in events:
                if isinstance(event, ApprovalRequested):
                    requests.append(event)
                if len(requests) == 3:
                    break
            pending = kt_guard.pending_approvals(agent)
            assert sorted(p.args["command"] for p in pending) == ["a", "b", "c"]
            decisions = {"a": "allow_once", "b": "deny", "c": "allow_once"}
            for request in pending:
                kt_guard.answer(agent, request.request_id, decisions[request.args["command"]])
        events.close()
    (result,) = results
    assert [c.status for c in result.tool_calls] == ["ok", "blocked", "ok"]
    assert sorted(ran) == ["a", "c"]


async def test_answer_refuses_unknown_requests_bad_decisions_and_second_answers():
    ran: list[str] = []
    llm = ScriptedLLM([bash("ls"), "done"])
    async with await build(llm, ran, {}) as agent:
        with pytest.raises(ApprovalError, match="no pending approval request 'nope'"):
            kt_guard.answer(agent, "nope", "allow_once")

        def decide(request):
            with pytest.raises(ApprovalError, match="unknown decision 'yes'; answer with one of"):
                kt_guard.answer(agent, request.request_id, "yes")
            kt_guard.answer(agent, request.request_id, "allow_once")
            with pytest.raises(ApprovalError, match="already answered"):
                kt_guard.answer(agent, request.request_id, "deny")
            return "allow_once"

        requests = []

        async with agent.run_stream("go") as events:
            async for event in events:
                if isinstance(event, ApprovalRequested):
                    requests.append(event)
                    decide(event)
    assert ran == ["ls"]


async def test_a_headless_policy_plugin_can_answer_from_kt_event():
    class AutoApprove:
        """Approves read-only commands the moment they are asked, denies the rest."""

        def __init__(self):
            self.agent = None

        @kt.hookimpl
        def kt_event(self, event, creature):
            if isinstance(event, ApprovalRequested):
                safe = event.args.get("command", "").startswith("ls")
                kt_guard.answer(creature, event.request_id, "allow_once" if safe else "deny")

    ran: list[str] = []
    llm = ScriptedLLM([[bash("ls"), bash("reboot")], "done"])
    async with await build(llm, ran, {}, recorder=AutoApprove()) as agent:
        result = await agent.run("go")
    assert [c.status for c in result.tool_calls] == ["ok", "blocked"]
    assert ran == ["ls"]


async def test_an_interrupt_withdraws_the_pending_request():
    ran: list[str] = []
    recorder = EventRecorder()
    llm = ScriptedLLM([bash("ls"), "done"])
    async with await build(llm, ran, {}, recorder=recorder) as agent:
        async with agent.run_stream("go") as events:
            async for event in events:
                if isinstance(event, ApprovalRequested):
                    agent.interrupt()
                elif isinstance(event, TurnCompleted):
                    result = event.result
    assert result.status == "interrupted"
    assert result.tool_calls[0].status == "interrupted"
    (answered,) = recorder.of_type(ApprovalAnswered)
    assert (answered.decision, answered.reason) == ("deny", "cancelled")
    assert kt_guard.pending_approvals(agent) == []
    assert kt.history.is_well_formed(agent.history)
    assert ran == []


async def test_pending_approvals_and_session_grants_survive_a_restart():
    """The first process dies with a request open; the next one restores it from the log."""
    ran: list[str] = []
    recorder = EventRecorder()
    llm = ScriptedLLM([[bash("deploy"), ToolCall("read", {"path": "a"})], "done"])
    async with await build(llm, ran, {}, recorder=recorder) as agent:
        events = agent.subscribe()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(agent.run, "go")
            seen = []
            async for event in events:
                if isinstance(event, ApprovalRequested):
                    seen.append(event)
                    if event.tool == "read":
                        kt_guard.answer(agent, event.request_id, "allow_session")
                if isinstance(event, ApprovalAnswered):
                    break  # "deploy" is still waiting when the process "dies"
            nursery.cancel_scope.cancel()
    # The log as a session store keeps it: every event up to the crash, in its wire shape.
    log = [to_wire(e) for e in recorder.events if e.type.startswith("approval")]
    log = [e for e in log if not (e["type"] == "approval_answered" and e["reason"] == "cancelled")]

    ran2: list[str] = []
    llm2 = ScriptedLLM([bash("deploy"), ToolCall("read", {"path": "b"}), bash("deploy"), "done"])
    agent2 = await build(llm2, ran2, {})
    kt_guard.restore_approvals(agent2, log)
    (pending,) = kt_guard.pending_approvals(agent2)
    assert (pending.tool, pending.args) == ("bash", {"command": "deploy"})
    async with agent2:
        kt_guard.answer(agent2, pending.request_id, "allow_once")  # applies to the retry
        result, asked = await run_answering(agent2, "continue", lambda r: "deny")
    # The identical retry runs without asking; read keeps its session grant; a second
    # deploy is a new call and is asked (and denied here).
    assert [c.status for c in result.tool_calls] == ["ok", "ok", "blocked"]
    assert ran2 == ["deploy"]
    assert [r.tool for r in asked] == ["bash"]
    assert kt_guard.pending_approvals(agent2) == []


async def test_answers_to_restored_requests_are_published_as_events():
    ran: list[str] = []
    recorder = EventRecorder()
    request = ApprovalRequested(request_id="approval_1", call_id="c1", tool="bash", args={})
    agent = await build(ScriptedLLM(["hi"]), ran, {}, recorder=recorder)
    kt_guard.restore_approvals(agent, [request])
    kt_guard.answer(agent, "approval_1", "deny")  # before the start: published when it starts
    async with agent:
        await agent.run("hello")
    (answered,) = recorder.of_type(ApprovalAnswered)
    assert (answered.request_id, answered.decision) == ("approval_1", "deny")


async def test_scenario_13_a_guard_veto_means_no_tool_body_and_no_post_hooks():
    """builtins-hooks scenario 13: the guard blocks ``rm -rf``; the model sees why."""
    post_calls = []

    class PostRecorder:
        @kt.hookimpl
        def kt_post_tool_call(self, call, result):
            post_calls.append(call.name)

    ran: list[str] = []
    llm = ScriptedLLM([bash("rm -rf /"), "understood"])
    async with await build(
        llm, ran, {"ask": [], "deny": ["bash(rm -rf *)"]}, recorder=PostRecorder()
    ) as agent:
        result = await agent.run("clean everything")
    assert ran == [] and post_calls == []
    assert result.tool_calls[0].status == "blocked"
    tool_message = llm.calls[1].messages[-1]
    assert tool_message.role == "tool" and tool_message.tool_call_id == result.tool_calls[0].id
    assert tool_message.content.startswith("Blocked: Permission denied: bash calls matching")
    assert result.status == "completed" and result.text == "understood"


async def test_with_kt_sessions_a_pending_approval_survives_stop_and_resume(tmp_path, monkeypatch):
    pytest.importorskip("kt_sessions")
    monkeypatch.setenv("KT_HOME", str(tmp_path / "home"))
    kernel = kt.Kernel(plugins=["kt_sessions", "kt_guard"])  # kt_session_restore by entry point
    assert kernel.failures == [] and kernel.pm.get_plugin("kt_guard") is kt_guard.plugin
    config = {"name": "ops", "plugins": [{"name": "kt_guard", "permissions": {"ask": ["bash"]}}]}
    ran: list[str] = []
    agent = await kt.Agent.build(
        config,
        llm=ScriptedLLM([bash("deploy"), "never"]),
        tools=[make_bash(ran)],
        kernel=kernel,
        session=True,
        session_dir=tmp_path / "sessions",
    )
    async with trio.open_nursery() as nursery:
        async with agent:
            events = agent.subscribe()
            nursery.start_soon(agent.run, "deploy it")
            async for event in events:
                if isinstance(event, ApprovalRequested):
                    break
        # leaving the block stopped the agent while the approval was pending (the user quit)
    path = agent.session.path

    ran2: list[str] = []
    llm = ScriptedLLM([bash("deploy"), "deployed"], exhausted="raise")
    resumed = await kt.Agent.resume(path, kernel=kernel, llm=llm, tools=[make_bash(ran2)])
    async with resumed:
        (pending,) = kt_guard.pending_approvals(resumed)
        assert (pending.tool, pending.args) == ("bash", {"command": "deploy"})
        kt_guard.answer(resumed, pending.request_id, "allow_once")
        result, asked = await run_answering(resumed, "go on", lambda r: "deny")
    assert ran == [] and ran2 == ["deploy"]
    assert asked == [] and result.tool_calls[0].status == "ok"
    assert "cut short" in llm.calls[0].messages[-2].content  # the model saw the cut call
