"""`kt run`: the plain input in trio (served through agent.serve()), and the command."""

from __future__ import annotations

import io

import trio
from click.testing import CliRunner
from kt_cli_helpers import write

from kt import Agent, Kernel
from kt.errors import LLMError
from kt.llm import ToolCall
from kt.testing import ScriptedLLM, ScriptEntry
from kt.tools import ToolContext, tool
from kt_cli.main import cli
from kt_cli.output import TextPrinter
from kt_cli.plain import PlainInput


async def run_session(script, lines, *, config=None, tools=(), timeout=None, prompt=None):
    out, err = io.StringIO(), io.StringIO()
    agent = await Agent.build(
        config or {"name": "t"},
        llm=ScriptedLLM(script, exhausted="raise"),
        tools=tools,
        kernel=Kernel(plugins=[]),
        input=PlainInput(
            stdin=io.StringIO("".join(lines)),
            stdout=out,
            stderr=err,
            timeout=timeout,
            prompt=prompt,
            handle_sigint=False,
        ),
        output=TextPrinter(out, err),
    )
    async with agent:
        await agent.serve()
    return agent.input.exit_code, out.getvalue(), err.getvalue()


async def test_each_non_blank_line_is_one_turn():
    code, out, err = await run_session(["one", "two"], ["a\n", "   \n", "\n", "b"])
    assert (code, out, err) == (0, "one\ntwo\n", "")


async def test_failed_turn_is_reported_and_the_run_goes_on():
    code, out, err = await run_session([LLMError("boom"), "recovered"], ["a\n", "b\n"])
    assert code == 1
    assert out == "recovered\n"
    assert err == "kt: error: boom\n"


async def test_turn_timeout_is_a_failed_turn(autojump_clock):
    script = [ScriptEntry(text="too slow", delay=60), "in time"]
    code, out, err = await run_session(script, ["a\n", "b\n"], timeout=5)
    assert code == 1
    assert out == "in time\n"
    assert err.startswith("kt: error:") and "tim" in err


async def test_interrupted_turn_is_not_a_failure():
    @tool
    async def stop_me(ctx: ToolContext) -> str:
        """Interrupt the running turn."""
        ctx.agent.interrupt()
        await trio.sleep_forever()

    script = [ToolCall("stop_me", {}), "after the interrupt"]
    code, out, err = await run_session(script, ["a\n", "b\n"], tools=[stop_me])
    assert code == 0
    assert out == "after the interrupt\n"
    assert "kt: turn interrupted" in err
    assert "[tool] stop_me interrupted" in err or "[tool] stop_me cancelled" in err


async def test_turn_stopped_by_max_iterations_is_a_failure():
    @tool
    def noop() -> str:
        """Do nothing."""
        return ""

    script = [ToolCall("noop", {})]
    config = {"name": "t", "max_iterations": 1}
    code, _, err = await run_session(script, ["a\n"], config=config, tools=[noop])
    assert code == 1
    assert "kt: error: the turn stopped without a final answer" in err


async def test_prompt_is_written_before_each_line():
    code, out, _ = await run_session(["hi"], ["a\n"], prompt="> ")
    assert code == 0
    assert out == "> hi\n> \n"


# -- The command ---------------------------------------------------------------------------------


def test_run_plain_streams_replies_for_piped_lines(creature, script):
    replies = script(
        """
        [[replies]]
        text = "first reply"

        [[replies]]
        text = "second reply"
        """
    )
    result = CliRunner().invoke(
        cli,
        ["run", str(creature), "--mode", "plain", "--llm", f"scripted:{replies}"],
        input="hello\nagain\n",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "first reply\nsecond reply\n"
    assert result.stderr == ""


def test_run_defaults_to_plain_when_stdin_is_not_a_terminal(creature, script):
    replies = script('replies = ["only"]')
    result = CliRunner().invoke(
        cli, ["run", str(creature), "--llm", f"scripted:{replies}"], input="x\n"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "only\n"


def test_run_cli_mode_prompts(creature, script):
    replies = script('replies = ["pong"]')
    result = CliRunner().invoke(
        cli, ["run", str(creature), "--mode", "cli", "--llm", f"scripted:{replies}"], input="ping\n"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "> pong\n> \n"


def test_run_without_a_model_says_how_to_configure_one(creature):
    result = CliRunner().invoke(cli, ["run", str(creature), "--mode", "plain"], input="hi\n")
    assert result.exit_code == 2
    first, hint = result.stderr.splitlines()
    assert first.startswith("kt: error: no model is configured for creature 'tester'")
    assert "--llm BACKEND/MODEL" in first
    assert hint.startswith("hint:") and "--llm scripted:FILE" in hint
    assert result.stdout == ""


def test_run_with_verbose_shows_the_traceback(creature):
    result = CliRunner().invoke(cli, ["run", str(creature), "--verbose"], input="hi\n")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr
    assert "LLMNotConfiguredError" in result.stderr


def test_run_tui_mode_needs_the_tui_plugin(creature):
    result = CliRunner().invoke(cli, ["run", str(creature), "--mode", "tui"])
    assert result.exit_code == 2
    assert "mode 'tui' needs the kt_tui plugin" in result.stderr


def test_run_rejects_an_unknown_mode(creature):
    result = CliRunner().invoke(cli, ["run", str(creature), "--mode", "fancy"])
    assert result.exit_code == 2
    assert "unknown mode 'fancy'; modes: plain, cli" in result.stderr


def test_run_rejects_a_non_positive_timeout(creature):
    result = CliRunner().invoke(cli, ["run", str(creature), "--timeout", "0"])
    assert result.exit_code == 2
    assert "--timeout" in result.stderr


def test_run_config_error_exits_2_without_a_traceback(tmp_path, script):
    write(tmp_path / "c" / "creature.toml", 'name = "c"\n[[tools]]\nname = "x"\n')
    replies = script('replies = ["unused"]')
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "c"), "--llm", f"scripted:{replies}"])
    assert result.exit_code == 2
    assert result.stderr.startswith("kt: error: ")
    assert "unknown tool 'x'" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_shows_tool_activity_unless_quiet(tmp_path, script, monkeypatch):
    write(
        tmp_path / "tools_for_run_test.py",
        """
        def shout(text: str) -> str:
            \"\"\"Upper-case a text.

            Args:
                text: The text.
            \"\"\"
            return text.upper()
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    write(
        tmp_path / "c" / "creature.toml",
        """
        name = "c"
        [[tools]]
        name = "shout"
        module = "tools_for_run_test"
        """,
    )
    replies = script(
        """
        [[replies]]
        tool_calls = [{ name = "shout", args = { text = "hi" } }]
        [[replies]]
        text = "done"
        """
    )
    args = ["run", str(tmp_path / "c"), "--llm", f"scripted:{replies}"]
    loud = CliRunner().invoke(cli, args, input="go\n")
    assert loud.exit_code == 0, loud.output
    assert loud.stdout == "done\n"
    assert loud.stderr.splitlines()[0] == '[tool] shout {"text": "hi"}'
    assert loud.stderr.splitlines()[1].startswith("[tool] shout ok ")
    quiet = CliRunner().invoke(cli, [*args, "--quiet"], input="go\n")
    assert quiet.exit_code == 0, quiet.output
    assert (quiet.stdout, quiet.stderr) == ("done\n", "")


def test_skip_unavailable_runs_without_a_plugin_that_cannot_load(creature, script):
    replies = script('[[replies]]\ntext = "still here"\n')
    config = creature / "creature.toml"
    config.write_text(
        config.read_text() + '[[plugins]]\nname = "gone"\nmodule = "no_such_pkg.plugin"\n'
    )
    args = ["run", str(creature), "--mode", "plain", "--llm", f"scripted:{replies}"]
    refused = CliRunner().invoke(cli, args, input="hi\n")
    assert refused.exit_code != 0
    assert "pass --skip-unavailable to kt run" in refused.output
    skipped = CliRunner().invoke(cli, [*args, "--skip-unavailable"], input="hi\n")
    assert skipped.exit_code == 0, skipped.output
    assert "still here" in skipped.output
    assert "running without a plugin" in skipped.output and "no_such_pkg" in skipped.output
