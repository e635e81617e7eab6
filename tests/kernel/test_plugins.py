"""Plugin sets, entry-point discovery, registries and every hook (one test_hook_<name> each)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import attrs
import pytest
import trio

import kt
from kt.errors import PluginBlockError, PluginLoadError
from kt.events import ErrorOccurred, TurnCompleted
from kt.testing import EventRecorder, ScriptedLLM, ToolCall


def make_dist(tmp_path: Path, name: str, module_source: str, *, dist: str | None = None) -> None:
    """Put a throwaway distribution with a `kt.plugins` entry point on disk."""
    dist = dist or f"{name}_dist"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = tmp_path / f"{dist}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[kt.plugins]\n{name} = {name}\n")


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


GOOD_PLUGIN = """
import kt

@kt.tool
def shout(text: str) -> str:
    '''Shout the text.'''
    return text.upper()

@kt.hookimpl
def kt_tools():
    return [shout]
"""


def test_entry_point_discovery_and_failure_isolation(plugin_dir):
    make_dist(plugin_dir, "kt_test_good", GOOD_PLUGIN)
    make_dist(plugin_dir, "kt_test_broken", "import no_such_dependency_xyz\n")
    kernel = kt.Kernel(plugins=["kt_test_good", "kt_test_broken"])
    assert "shout" in kernel.tools
    assert kernel.tools.origin("shout") == "kt_test_good"
    assert kernel.tools["shout"].plugin == "kt_test_good"
    failures = {f.name: f.reason for f in kernel.failures}
    assert "ModuleNotFoundError" in failures["kt_test_broken"]
    infos = {i.name: i for i in kernel.plugin_infos()}
    assert infos["kt_test_good"].version == "1.2.3"
    assert infos["kt_test_good"].hooks == ("kt_tools",)
    assert infos["kt_test_broken"].failure is not None


def test_a_misspelt_plugin_is_an_error_listing_the_installed_ones(plugin_dir, tmp_path):
    make_dist(plugin_dir, "kt_test_good", GOOD_PLUGIN)
    with pytest.raises(PluginLoadError) as raised:
        kt.Kernel(plugins=["kt_test_good", "kt_test_goood"])
    message = str(raised.value)
    assert "unknown plugin 'kt_test_goood' (did you mean 'kt_test_good'?)" in message
    assert "kt_test_good" in message.split("installed plugins are:")[1]
    with pytest.raises(PluginLoadError, match="in KT_PLUGINS"):
        kt.Kernel(env={"KT_PLUGINS": "kt_test_good,kt_nothing_like_it"})
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[kt]\nplugins = ["kt_test_gud"]\n')
    with pytest.raises(PluginLoadError, match=r"\[kt\] plugins in the user config"):
        kt.Kernel(env={"KT_HOME": str(home)})


def test_default_set_follows_kt_plugins_env(plugin_dir):
    make_dist(plugin_dir, "kt_test_good", GOOD_PLUGIN)
    assert "shout" in kt.Kernel(env={"KT_PLUGINS": "kt_test_good"}).tools
    assert "shout" not in kt.Kernel(env={"KT_PLUGINS": ""}).tools


def test_a_plugin_file_loads_without_packaging(tmp_path, monkeypatch):
    """Like pytest's ``-p``: a path in the plugin set is a plugin file, relative to the cwd."""
    (tmp_path / "my_plugin.py").write_text(textwrap.dedent(GOOD_PLUGIN))
    monkeypatch.chdir(tmp_path)
    kernel = kt.Kernel(env={"KT_PLUGINS": "./my_plugin.py"})
    assert "shout" in kernel.tools
    assert [info.name for info in kernel.plugin_infos() if info.name.endswith(".py")] == [
        "./my_plugin.py"
    ]
    assert "shout" in kt.Kernel(plugins=[str(tmp_path / "my_plugin.py")]).tools
    with pytest.raises(kt.ModuleLoadError, match="no Python file at .*gone.py.*fix the path"):
        kt.Kernel(env={"KT_PLUGINS": "./gone.py"})


def test_default_set_follows_user_config(plugin_dir, tmp_path):
    make_dist(plugin_dir, "kt_test_good", GOOD_PLUGIN)
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[kt]\nplugins = ["kt_test_good"]\n')
    kernel = kt.Kernel(env={"KT_HOME": str(home)})
    assert kernel.plugin_names == ["kt_test_good"]


REQUIRES_GOOD = """
import kt

kt_requires = ("kt_test_good",)


def whisper(text: str) -> str:
    '''Say the text quietly.'''
    import kt_test_good  # its public API, declared above: the kernel loads it first

    return kt_test_good.shout(text).lower()


@kt.hookimpl
def kt_tools():
    return [kt.tool(whisper)]
"""


def test_a_plugin_loads_after_the_plugins_it_requires(plugin_dir):
    make_dist(plugin_dir, "kt_test_good", GOOD_PLUGIN)
    make_dist(plugin_dir, "kt_test_user", REQUIRES_GOOD)
    kernel = kt.Kernel(plugins=["kt_test_user"])  # the set leaves kt_test_good out
    assert kernel.failures == []
    assert kernel.plugin_names == ["kt_test_good", "kt_test_user"]
    assert kernel.tools["whisper"]("Hi") == "hi"


def test_a_plugin_whose_requirement_failed_fails_with_that_reason(plugin_dir):
    make_dist(plugin_dir, "kt_test_dep", "import no_such_dependency_xyz\n")
    make_dist(plugin_dir, "kt_test_user2", REQUIRES_GOOD.replace("kt_test_good", "kt_test_dep"))
    kernel = kt.Kernel(plugins=["kt_test_user2"])
    failures = {f.name: f.reason for f in kernel.failures}
    assert "no_such_dependency_xyz" in failures["kt_test_dep"]
    assert failures["kt_test_user2"].startswith("requires plugin 'kt_test_dep', which failed:")
    assert kernel.plugin_names == []


def test_a_missing_requirement_and_a_cycle_are_failures(plugin_dir):
    make_dist(plugin_dir, "kt_test_user", REQUIRES_GOOD)  # kt_test_good is not installed
    make_dist(plugin_dir, "kt_test_a", "kt_requires = ('kt_test_b',)\n")
    make_dist(plugin_dir, "kt_test_b", "kt_requires = ('kt_test_a',)\n")
    kernel = kt.Kernel(plugins=["kt_test_user", "kt_test_a"])
    failures = {f.name: f.reason for f in kernel.failures}
    assert "not installed" in failures["kt_test_user"]
    assert "cycle: kt_test_a -> kt_test_b -> kt_test_a" in failures["kt_test_a"]
    assert kernel.plugin_names == []


def test_a_missing_optional_dependency_names_the_extra(plugin_dir):
    make_dist(plugin_dir, "kt_test_heavy", "import no_such_dependency_xyz\n")
    metadata = next(plugin_dir.glob("kt_test_heavy_dist-*.dist-info")) / "METADATA"
    metadata.write_text(
        metadata.read_text()
        + "Provides-Extra: heavy\n"
        + 'Requires-Dist: no-such-dependency-xyz>=1; extra == "heavy"\n'
    )
    (failure,) = kt.Kernel(plugins=["kt_test_heavy"]).failures
    assert failure.reason.endswith(
        "install the 'heavy' extra: pip install 'kt_test_heavy_dist[heavy]'"
    )


def test_bare_kernel_has_only_builtins():
    kernel = kt.Kernel(plugins=[])
    assert kernel.plugin_names == []
    assert set(kernel.tool_formats) == {"native"}
    assert set(kernel.llm_backends) == {"scripted"}
    assert len(kernel.tools) == 0


def _tool_plugin(plugin_name, reply):
    class Plugin:
        kt_plugin_name = plugin_name

        @kt.hookimpl
        def kt_tools(self):
            return [kt.tool(lambda: reply, name="same")]

    return Plugin()


def test_a_registry_clash_keeps_the_first_and_is_reported(caplog):
    kernel = kt.Kernel(plugins=[_tool_plugin("plugin_a", "a"), _tool_plugin("plugin_b", "b")])
    assert kernel.tools["same"]() == "a"
    assert kernel.tools.origin("same") == "plugin_a"
    [clash] = kernel.clashes
    assert (clash.kind, clash.name, clash.kept, clash.ignored) == (
        "tool",
        "same",
        "plugin_a",
        "plugin_b",
    )
    assert "[kt.prefer]" in clash.message and "plugin_b" in clash.message
    assert any(clash.message == r.getMessage() for r in caplog.records)


def test_prefer_chooses_which_registration_to_keep(tmp_path):
    plugins = [_tool_plugin("plugin_a", "a"), _tool_plugin("plugin_b", "b")]
    kernel = kt.Kernel(plugins=plugins, prefer={"same": "plugin_b"})
    assert kernel.tools["same"]() == "b"
    assert (kernel.clashes[0].kept, kernel.clashes[0].ignored) == ("plugin_b", "plugin_a")
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[kt.prefer]\nsame = "plugin_b"\n')
    assert kt.Kernel(plugins=plugins, env={"KT_HOME": str(home)}).tools["same"]() == "b"


GREP_PLUGIN = """
import kt

@kt.tool
def grep(pattern: str) -> str:
    '''Not the built-in grep.'''
    return pattern

@kt.hookimpl
def kt_tools():
    return [grep]
"""


def test_the_default_set_registers_first_party_plugins_before_others(plugin_dir):
    make_dist(plugin_dir, "aaa_test_grep", GREP_PLUGIN)  # sorts before every kt_* name
    kernel = kt.Kernel(env={"KT_HOME": str(plugin_dir / "home")})
    assert kernel.tools.origin("grep") == "kt_tools"
    assert [(c.name, c.kept, c.ignored) for c in kernel.clashes] == [
        ("grep", "kt_tools", "aaa_test_grep")
    ]


def test_default_kernel_is_shared_until_the_selection_changes(monkeypatch):
    monkeypatch.setenv("KT_PLUGINS", "")
    first = kt.Kernel.default()
    assert kt.Kernel.default() is first
    assert first.plugin_names == []
    monkeypatch.setenv("KT_PLUGINS", "kt_formats")
    assert kt.Kernel.default() is not first
    assert kt.Kernel.default().plugin_names == ["kt_formats"]


def test_a_new_installation_is_seen_by_the_next_kernel(plugin_dir):
    kt.Kernel(plugins=[])  # the scan is now kept for the process
    make_dist(plugin_dir, "kt_test_late", GOOD_PLUGIN)
    assert "kt_test_late" in kt.Kernel(plugins=["kt_test_late"]).plugin_names


def test_registration_hook_failure_is_recorded_not_raised():
    class Bad:
        kt_plugin_name = "bad_registrar"

        @kt.hookimpl
        def kt_tools(self):
            raise RuntimeError("registry exploded")

    kernel = kt.Kernel(plugins=[Bad()])
    (failure,) = kernel.failures
    assert failure.name == "bad_registrar"
    assert "registry exploded" in failure.reason


def test_unknown_hook_implementation_is_refused():
    class Typo:
        @kt.hookimpl
        def kt_pre_tool_cal(self, call):
            return None

    kernel = kt.Kernel(plugins=[Typo()])
    with pytest.raises(Exception, match="kt_pre_tool_cal"):
        kernel.pm.check_pending()


# -- One test per hook --------------------------------------------------------------------------


def test_hook_kt_addhookspecs():
    import pluggy

    class MySpecs:
        @staticmethod
        @pluggy.HookspecMarker("kt")
        def kt_custom_thing(x):
            """A custom hook."""

    class Specs:
        @staticmethod
        @kt.hookimpl
        def kt_addhookspecs(pm):
            pm.add_hookspecs(MySpecs)

    class Impl:
        @kt.hookimpl
        def kt_custom_thing(self, x):
            return x * 2

    kernel = kt.Kernel(plugins=[Specs(), Impl()])
    assert kernel.pm.hook.kt_custom_thing(x=21) == [42]


def test_hook_kt_llm_backends():
    class Backend:
        @kt.hookimpl
        def kt_llm_backends(self):
            return [
                kt.LLMBackendSpec("canned", lambda profile: ScriptedLLM([f"model={profile.model}"]))
            ]

    kernel = kt.Kernel(plugins=[Backend()])
    assert "canned" in kernel.llm_backends

    async def go():
        config = {"name": "t", "controller": {"llm": "canned/m1"}}
        async with await kt.Agent.build(config, kernel=kernel) as agent:
            return await agent.run("hi")

    assert trio.run(go).text == "model=m1"


def test_hook_kt_tools():
    class Tools:
        @kt.hookimpl
        def kt_tools(self):
            return [kt.tool(lambda text: text[::-1], name="reverse")]

    kernel = kt.Kernel(plugins=[Tools()])
    assert kernel.tools["reverse"]("abc") == "cba"


def test_hook_kt_subagents():
    """A sub-agent a plugin registers becomes a tool of the creatures that list it."""

    class Helpers:
        @kt.hookimpl
        def kt_subagents(self):
            def factory(entry, parent):
                @kt.tool(name=entry.name)
                def helper(task: str) -> str:
                    """Hand a task to the helper."""
                    return f"{parent.name} delegated: {task}"

                return helper

            return [kt.SubAgentSpec("helper", factory, "answers in one line")]

    async def go():
        llm = ScriptedLLM([ToolCall("helper", {"task": "sum"}), "done"])
        config = {"name": "boss", "subagents": ["helper"]}
        agent = await kt.Agent.build(config, llm=llm, kernel=kt.Kernel(plugins=[Helpers()]))
        async with agent:
            return await agent.run("go")

    result = trio.run(go)
    assert result.tool_calls[0].output == "boss delegated: sum"


def test_hook_kt_triggers():
    """A trigger type a plugin registers wakes the creature that lists it."""

    class Once:
        def __init__(self, entry, agent):
            self.text = entry.options["text"]

        async def run(self, agent, *, task_status=trio.TASK_STATUS_IGNORED):
            task_status.started()
            await agent.inject(self.text).wait()

    class Triggers:
        @kt.hookimpl
        def kt_triggers(self):
            return [kt.TriggerSpec("once", Once, "fires one turn at start")]

    async def go():
        config = {"name": "t", "triggers": [{"type": "once", "text": "wake up"}]}
        kernel = kt.Kernel(plugins=[Triggers()])
        agent = await kt.Agent.build(config, llm=ScriptedLLM(["awake"]), kernel=kernel)
        async with agent:
            events = agent.subscribe()
            async for event in events:
                if isinstance(event, TurnCompleted):
                    return event.result

    result = trio.run(go)
    assert (result.status, result.text) == ("completed", "awake")


def test_hook_kt_tool_formats():
    """A tool format a plugin registers writes the prompt and parses the replies."""
    from kt.formats import NATIVE

    class Shouting:
        name = "shouting"
        native = False

        def prompt_section(self, tools):
            return "CALL A TOOL BY WRITING ITS NAME IN CAPITALS: " + ", ".join(
                t.name for t in tools
            )

        def new_parser(self, body_args):
            class Parser:
                def feed(self, text):
                    return [ToolCall(text.lower().strip(), {})] if text.isupper() else [text]

                def close(self):
                    return []

            return Parser()

    class Formats:
        @kt.hookimpl
        def kt_tool_formats(self):
            return [kt.ToolFormatSpec("shouting", Shouting)]

    @kt.tool
    def ping() -> str:
        """Answer pong."""
        return "pong"

    async def go():
        llm = ScriptedLLM(["PING", "pong it is"])
        config = {"name": "f", "tool_format": "shouting"}
        kernel = kt.Kernel(plugins=[Formats()])
        agent = await kt.Agent.build(config, llm=llm, tools=[ping], kernel=kernel)
        async with agent:
            return agent, await agent.run("go")

    agent, result = trio.run(go)
    assert agent.tool_format is not NATIVE
    assert "CALL A TOOL BY WRITING ITS NAME IN CAPITALS: ping" in agent.system_prompt
    assert result.tool_calls[0].output == "pong"


def test_hook_kt_resolve_ref(tmp_path):
    creature = tmp_path / "packs" / "demo" / "creatures" / "hello"
    creature.mkdir(parents=True)
    (creature / "creature.toml").write_text('name = "hello"\nsystem_prompt = "Hi there."\n')

    class Resolver:
        @kt.hookimpl
        def kt_resolve_ref(self, ref):
            pack, _, rest = ref[1:].partition("/")
            return tmp_path / "packs" / pack / rest if pack == "demo" else None

    kernel = kt.Kernel(plugins=[Resolver()])

    async def go():
        agent = await kt.Agent.build("@demo/creatures/hello", llm=ScriptedLLM(["x"]), kernel=kernel)
        return agent.config

    config = trio.run(go)
    assert config.name == "hello"
    with pytest.raises(kt.ConfigNotFoundError):
        trio.run(lambda: kt.Agent.build("@other/x", llm=ScriptedLLM(["x"]), kernel=kernel))


class _Lifecycle:
    def __init__(self):
        self.seen = []

    @kt.hookimpl
    async def kt_creature_started(self, creature):
        await trio.lowlevel.checkpoint()
        self.seen.append(("started", creature.name))

    @kt.hookimpl
    def kt_creature_stopped(self, creature):
        self.seen.append(("stopped", creature.name))

    @kt.hookimpl
    def kt_turn_started(self, ctx):
        self.seen.append(("turn_started", ctx.turn_index))

    @kt.hookimpl
    def kt_turn_ended(self, ctx, result):
        self.seen.append(("turn_ended", ctx.turn_index, result.status))


async def _run_once(plugin, script=("ok",), tools=(), config=None):
    llm = ScriptedLLM(list(script))
    agent = await kt.Agent.build(
        config or {"name": "t"},
        llm=llm,
        tools=tools,
        kernel=kt.Kernel(plugins=[]),
        plugins=[plugin],
    )
    async with agent:
        result = await agent.run("hi")
    return agent, llm, result


async def test_hook_kt_creature_started():
    plugin = _Lifecycle()
    await _run_once(plugin)
    assert plugin.seen[0] == ("started", "t")


async def test_hook_kt_creature_stopped():
    plugin = _Lifecycle()
    await _run_once(plugin)
    assert plugin.seen[-1] == ("stopped", "t")


async def test_hook_kt_turn_started():
    plugin = _Lifecycle()
    await _run_once(plugin)
    assert ("turn_started", 1) in plugin.seen


async def test_hook_kt_turn_ended():
    plugin = _Lifecycle()
    await _run_once(plugin)
    assert ("turn_ended", 1, "completed") in plugin.seen


async def test_hook_kt_prompt_sections():
    class Sections:
        @kt.hookimpl
        def kt_prompt_sections(self, creature):
            return [
                kt.PromptSection("z.late", "LATE", order=900),
                kt.PromptSection("a.early", "EARLY", order=10),
                kt.PromptSection("b.empty", "", order=20),
            ]

    agent, llm, _ = await _run_once(Sections(), config={"name": "t", "system_prompt": "BASE"})
    assert llm.last_call.messages[0].content == "BASE\n\nEARLY\n\nLATE"


async def test_hook_kt_pre_llm_call():
    class Rewrite:
        @kt.hookimpl
        def kt_pre_llm_call(self, request):
            return attrs.evolve(request, options={**request.options, "temperature": 0.1})

    _, llm, _ = await _run_once(Rewrite())
    assert llm.last_call.request.options["temperature"] == 0.1


async def test_kt_pre_llm_call_veto_fails_the_turn():
    class Veto:
        @kt.hookimpl
        def kt_pre_llm_call(self):
            raise PluginBlockError("no model calls today")

    _, llm, result = await _run_once(Veto())
    assert result.status == "error"
    assert "no model calls today" in str(result.error)
    assert llm.call_count == 0


async def test_hook_kt_post_llm_call():
    class Redact:
        @kt.hookimpl
        async def kt_post_llm_call(self, result):
            return attrs.evolve(result, text=result.text.replace("secret", "[redacted]"))

    agent, _, _ = await _run_once(Redact(), script=["the secret is 42"])
    assert agent.history[-1].content == "the [redacted] is 42"


async def test_hook_kt_pre_tool_call():
    class Rewrite:
        @kt.hookimpl
        def kt_pre_tool_call(self, call, ctx):
            assert ctx.turn_index == 1
            return attrs.evolve(call, args={"text": call.args["text"] * 2})

    echo = kt.tool(lambda text: text, name="echo")
    _, _, result = await _run_once(Rewrite(), [ToolCall("echo", {"text": "ab"}), "ok"], [echo])
    assert result.tool_calls[0].output == "abab"


async def test_hook_kt_post_tool_call():
    class Annotate:
        @kt.hookimpl
        def kt_post_tool_call(self, call, result):
            return attrs.evolve(result, output=f"{result.output} (checked by {call.name})")

    echo = kt.tool(lambda text: text, name="echo")
    _, _, result = await _run_once(Annotate(), [ToolCall("echo", {"text": "x"}), "ok"], [echo])
    assert result.tool_calls[0].output == "x (checked by echo)"


async def test_hook_kt_pre_subagent():
    # Sub-agent implementations call this hook; check it chains through the runner.
    class Prefix:
        @kt.hookimpl
        def kt_pre_subagent(self, name, task):
            return f"[{name}] {task}"

    agent = await kt.Agent.build(
        {"name": "t"}, llm=ScriptedLLM(["x"]), kernel=kt.Kernel(plugins=[Prefix()])
    )
    task = await agent.runner.chain("kt_pre_subagent", "task", "find it", name="explore", ctx=None)
    assert task == "[explore] find it"


async def test_hook_kt_post_subagent():
    class Mark:
        @kt.hookimpl
        def kt_post_subagent(self, result):
            return attrs.evolve(result, reason="checked")

    agent = await kt.Agent.build(
        {"name": "t"}, llm=ScriptedLLM(["x"]), kernel=kt.Kernel(plugins=[Mark()])
    )
    out = await agent.runner.chain(
        "kt_post_subagent", "result", kt.TurnResult(status="completed"), name="x", ctx=None
    )
    assert out.reason == "checked"


async def test_hook_kt_event():
    recorder = EventRecorder()
    await _run_once(recorder)
    types = recorder.types()
    assert types[0] == "creature_started"
    assert "message_appended" in types
    assert types[-1] == "creature_stopped"
    assert recorder.text() == "ok"


async def test_hook_kt_compact():
    class Summariser:
        @kt.hookimpl
        def kt_compact(self, messages):
            return f"{len(messages)} messages about greetings"

    llm = ScriptedLLM(["a1", "a2", "a3"])
    agent = await kt.Agent.build(
        {"name": "t"}, llm=llm, kernel=kt.Kernel(plugins=[]), plugins=[Summariser()]
    )
    async with agent:
        for text in ("u1", "u2", "u3"):
            await agent.run(text)
        assert await agent.compact(keep_recent_turns=1)
        roles = [m.role for m in agent.history]
        assert roles == ["assistant", "user", "assistant"]
        assert "4 messages about greetings" in agent.history[0].content


async def test_a_check_that_breaks_refuses_the_call_and_is_reported():
    class Buggy:
        kt_plugin_name = "buggy"

        @kt.hookimpl
        def kt_pre_tool_call(self, call):
            raise ValueError("oops")

    ran = []
    recorder = EventRecorder()
    echo = kt.tool(lambda text: ran.append(text) or text, name="echo")
    llm = ScriptedLLM([ToolCall("echo", {"text": "x"}), "ok"])
    agent = await kt.Agent.build(
        {"name": "t"},
        llm=llm,
        tools=[echo],
        kernel=kt.Kernel(plugins=[recorder]),
        plugins=[Buggy()],
    )
    async with agent:
        result = await agent.run("go")
    # Fail closed: the guard-like hook broke, so the call is not made (and the model is told).
    assert ran == [] and result.tool_calls[0].status == "blocked"
    assert "plugin 'buggy' failed while checking this (ValueError: oops)" in (
        result.tool_calls[0].error
    )
    (error,) = recorder.of_type(ErrorOccurred)
    assert error.source == "plugin:buggy:kt_pre_tool_call"


async def test_hook_errors_are_isolated_and_reported():
    class Buggy:
        kt_plugin_name = "buggy"

        @kt.hookimpl
        def kt_post_tool_call(self, call):
            raise ValueError("oops")

    recorder = EventRecorder()
    echo = kt.tool(lambda text: text, name="echo")
    llm = ScriptedLLM([ToolCall("echo", {"text": "x"}), "ok"])
    agent = await kt.Agent.build(
        {"name": "t"},
        llm=llm,
        tools=[echo],
        kernel=kt.Kernel(plugins=[recorder]),
        plugins=[Buggy()],
    )
    async with agent:
        result = await agent.run("go")
    assert result.tool_calls[0].status == "ok"
    (error,) = recorder.of_type(ErrorOccurred)
    assert error.source == "plugin:buggy:kt_post_tool_call"
    assert "oops" in error.message


async def test_hook_order_last_registered_first_with_tryfirst_and_trylast():
    order = []

    def plugin(label, **flags):
        class P:
            kt_plugin_name = label

            @kt.hookimpl(**flags)
            def kt_turn_started(self):
                order.append(label)

        return P()

    kernel = kt.Kernel(plugins=[plugin("k1"), plugin("k2"), plugin("k_last", trylast=True)])
    agent = await kt.Agent.build(
        {"name": "t"},
        llm=ScriptedLLM(["x"]),
        kernel=kernel,
        plugins=[plugin("c1"), plugin("c_first", tryfirst=True)],
    )
    async with agent:
        await agent.run("hi")
    assert order == ["c_first", "c1", "k2", "k1", "k_last"]


async def test_creature_config_plugins_by_module_and_class(tmp_path, monkeypatch):
    (tmp_path / "my_guard.py").write_text(
        textwrap.dedent(
            """
            import kt
            from kt.errors import PluginBlockError

            class Guard:
                def __init__(self, blocked="rm"):
                    self.blocked = blocked

                @kt.hookimpl
                def kt_pre_tool_call(self, call, ctx):
                    if call.name == self.blocked:
                        raise PluginBlockError(f"{call.name} is not allowed; {ctx.plugin_options('guard')}")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    rm = kt.tool(lambda path: "gone", name="rm")
    config = {
        "name": "t",
        "plugins": [{"name": "guard", "module": "my_guard", "class": "Guard", "blocked": "rm"}],
    }
    llm = ScriptedLLM([ToolCall("rm", {"path": "x"}), "ok"])
    async with await kt.Agent.build(
        config, llm=llm, tools=[rm], kernel=kt.Kernel(plugins=[])
    ) as agent:
        result = await agent.run("go")
    assert result.tool_calls[0].status == "blocked"
    assert "rm is not allowed" in result.tool_calls[0].error


async def test_turn_completed_reaches_kt_event_before_run_returns():
    recorder = EventRecorder()
    _, _, result = await _run_once(recorder)
    (done,) = recorder.of_type(TurnCompleted)
    assert done.result is result


# builtins-hooks acceptance scenarios 14 and 15 (hook chaining and rewrite/veto) -------------


def _appender(letter, **flags):
    class Append:
        kt_plugin_name = f"append_{letter}"

        @kt.hookimpl(**flags)
        def kt_pre_tool_call(self, call):
            return attrs.evolve(call, args={"text": call.args["text"] + letter})

        @kt.hookimpl(**flags)
        def kt_post_llm_call(self, result):
            if result.text:
                return attrs.evolve(result, text=result.text + f" [{letter}]")
            return None

    return Append()


async def test_chained_rewrites_apply_in_order_and_edits_are_reported():
    received = []
    echo = kt.tool(lambda text: received.append(text) or text, name="echo")
    recorder = EventRecorder()
    # tryfirst runs first: A then B, whatever the registration order
    kernel = kt.Kernel(plugins=[_appender("B"), _appender("A", tryfirst=True), recorder])
    llm = ScriptedLLM([ToolCall("echo", {"text": "x"}), "done"])
    async with await kt.Agent.build({"name": "t"}, llm=llm, tools=[echo], kernel=kernel) as agent:
        await agent.run("go")
    assert received == ["xAB"]
    assert agent.history[-1].content == "done [A] [B]"
    (edited,) = recorder.of_type(kt.events.AssistantMessageEdited)
    assert edited.plugins == ("append_A", "append_B")
    assert edited.text == "done [A] [B]"


async def test_rewrite_to_another_tool_runs_it_and_to_an_unknown_name_is_refused():
    ran = []
    first = kt.tool(lambda text: ran.append(("first", text)) or "1", name="first")
    second = kt.tool(lambda text: ran.append(("second", text)) or "2", name="second")

    class Redirect:
        @kt.hookimpl
        def kt_pre_tool_call(self, call):
            if call.name == "first":
                return attrs.evolve(call, name="second")
            if call.name == "second" and call.args["text"] == "lost":
                return attrs.evolve(call, name="nowhere")
            return None

    llm = ScriptedLLM(
        [
            [
                ToolCall("first", {"text": "a"}, id="c1"),
                ToolCall("second", {"text": "lost"}, id="c2"),
            ],
            "ok",
        ]
    )
    kernel = kt.Kernel(plugins=[Redirect()])
    async with await kt.Agent.build(
        {"name": "t"}, llm=llm, tools=[first, second], kernel=kernel
    ) as agent:
        result = await agent.run("go")
    assert ran == [("second", "a")]
    records = {r.id: r for r in result.tool_calls}
    assert records["c1"].status == "ok" and records["c1"].output == "2"
    assert records["c2"].status == "error" and "unknown tool 'nowhere'" in records["c2"].error
    tool_messages = {m.tool_call_id: m.content for m in agent.history if m.role == "tool"}
    assert set(tool_messages) == {"c1", "c2"}  # the refused call still answers its own id


class MemoryStore:
    """A session store keeping each creature's event types in a list."""

    def __init__(self):
        self.sessions: dict[str, list[str]] = {}

    @kt.hookimpl
    def kt_session_stores(self):
        def factory(path, *, name, **options):
            recorded = self.sessions.setdefault(path or name, [])

            class Recorder:
                @kt.hookimpl
                def kt_event(self, event):
                    recorded.append(event.type)

            return Recorder()

        return [kt.SessionStoreSpec("memory", factory, reader=self.sessions.__getitem__)]


async def test_hook_kt_session_stores():
    store = MemoryStore()
    kernel = kt.Kernel(plugins=[store])
    agent = await kt.Agent.build(
        {"name": "m"}, llm=ScriptedLLM(["hi"]), kernel=kernel, session=True
    )
    async with agent:
        await agent.run("x")
    recorded = kt.SessionReader("m", kernel=kernel)
    assert recorded[0] == "creature_started" and "turn_completed" in recorded


def test_the_next_process_finds_the_plugins_without_scanning(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, kt\n"
        "names = kt.Kernel(plugins=['kt_formats']).plugin_names\n"
        "print(names, 'importlib.metadata' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KT_PLUGINS"}
    env["KT_HOME"] = str(tmp_path / "home")

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    assert run() == "['kt_formats'] True"  # the first process scans the installation
    cache = tmp_path / "home" / "cache" / "plugin-entry-points.json"
    assert cache.is_file()
    assert run() == "['kt_formats'] False"  # the next one reads what it found
    cache.write_text("{not json")
    assert run() == "['kt_formats'] True"  # a broken file is only a scan
