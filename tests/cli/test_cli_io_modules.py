"""Input and output modules drive `kt run`: config entries, plugins' modules, --mode, errors."""

from __future__ import annotations

import io
import sys
import types
from pathlib import Path

import pytest
import trio
from click.testing import CliRunner
from kt_cli_helpers import write

import kt
from kt.errors import ConfigValidationError, UnknownNameError
from kt.events import TurnCompleted
from kt.testing import ScriptedLLM
from kt_cli import plugin as kt_cli_plugin
from kt_cli.main import cli
from kt_cli.modes import ModeError, find_mode, mode_names
from kt_cli.state import CliState


class ShoutInput:
    """A plugin's input: each stdin line, in capitals, is one turn; the source ends at EOF."""

    def __init__(self, entry, agent):
        self.prefix = entry.options.get("prefix", "")
        self.exit_code = 0
        self.turns = []

    async def run(self, agent):
        for line in sys.stdin.read().splitlines():
            result = await agent.run(self.prefix + line.upper())
            self.turns.append(result.text)
        self.exit_code = 3


class Recorder:
    """A plugin's output: keeps the reply text of every finished turn."""

    def __init__(self, entry, agent):
        self.replies = []
        self.started = self.stopped = False
        RecordingPlugin.outputs.append(self)

    async def start(self):
        self.started = True

    async def on_event(self, event):
        if isinstance(event, TurnCompleted):
            self.replies.append(event.result.text)

    async def stop(self):
        self.stopped = True


class RecordingPlugin:
    kt_plugin_name = "kt_shout"
    outputs: list[Recorder] = []

    @kt.hookimpl
    def kt_inputs(self):
        return [kt.InputSpec("shout", ShoutInput, "stdin lines in capitals")]

    @kt.hookimpl
    def kt_outputs(self):
        return [kt.OutputSpec("recorder", Recorder, "keeps the replies")]


@pytest.fixture
def recording():
    RecordingPlugin.outputs.clear()
    return RecordingPlugin()


def creature(tmp_path, body: str = "", replies: str = 'replies = ["pong", "pong again"]'):
    folder = tmp_path / "c"
    write(folder / "creature.toml", f'name = "c"\n{body}\n[controller]\nllm = "scripted:r.toml"\n')
    write(folder / "r.toml", replies)
    return folder


def kt_run(args, *, plugins=(), stdin=""):
    state = CliState(kernel=kt.Kernel(plugins=list(plugins)))
    return CliRunner().invoke(cli, ["run", *map(str, args)], obj=state, input=stdin)


def test_a_creature_is_served_from_the_input_and_output_its_config_names(tmp_path, recording):
    folder = creature(
        tmp_path,
        """
input = { type = "shout", prefix = "> " }
output = { type = "recorder" }
""",
    )
    result = kt_run(["--no-session", folder], plugins=[recording], stdin="ping\nagain\n")
    assert result.exit_code == 3, result.output  # the input's own exit code
    (output,) = RecordingPlugin.outputs
    assert output.replies == ["pong", "pong again"]
    assert output.started and output.stopped
    assert result.stdout == ""  # the config's output takes the replies; no stdout added


def test_mode_names_a_plugins_input_and_the_stdout_output_shows_the_replies(tmp_path, recording):
    folder = creature(tmp_path, 'output = { type = "recorder" }\n')
    result = kt_run([folder, "--mode", "shout"], plugins=[recording], stdin="ping\n")
    assert result.exit_code == 3, result.output
    assert result.stdout == "pong\n"  # --mode: the mode's modules only, plus stdout
    assert RecordingPlugin.outputs == []


def test_the_configured_cli_input_is_used_without_mode(tmp_path):
    folder = creature(tmp_path, 'input = { type = "cli" }\n')
    result = kt_run([folder], stdin="ping\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "> pong\n> \n"  # cli on a pipe: prompted lines, not plain's output


def test_a_configured_stdout_output_stays_silent_under_a_terminal_ui(tmp_path):
    folder = creature(tmp_path, 'input = "cli"\noutput = { type = "stdout" }\n')
    result = kt_run([folder], stdin="ping\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "> pong\n> \n"  # the reply once: the cli input renders it


def test_an_unknown_input_type_is_a_config_error_naming_the_loaded_ones(tmp_path):
    folder = creature(tmp_path, 'input = { type = "keyboard" }\n')
    result = kt_run([folder], stdin="ping\n")
    assert result.exit_code == 2
    assert "unknown input type 'keyboard'" in result.stderr
    assert "input.type" in result.stderr
    unknown = kt_run([folder, "--mode", "keyboard"])
    assert unknown.exit_code == 2
    assert "unknown mode 'keyboard'; modes: plain, cli" in unknown.stderr


def test_a_bad_option_of_a_terminal_input_names_its_key(tmp_path):
    folder = creature(tmp_path, 'input = { type = "plain", colour = "red" }\n')
    result = kt_run([folder], stdin="ping\n")
    assert result.exit_code == 2
    assert "input.colour" in result.stderr
    assert "the 'plain' input has no option 'colour'; it takes timeout, prompt" in result.stderr


def test_timeout_needs_an_input_that_takes_one(tmp_path, recording):
    folder = creature(tmp_path, 'input = "shout"\n')
    result = kt_run([folder, "--timeout", "5"], plugins=[recording], stdin="ping\n")
    assert result.exit_code == 1
    assert "--timeout: the input 'shout' takes no time limit per turn" in result.stderr


def test_the_bare_kernel_still_has_the_terminal_modules_of_the_kt_command():
    kernel = kt.Kernel(plugins=[])
    assert list(kernel.inputs) == []
    assert mode_names(kernel) == ["plain", "cli"]
    assert kernel.outputs.origin("stdout") == "kt_cli"
    assert kernel.plugin_names == []  # the plugin set is still the one chosen
    with pytest.raises(ModeError, match="unknown mode 'tui'|needs the kt_tui plugin"):
        find_mode("tui", kernel)


async def test_the_plain_input_and_stdout_output_from_the_registry(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("one\n\ntwo\n"))
    agent = await kt.Agent.build(
        {"name": "t", "input": {"type": "plain", "timeout": 30}, "output": "stdout"},
        llm=ScriptedLLM(["first", "second"]),
        kernel=kt.Kernel(plugins=[kt_cli_plugin]),
    )
    assert agent.input.timeout == 30 and agent.input.handle_sigint
    agent.input.handle_sigint = False
    async with agent:
        await agent.serve()
    assert capsys.readouterr().out == "first\nsecond\n"
    assert agent.input.exit_code == 0


async def test_a_terminal_input_option_with_a_bad_value_is_refused():
    with pytest.raises(ConfigValidationError, match="'timeout' must be a positive number"):
        await kt.Agent.build(
            {"name": "t", "input": {"type": "cli", "timeout": -1}},
            llm=ScriptedLLM([]),
            kernel=kt.Kernel(plugins=[kt_cli_plugin]),
        )
    with pytest.raises(UnknownNameError, match="unknown input type 'cli'"):
        await kt.Agent.build(
            {"name": "t", "input": "cli"}, llm=ScriptedLLM([]), kernel=kt.Kernel(plugins=[])
        )


async def test_the_stdout_output_shows_a_turn_the_creature_queued_itself(capsys):
    """The stdout output sees every turn, also one no input line asked for (a trigger's)."""
    replied = trio.Event()

    class Waiter:
        """An input that queues a turn the way a trigger does and ends once it was answered."""

        async def run(self, agent):
            agent.inject("from a trigger")
            await replied.wait()

    class Spy:
        async def on_event(self, event):
            if isinstance(event, TurnCompleted):
                replied.set()

    agent = await kt.Agent.build(
        {"name": "t"},
        llm=ScriptedLLM(["queued reply"]),
        kernel=kt.Kernel(plugins=[kt_cli_plugin]),
        input=Waiter(),
        output="stdout",
    )
    agent.outputs.append(Spy())  # after stdout: by the time it sees the end, stdout printed
    async with agent:
        await agent.serve()
    assert capsys.readouterr().out == "queued reply\n"


# -- The guide's example input (docs/guides/terminal.md, "Writing your own input") --------------

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "terminal.md"


def guide_plugin():
    """The guide's python block, run as a plugin module."""
    text = GUIDE.read_text(encoding="utf-8").split("## Writing your own input", 1)[1]
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    module = types.ModuleType("shout_guide")
    exec(compile(code, str(GUIDE), "exec"), module.__dict__)
    return module


def test_the_guides_input_runs_under_kt_run(tmp_path):
    folder = creature(tmp_path)
    result = kt_run([folder, "--mode", "shout"], plugins=[guide_plugin()], stdin="ping\nagain\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "pong\npong again\n"  # the stdout output kt adds


async def test_the_guides_input_sends_capitals(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("hello there\n"))
    llm = ScriptedLLM(["hi"])
    agent = await kt.Agent.build(
        {"name": "t", "input": {"type": "shout", "timeout": 9}},
        llm=llm,
        kernel=kt.Kernel(plugins=[guide_plugin()]),
    )
    async with agent:
        await agent.serve()
    assert llm.calls[0].last_user_text == "HELLO THERE"
    assert agent.input.timeout == 9 and agent.input.exit_code == 0
