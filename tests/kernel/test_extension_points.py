"""Every extension point and config key is real: a registered module changes what a creature does.

Registration alone proves nothing, so each test here builds a creature whose config names a
module a test plugin registers, and checks the creature's behaviour. The last test walks every
config field and fails for one that nothing outside ``kt.config`` reads and that is not
refused when set.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest
import trio

import kt
from kt import config as cfg
from kt.errors import ConfigError, ConfigValidationError, UnknownNameError
from kt.events import TurnStarted
from kt.results import TurnResult
from kt.testing import EventRecorder, ScriptedLLM

ROOT = Path(__file__).resolve().parents[2]


# -- Controllers --------------------------------------------------------------------------------


class CountingLoop:
    """A reasoning loop that wraps the default one and counts the turns it ran."""

    def __init__(self, agent):
        self.turns = 0
        self.default = agent.kernel.controllers["default"].factory(agent)

    async def __call__(self, agent, request) -> TurnResult:
        self.turns += 1
        return await self.default(agent, request)


class LoopPlugin:
    loops: list[CountingLoop] = []

    @kt.hookimpl
    def kt_controllers(self):
        def factory(agent):
            loop = CountingLoop(agent)
            self.loops.append(loop)
            return loop

        return [kt.ControllerSpec("counting", factory, "the default loop, counted")]


async def test_hook_kt_controllers():
    """``[controller] loop`` selects a loop a plugin registers, and it runs every turn."""
    plugin = LoopPlugin()
    kernel = kt.Kernel(plugins=[plugin])
    config = {"name": "c", "controller": {"loop": "counting"}}
    async with await kt.Agent.build(config, llm=ScriptedLLM(["a", "b"]), kernel=kernel) as agent:
        await agent.run("one")
        await agent.run("two")
    assert [loop.turns for loop in plugin.loops] == [2]


async def test_an_unknown_loop_names_the_loaded_ones():
    with pytest.raises(UnknownNameError, match="unknown controller loop 'nope'") as caught:
        await kt.Agent.build({"name": "c", "loop": "nope"}, llm=ScriptedLLM([]))
    assert caught.value.path == "controller.loop"


# -- Inputs and outputs -------------------------------------------------------------------------


class LinesInput:
    """Runs one turn per line of its ``lines`` option, then ends (like end of input)."""

    def __init__(self, entry, agent):
        self.lines = list(entry.options["lines"])
        self.replies: list[str] = []

    async def run(self, agent):
        for line in self.lines:
            self.replies.append((await agent.run(line)).text)


class CollectingOutput:
    def __init__(self, entry, agent):
        self.types: list[str] = []

    async def on_event(self, event):
        self.types.append(event.type)


class IOPlugin:
    @kt.hookimpl
    def kt_inputs(self):
        return [kt.InputSpec("lines", LinesInput, "lines from the config")]

    @kt.hookimpl
    def kt_outputs(self):
        return [kt.OutputSpec("collect", CollectingOutput, "keeps event types")]


async def test_hook_kt_inputs():
    """The config's input module drives the creature through ``serve``."""
    kernel = kt.Kernel(plugins=[IOPlugin()])
    config = {
        "name": "io",
        "input": {"type": "lines", "lines": ["a", "b"]},
        "output": "collect",
    }
    agent = await kt.Agent.build(config, llm=ScriptedLLM(["A", "B"]), kernel=kernel)
    async with agent:
        with trio.fail_after(5):
            await agent.serve()
    assert agent.input.replies == ["A", "B"]
    (output,) = agent.outputs
    assert output.types.count("turn_completed") == 2


async def test_hook_kt_outputs():
    """An output module named in the config receives every event of the creature."""
    kernel = kt.Kernel(plugins=[IOPlugin()])
    agent = await kt.Agent.build(
        {"name": "o", "output": {"type": "collect"}}, llm=ScriptedLLM(["hi"]), kernel=kernel
    )
    async with agent:
        await agent.run("x")
    (output,) = agent.outputs
    assert output.types[0] == "creature_started"
    assert output.types[-1] == "creature_stopped"
    assert "text_delta" in output.types


async def test_build_arguments_override_the_config_modules():
    kernel = kt.Kernel(plugins=[IOPlugin()])
    config = {"name": "io", "input": {"type": "lines", "lines": ["a"]}}
    agent = await kt.Agent.build(
        config,
        llm=ScriptedLLM(["x", "y"]),
        kernel=kernel,
        input={"type": "lines", "lines": ["p", "q"]},
        output=None,
    )
    async with agent:
        await agent.serve()
    assert agent.input.replies == ["x", "y"]
    assert agent.outputs == []


async def test_serving_without_an_input_is_a_config_error():
    async with await kt.Agent.build({"name": "n"}, llm=ScriptedLLM([])) as agent:
        with pytest.raises(ConfigError, match="no input module"):
            await agent.serve()


async def test_an_unknown_input_type_lists_the_loaded_ones():
    kernel = kt.Kernel(plugins=[IOPlugin()])
    with pytest.raises(UnknownNameError, match="unknown input type 'keyboard'.*lines") as caught:
        await kt.Agent.build({"name": "n", "input": "keyboard"}, llm=ScriptedLLM([]), kernel=kernel)
    assert caught.value.path == "input.type"


# -- Other keys ---------------------------------------------------------------------------------


async def test_startup_trigger_runs_one_turn_when_the_creature_starts():
    recorder = EventRecorder()
    config = {"name": "s", "startup_trigger": {"prompt": "Say hello."}}
    llm = ScriptedLLM(["Hello."])
    agent = await kt.Agent.build(config, llm=llm, plugins=[recorder])
    async with agent:
        with trio.fail_after(5):
            while not recorder.of_type(kt.events.TurnCompleted):
                await trio.testing.wait_all_tasks_blocked()
    (started,) = recorder.of_type(TurnStarted)
    assert (started.input, started.source) == ("Say hello.", "startup")
    assert llm.last_call.messages[-1].content == "Say hello."


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            {"output": {"type": "stdout", "controller_direct": False}},
            "output.controller_direct",
            "streams",
        ),
        (
            {"output": {"type": "stdout", "named_outputs": {"log": "file"}}},
            "output.named_outputs",
            "by name",
        ),
        ({"skill_mode": "static"}, "skill_mode", "index"),
        ({"include_tools_in_prompt": False}, "include_tools_in_prompt", "tools always"),
        ({"default_plugins": ["x"]}, "default_plugins", r"\[\[plugins\]\]"),
        ({"controller": {"auth_mode": "oauth"}}, "controller.auth_mode", "kt login"),
    ],
)
def test_keys_whose_behaviour_is_not_built_are_refused(key, value, message):
    with pytest.raises(ConfigValidationError, match=f"not supported: .*{message}") as caught:
        cfg.load_creature_config({"name": "x", **key})
    assert caught.value.path == value


# -- Every config field is read or refused ------------------------------------------------------


def _nested_classes(annotation: object) -> list[type]:
    text = str(annotation)
    return [
        c
        for c in vars(cfg).values()
        if isinstance(c, type) and attrs.has(c) and re.search(rf"\b{c.__name__}\b", text)
    ]


def _fields(cls: type, prefix: str = "", seen: set[type] | None = None):
    seen = set() if seen is None else seen
    seen.add(cls)
    for field in attrs.fields(cls):
        yield prefix + field.name, field
        for nested in _nested_classes(field.type):
            if nested not in seen:
                yield from _fields(nested, f"{prefix}{field.name}.", seen)


def _reader_sources() -> str:
    roots = [ROOT / "kernel" / "kt", ROOT / "plugins", ROOT / "cli", ROOT / "web"]
    config_dir = ROOT / "kernel" / "kt" / "config"
    return "\n".join(
        path.read_text(encoding="utf-8")
        for root in roots
        if root.is_dir()
        for path in root.rglob("*.py")
        if config_dir not in path.parents
    )


COMPUTED = {"folder", "files", "system_prompt_files"}  # results of loading, not keys users write


def test_every_config_field_is_read_somewhere_or_refused():
    sources = _reader_sources()
    ignored = []
    for path, field in _fields(cfg.CreatureConfig):
        if path in COMPUTED or field.metadata.get("unsupported"):
            continue
        if not re.search(rf"\.{field.name}\b", sources):
            ignored.append(path)
    assert ignored == [], "accepted but never read: make them work or refuse them"


async def test_an_input_error_reaches_the_caller_of_serve_as_it_is():
    class Broken:
        async def run(self, agent):
            raise kt.errors.ConfigError("the input cannot open its source; fix its options")

    agent = await kt.Agent.build({"name": "b"}, llm=ScriptedLLM([]), input=Broken())
    async with agent:
        with pytest.raises(ConfigError, match="cannot open its source"):
            await agent.serve()


# -- Prompt rendering and module aliases ---------------------------------------------------------


class Shout:
    """A renderer: upper-cases the base prompt and places the tools section itself."""

    @kt.hookimpl
    def kt_render_prompt(self, creature, text, variables):
        return kt.RenderedPrompt(f"{text.upper()} [{variables['tools']}]", uses_tools=True)


async def test_hook_kt_render_prompt():
    @kt.tool(guidance="Use count for counting.")
    def count(text: str) -> str:
        """Count."""
        return "1"

    llm = ScriptedLLM(["ok"])
    config = {"name": "loud", "system_prompt": "be brief"}
    async with await kt.Agent.build(
        config, llm=llm, kernel=kt.Kernel(plugins=[Shout()]), tools=[count]
    ) as agent:
        await agent.run("hi")
    # The tools section appears where the renderer put it, and only there.
    assert llm.calls[0].messages[0].content == "BE BRIEF [Use count for counting.]"


class Foreign:
    """A per-creature plugin standing in for a module from another framework's pack."""

    def __init__(self, note: str = "default") -> None:
        self.note = note

    @kt.hookimpl
    def kt_prompt_sections(self, creature):
        return [kt.PromptSection("foreign", f"foreign note: {self.note}")]


class Aliases:
    @kt.hookimpl
    def kt_module_aliases(self):
        return {"other_framework.plugins.notes:NotesPlugin": f"{__name__}:Foreign"}


async def test_hook_kt_module_aliases():
    config = {
        "name": "ported",
        "plugins": [
            {
                "name": "notes",
                "module": "other_framework.plugins.notes",
                "class": "NotesPlugin",
                "note": "from the pack",
            }
        ],
    }
    llm = ScriptedLLM(["ok"])
    async with await kt.Agent.build(config, llm=llm, kernel=kt.Kernel(plugins=[Aliases()])) as a:
        await a.run("hi")
    assert "foreign note: from the pack" in llm.calls[0].messages[0].content
    with pytest.raises(kt.errors.ModuleLoadError, match="other_framework"):
        await kt.Agent.build(config, llm=ScriptedLLM(["ok"]), kernel=kt.Kernel(plugins=[]))
