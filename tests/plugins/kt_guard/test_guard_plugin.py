"""kt_guard as a plugin: registration, how creatures switch it on, options, fail-closed config."""

from __future__ import annotations

import pytest

import kt
import kt_guard
from kt.events import ErrorOccurred
from kt.plugins import new_plugin_manager
from kt.testing import EventRecorder, ScriptedLLM, ToolCall
from kt_guard import Guard, GuardConfigError, parse_options


@kt.tool
async def echo(text: str) -> str:
    """Echo a text.

    Args:
        text: What to echo.
    """
    return text


def calls(n: int, then: str = "done") -> list:
    return [ToolCall("echo", {"text": str(i)}) for i in range(n)] + [then]


def test_hooks_match_the_kernel_specs():
    # kt_session_restore is the kernel's: kt_guard implements it with or without kt_sessions.
    kt.Kernel(plugins=[kt_guard.plugin, Guard(budgets={"turns": 3})]).pm.check_pending()
    pm = new_plugin_manager()
    pm.register(kt_guard.plugin, name="kt_guard")
    pm.check_pending()


def test_the_session_and_guard_plugins_load_in_either_order():
    # Both used to declare kt_session_restore; whichever came second lost kt_embedding_providers.
    for order in (["kt_sessions", "kt_guard"], ["kt_guard", "kt_sessions"]):
        kernel = kt.Kernel(plugins=order)
        assert kernel.failures == []
        kernel.pm.check_pending()
        assert kernel.pm.hook.kt_embedding_providers.spec is not None
        assert kernel.pm.hook.kt_session_restore.spec is not None


async def test_without_options_the_guard_does_nothing():
    recorder = EventRecorder()
    kernel = kt.Kernel(plugins=[kt_guard.plugin, recorder])
    llm = ScriptedLLM(calls(5))
    async with await kt.Agent.build({"name": "t"}, llm=llm, tools=[echo], kernel=kernel) as agent:
        result = await agent.run("go")
    assert result.status == "completed"
    assert [c.status for c in result.tool_calls] == ["ok"] * 5
    assert "budget" not in agent.system_prompt.lower()
    assert "sandbox" not in agent.system_prompt.lower()
    guard_events = [e for e in recorder.events if e.type.startswith(("approval", "budget"))]
    assert guard_events == []
    assert kt_guard.budget_status(agent) == {}


async def test_a_creature_switches_features_on_in_its_plugins_entry():
    kernel = kt.Kernel(plugins=[kt_guard.plugin])  # loaded for every creature, as an entry point is
    config = {"name": "t", "plugins": [{"name": "kt_guard", "budgets": {"tool_calls": [1, 2]}}]}
    llm = ScriptedLLM(calls(3))
    async with await kt.Agent.build(config, llm=llm, tools=[echo], kernel=kernel) as agent:
        result = await agent.run("go")
        status = kt_guard.budget_status(agent)
    assert [c.status for c in result.tool_calls] == ["ok", "ok", "blocked"]
    assert status == {"tool_calls": {"used": 2.0, "soft": 1.0, "hard": 2.0}}
    assert "## Operating constraints" in agent.system_prompt
    assert "tool_calls: warning at 1, stop at 2" in agent.system_prompt


async def test_other_creatures_of_the_same_kernel_stay_unrestricted():
    kernel = kt.Kernel(plugins=[kt_guard.plugin])
    limited = {"name": "a", "plugins": [{"name": "kt_guard", "budgets": {"tool_calls": 1}}]}
    async with await kt.Agent.build(
        limited, llm=ScriptedLLM(calls(2)), tools=[echo], kernel=kernel
    ) as a:
        first = await a.run("go")
    async with await kt.Agent.build(
        {"name": "b"}, llm=ScriptedLLM(calls(2)), tools=[echo], kernel=kernel
    ) as b:
        second = await b.run("go")
    assert [c.status for c in first.tool_calls] == ["ok", "blocked"]
    assert [c.status for c in second.tool_calls] == ["ok", "ok"]


async def test_a_guard_instance_given_to_one_creature():
    guard = Guard(budgets={"tool_calls": 2})
    llm = ScriptedLLM(calls(3))
    async with await kt.Agent.build(
        {"name": "t"}, llm=llm, tools=[echo], plugins=[guard], kernel=kt.Kernel(plugins=[])
    ) as agent:
        result = await agent.run("go")
        assert guard.budget_status(agent)["tool_calls"]["used"] == 2
    assert [c.status for c in result.tool_calls] == ["ok", "ok", "blocked"]


async def test_a_guard_class_named_by_module_and_class_in_the_config():
    config = {
        "name": "t",
        "plugins": [
            {"name": "guard", "module": "kt_guard", "class": "Guard", "budgets": {"tool_calls": 1}}
        ],
    }
    llm = ScriptedLLM(calls(2))
    async with await kt.Agent.build(
        config, llm=llm, tools=[echo], kernel=kt.Kernel(plugins=[])
    ) as agent:
        result = await agent.run("go")
    assert [c.status for c in result.tool_calls] == ["ok", "blocked"]


async def test_a_bad_class_option_fails_the_build_with_the_key_path():
    config = {
        "name": "t",
        "plugins": [{"name": "g", "module": "kt_guard", "class": "Guard", "budgets": {"tool": 1}}],
    }
    with pytest.raises(kt.ModuleLoadError, match="unknown key.*tool.*accepted: turns"):
        await kt.Agent.build(config, llm=ScriptedLLM(["x"]), kernel=kt.Kernel(plugins=[]))


async def test_bad_entry_options_stop_the_creature_and_say_why():
    recorder = EventRecorder()
    kernel = kt.Kernel(plugins=[kt_guard.plugin, recorder])
    config = {"name": "t", "plugins": [{"name": "kt_guard", "budgets": {"tool_calls": [3, 2]}}]}
    llm = ScriptedLLM(calls(1))
    async with await kt.Agent.build(config, llm=llm, tools=[echo], kernel=kernel) as agent:
        result = await agent.run("go")
    assert result.status == "error"
    assert isinstance(result.error, kt.PluginBlockError)
    assert "plugins[0].budgets.tool_calls" in str(result.error)
    assert "soft (3) must not be above hard (2)" in str(result.error)
    assert llm.call_count == 0  # failed closed: the model was never called
    (error,) = [e for e in recorder.of_type(ErrorOccurred) if e.source == "plugin:kt_guard:options"]
    assert error.error_type == "GuardConfigError"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"budget": {}}, "unknown key(s) budget; accepted: budgets, permissions, sandbox"),
        ({"budgets": {"turns": [1, 2, 3]}}, "write [soft, hard] (two numbers), got 3"),
        ({"budgets": {"turns": {"soft": 1}}}, "needs a 'hard' limit"),
        ({"budgets": {"tokens": -5}}, "must be a number above 0"),
        ({"budgets": {"tokens": True}}, "must be a number above 0"),
        ({"budgets": {"final_calls": -1}}, "final_calls"),
        ({"permissions": {"ask": "bash("}}, "is not a rule"),
        ({"permissions": {"timeout": "soon"}}, "must be seconds"),
        ({"sandbox": {"network": 3}}, "must be a list of strings"),
        ({"sandbox": {"allow_python": "yes"}}, "must be true or false"),
        ({"sandbox": {"paths": ["."]}}, "unknown key(s) paths"),
    ],
)
def test_options_are_validated_with_the_key_path(options, message):
    with pytest.raises(GuardConfigError) as info:
        parse_options(options, where="plugins[0]")
    assert message in str(info.value)
    assert str(info.value).startswith("at 'plugins[0]")


def test_options_accept_lists_tables_and_bare_numbers():
    options = parse_options(
        {
            "budgets": {"turns": [2, 4], "tokens": {"soft": 10, "hard": 20}, "wall_time": 60},
            "permissions": {"ask": "bash", "deny": ["bash(rm *)"], "timeout": 0},
            "sandbox": {"network": False, "shell": "git *"},
        }
    )
    limits = options.budgets.limits
    assert (limits["turns"].soft, limits["turns"].hard) == (2, 4)
    assert (limits["tokens"].soft, limits["tokens"].hard) == (10, 20)
    assert (limits["wall_time"].soft, limits["wall_time"].hard) == (None, 60)
    assert options.permissions.timeout is None  # 0 = wait without limit
    assert options.permissions.deny[0].matches("bash", "rm -rf /")
    assert not options.permissions.deny[0].matches("bash", "ls")
    assert options.sandbox.shell == ("git *",)
    assert options.active
    assert not parse_options({}).active


def test_guard_events_round_trip_through_the_wire_shape():
    events = [
        kt_guard.ApprovalRequested(
            request_id="r", call_id="c", tool="bash", args={"command": "ls"}
        ),
        kt_guard.ApprovalAnswered(request_id="r", decision="allow_session"),
        kt_guard.BudgetAlarm(axis="tokens", level="soft", used=5, soft=5, hard=10, message="m"),
    ]
    for event in events:
        assert kt.events.from_wire(kt.events.to_wire(event)) == event


class Answers:
    """A headless policy: denies approval requests for ``echo("no")``, allows the others once."""

    @kt.hookimpl
    def kt_event(self, event, creature):
        if isinstance(event, kt_guard.ApprovalRequested):
            decision = "deny" if event.args.get("text") == "no" else "allow_once"
            kt_guard.answer(creature, event.request_id, decision)


@kt.tool(name="write", concurrency_safe=False)
async def fake_write(path: str) -> str:
    """Pretend to write a file.

    Args:
        path: Where.
    """
    return "written"


async def test_a_tool_call_meets_the_sandbox_then_the_budget_then_a_person(tmp_path):
    recorder = EventRecorder()
    guard = Guard(
        budgets={"tool_calls": 2},
        permissions={"ask": ["echo", "write"]},
        sandbox={"write_paths": ["."]},
    )
    script = [
        ToolCall("write", {"path": str(tmp_path.parent / "elsewhere.txt")}),  # the sandbox
        ToolCall("echo", {"text": "no"}),  # a person refuses
        ToolCall("echo", {"text": "a"}),
        ToolCall("write", {"path": "inside.txt"}),
        ToolCall("echo", {"text": "c"}),  # the budget is spent
    ]
    llm = ScriptedLLM([[call] for call in script] + ["done"])
    kernel = kt.Kernel(plugins=[recorder, Answers()])
    async with await kt.Agent.build(
        {"name": "t"},
        llm=llm,
        tools=[echo, fake_write],
        plugins=[guard],
        kernel=kernel,
        pwd=tmp_path,
    ) as agent:
        result = await agent.run("go")
        status = guard.budget_status(agent)
    statuses = [c.status for c in result.tool_calls]
    assert statuses == ["blocked", "blocked", "ok", "ok", "blocked"]
    assert result.tool_calls[0].error.startswith("Sandbox denied [fs_write]")
    assert "the user refused this echo call" in result.tool_calls[1].error
    assert result.tool_calls[4].error.startswith("Budget exhausted (tool_calls: 2/2)")
    # A person was asked only about calls the sandbox and the budget admitted ...
    asked = [e.args for e in recorder.of_type(kt_guard.ApprovalRequested)]
    assert asked == [{"text": "no"}, {"text": "a"}, {"path": "inside.txt"}]
    # ... and only the calls that ran were counted.
    assert status["tool_calls"]["used"] == 2


async def test_one_guard_describes_every_feature_it_enforces():
    guard = Guard(budgets={"turns": 3}, permissions={"deny": ["bash"]}, sandbox={"network": False})
    async with await kt.Agent.build(
        {"name": "t"}, llm=ScriptedLLM(["hi"]), plugins=[guard], kernel=kt.Kernel(plugins=[])
    ) as agent:
        prompt = agent.system_prompt
    assert "## Operating constraints" in prompt and "- turns: stop at 3" in prompt
    assert "## Approvals" in prompt and "Never allowed: bash." in prompt
    assert "## Sandbox" in prompt and "- Network: off" in prompt


def test_the_module_is_not_the_plugin():
    # The entry point names kt_guard.plugin; registering the module object adds no hooks.
    pm = new_plugin_manager()
    pm.register(kt_guard, name="kt_guard")
    assert pm.get_hookcallers(kt_guard) == []
    assert isinstance(kt_guard.plugin, kt_guard.ConfiguredGuard)
