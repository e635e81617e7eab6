"""The interactive session every terminal front end shares: turns, slash commands, notes."""

from __future__ import annotations

from typing import ClassVar

import attrs
import trio
from click.testing import CliRunner

import kt
from kt.events import (
    Event,
    SubAgentCompleted,
    SubAgentStarted,
    ToolCallCompleted,
    ToolCallStarted,
    TurnCompleted,
    TurnStarted,
)
from kt.testing import ScriptedLLM, ToolCall
from kt_cli.activity import ASCII, ActivityTracker
from kt_cli.interactive import InteractiveSession
from kt_cli.main import cli
from kt_cli.state import CliState


@kt.tool
def word_count(text: str) -> str:
    """Count words."""
    return f"{len(text.split())} words"


async def session_for(script, *, kernel=None, session=None, tmp_path=None):
    agent = await kt.Agent.build(
        {"name": "t"},
        llm=ScriptedLLM(script),
        tools=[word_count],
        kernel=kernel or kt.Kernel(plugins=[]),
        session=session,
        session_dir=tmp_path,
    )
    return agent, InteractiveSession(agent)


async def test_notes_of_a_turn_arrive_in_order_before_the_result_is_shown():
    agent, session = await session_for([ToolCall("word_count", {"text": "a b"}), "Two."])
    notes = []
    async with agent, trio.open_nursery() as nursery:
        await nursery.start(session.pump_notes, notes.append)
        assert await session.submit("count") is None  # completed: nothing to report
        await session.caught_up()
        kinds = [n.kind for n in notes]
        nursery.cancel_scope.cancel()
    assert kinds == ["start", "done", "text", "end_text", "turn_ended"]
    done = next(n for n in notes if n.kind == "done")
    assert done.text.startswith('✓ word_count {"text": "a b"} ') and done.level == "ok"
    assert notes[-1].result.text == "Two." and notes[-1].text == "user"


async def test_caught_up_waits_for_every_event_published_so_far():
    agent, session = await session_for(["x " * 50])
    seen = []
    async with agent, trio.open_nursery() as nursery:
        await nursery.start(session.pump_notes, seen.append)
        await agent.run("go")  # many events, published while the pump may lag
        await session.caught_up()
        assert seen[-1].kind == "turn_ended"
        nursery.cancel_scope.cancel()


async def test_slash_commands_status_clear_help_and_unknown():
    agent, session = await session_for(["hello"])
    async with agent:
        await session.submit("hi")
        status = await session.submit("/status")
        assert "turns     1  messages 2  tools 1" in status.lines
        assert "session   not recorded" in status.lines
        cleared = await session.submit("/clear")
        assert (cleared.lines, cleared.level) == (("history cleared",), "ok")
        assert agent.history == []
        help_lines = (await session.submit("/h")).lines
        assert any(line.startswith("  /regen") for line in help_lines)
        unknown = await session.submit("/nope")
        assert unknown.level == "error" and "unknown command /nope" in unknown.lines[0]
        assert (await session.submit("/exit")).exit
        assert (await session.submit("/q")).exit


async def test_a_double_slash_sends_a_message_starting_with_a_slash():
    llm = ScriptedLLM(["ok"])
    agent = await kt.Agent.build({"name": "t"}, llm=llm, kernel=kt.Kernel(plugins=[]))
    session = InteractiveSession(agent)
    async with agent:
        await session.submit("//usr/bin is a folder")
    assert llm.calls[0].last_user_text == "/usr/bin is a folder"


async def test_branching_commands_without_a_session_say_what_is_missing():
    agent, session = await session_for(["a"])
    async with agent:
        result = await session.submit("/regen")
    assert result.level == "error"
    assert result.lines[0].startswith("/regen: needs the kt_sessions plugin")


async def test_branching_commands_on_an_unrecorded_run(tmp_path):
    agent, session = await session_for(["a"], kernel=kt.Kernel(plugins=["kt_sessions"]))
    async with agent:
        result = await session.submit("/fork")
    assert "this run is not recorded" in result.lines[0]


async def test_edit_without_text_offers_the_last_input_and_fork_checks_its_arguments(tmp_path):
    kernel = kt.Kernel(plugins=["kt_sessions"])
    agent, session = await session_for(["a", "b"], kernel=kernel, session=True, tmp_path=tmp_path)
    async with agent:
        await session.submit("first question")
        offered = await session.submit("/edit")
        assert offered.prefill == "/edit first question"
        edited = await session.submit("/edit 1 better question")
        assert edited.lines == ()
        assert agent.history[0].content == "better question"
        bad = await session.submit("/fork --bogus")
        assert bad.lines == ("usage: /fork [EVENT_ID] [--name NAME]",)
        forked = await session.submit("/fork --name copy")
        assert forked.level == "ok" and "-copy" in forked.lines[0]


async def test_model_switch_builds_the_model_like_agent_build(tmp_path):
    other = tmp_path / "other.toml"
    other.write_text('replies = ["from the other model"]\n')
    agent, session = await session_for(["first"])
    async with agent:
        shown = await session.submit("/model")
        assert shown.lines[0] == "model: ScriptedLLM"
        switched = await session.submit(f"/model scripted:{other}")
        assert switched.level == "ok" and agent.llm_name == f"scripted:{other}"
        await session.submit("hi")
        assert agent.history[-1].content == "from the other model"


async def test_a_command_that_raises_is_an_error_result_not_a_crash():
    agent, session = await session_for(["a"])

    async def broken(session, args):
        raise RuntimeError("bug")

    from kt_cli.interactive import SlashCommand

    session.commands.append(SlashCommand("broken", "", "raises", broken))
    async with agent:
        result = await session.submit("/broken")
    assert result.lines == ("/broken failed: RuntimeError: bug",)


def test_completion_and_runs_model():
    session = InteractiveSession.__new__(InteractiveSession)
    from kt_cli.interactive import BUILTIN_COMMANDS

    session.commands = list(BUILTIN_COMMANDS)
    assert session.complete("/re") == ["/regen"]
    assert session.complete("/e") == ["/edit", "/env", "/exit", "/expand"]
    assert session.complete("/regen x") == [] and session.complete("hi") == []
    assert session.runs_model("hello") and session.runs_model("/regen")
    assert not session.runs_model("/status") and not session.runs_model("   ")


@attrs.frozen(kw_only=True)
class _ChildEvent(Event):
    """Stands in for kt_subagents' SubAgentEvent (plugins' events are matched by type)."""

    type: ClassVar[str] = "subagent_event"
    call_id: str
    name: str
    event: dict = attrs.field(factory=dict)


def test_tracker_follows_a_sub_agent_and_background_work():
    tracker = ActivityTracker(ASCII)
    tracker.handle(TurnStarted(input="go"))
    assert (
        tracker.handle(ToolCallStarted(call_id="c1", name="explore", args={"task": "x"}))[0].kind
        == "start"
    )
    tracker.handle(SubAgentStarted(call_id="c1", name="explore", task="x"))
    tracker.handle(
        _ChildEvent(
            call_id="c1", name="explore", event={"type": "tool_call_started", "name": "read"}
        )
    )
    activity = tracker.running["c1"]
    assert activity.subagent and activity.child_calls == 1 and activity.detail == "read"
    assert "(sub-agent)" in activity.line() and "1 call, now read" in activity.line()
    (done,) = tracker.handle(
        ToolCallCompleted(call_id="c1", name="explore", status="ok", duration=1.5)
    )
    assert done.text == '+ explore {"task": "x"} · 1 call 1.50s'
    # a background sub-agent: the call returns a placeholder, the run reports later
    tracker.handle(ToolCallStarted(call_id="c2", name="plan", args={"task": "y"}))
    (handed,) = tracker.handle(
        ToolCallCompleted(
            call_id="c2",
            name="plan",
            status="ok",
            metadata={"background": True, "job_id": "agent_plan_1"},
        )
    )
    assert "sub-agent working in the background as job agent_plan_1" in handed.text
    tracker.handle(TurnCompleted(result=kt.TurnResult(status="completed")))
    assert tracker.phase == ""
    assert (
        tracker.handle(SubAgentStarted(call_id="c2", name="plan", task="y", background=True))[
            0
        ].kind
        == "start"
    )
    (finished,) = tracker.handle(
        SubAgentCompleted(call_id="c2", name="plan", status="error", error="boom")
    )
    assert finished.text.startswith("x plan (sub-agent, background)") and "boom" in finished.text
    assert tracker.running == {}


class _ResumeLikePlugin:
    """A plugin command that builds a creature and hands it to the user, as `kt resume` would."""

    kt_plugin_name = "talker"

    def __init__(self, folder, replies):
        self.folder, self.replies = folder, replies

    @kt.hookimpl
    def kt_cli_commands(self, cli):
        import click

        @cli.command()
        @click.option("--mode", default=None)
        def talk(mode):
            state = click.get_current_context().find_root().obj

            async def main():
                agent = await kt.Agent.build(
                    self.folder, kernel=state.kernel(), llm_selector=f"scripted:{self.replies}"
                )
                return await state.interact(agent, mode=mode)

            click.get_current_context().exit(trio.run(main))


def test_plugin_commands_hand_a_creature_to_the_user_through_the_click_context(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "creature.toml").write_text('name = "c"\n')
    (tmp_path / "r.toml").write_text('replies = ["one", "two"]\n')
    plugin = _ResumeLikePlugin(tmp_path / "c", tmp_path / "r.toml")
    state = CliState(kernel=kt.Kernel(plugins=[plugin]))
    result = CliRunner().invoke(cli, ["talk"], obj=state, input="hi\nagain\n")
    assert (result.exit_code, result.stdout) == (0, "one\ntwo\n")  # plain: stdin is a pipe
    state = CliState(kernel=kt.Kernel(plugins=[plugin]))
    result = CliRunner().invoke(cli, ["talk", "--mode", "cli"], obj=state, input="/status\n")
    assert result.exit_code == 0
    assert "> creature  c\n" in result.stdout
    result = CliRunner().invoke(cli, ["talk", "--mode", "fancy"], obj=state)
    assert result.exit_code == 1
    assert "kt: error: unknown mode 'fancy'; modes: plain, cli" in result.stderr


class SlashPlugin:
    """A plugin offering slash commands through kt_cli_slash_commands."""

    @kt.hookimpl
    def kt_cli_slash_commands(self):
        async def tools(session, args):
            return sorted(session.agent.tools)

        def shout(session, args):
            if not args:
                raise kt.errors.KTError("say something")
            return args.upper()

        return [
            {"name": "tools", "summary": "list the tools", "run": tools},
            {"name": "shout", "usage": "TEXT", "summary": "say it loud", "run": shout},
            {"name": "status", "summary": "clashes with a built-in", "run": shout},
        ]


async def test_hook_kt_cli_slash_commands_adds_commands_after_the_built_in_ones():
    import kt_cli.plugin

    kernel = kt.Kernel(plugins=[kt_cli.plugin, SlashPlugin()])
    agent, session = await session_for(["hi"], kernel=kernel)
    async with agent:
        assert (await session.submit("/tools")).lines == ("word_count",)
        assert (await session.submit("/shout hey")).lines == ("HEY",)
        failed = await session.submit("/shout")
        assert failed.level == "error" and failed.lines == ("/shout: say something",)
        help_text = "\n".join((await session.submit("/help")).lines)
    assert "/shout TEXT" in help_text and "say it loud" in help_text
    assert session.find_command("status").summary.startswith("model, session")
    [problem] = session.command_problems
    assert problem.startswith("plugin ") and problem.endswith(": /status is taken; left out")


async def test_approvals_env_and_jobs_commands(monkeypatch):
    monkeypatch.setenv("KT_TEST_API_KEY", "sk-very-secret")
    monkeypatch.setenv("KT_TEST_PLAIN", "visible")
    agent, session = await session_for(["hi"])
    async with agent:
        assert (await session.submit("/approvals bypass")).lines == ("approval mode: bypass",)
        bad = await session.submit("/approvals sometimes")
        env = (await session.submit("/env KT_TEST")).lines
        jobs = (await session.submit("/jobs")).lines
        stop = await session.submit("/stop nope")
    assert session.approvals.mode == "bypass"
    assert bad.level == "error" and "modes: ask, accept-edits, bypass, deny" in bad.lines[0]
    assert env == ("KT_TEST_API_KEY=(hidden)", "KT_TEST_PLAIN=visible")
    assert jobs == ("no background jobs running",)
    assert stop.level == "error" and "no running job 'nope'" in stop.lines[0]


async def test_at_file_completion_offers_paths_in_the_working_dir(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("")
    (tmp_path / "setup.cfg").write_text("")
    (tmp_path / ".hidden").write_text("")
    agent = await kt.Agent.build(
        {"name": "t"}, llm=ScriptedLLM([]), kernel=kt.Kernel(plugins=[]), pwd=tmp_path
    )
    session = InteractiveSession(agent)
    assert session.complete("look at @s") == ["look at @setup.cfg", "look at @src/"]
    assert session.complete("look at @src/m") == ["look at @src/main.py"]
    assert session.complete("@.h") == ["@.hidden"]
    assert session.complete("@../") == []


async def test_the_reference_example_slash_command_runs():
    """docs/reference/cli.md, the kt_cli_slash_commands example, as a plugin."""
    import types
    from pathlib import Path

    import kt_cli.plugin

    doc = Path(__file__).resolve().parents[2] / "docs" / "reference" / "cli.md"
    text = doc.read_text(encoding="utf-8").split("Plugins add slash commands", 1)[1]
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    example = types.ModuleType("slash_example")
    exec(compile(code, str(doc), "exec"), example.__dict__)
    kernel = kt.Kernel(plugins=[kt_cli.plugin, example])
    agent, session = await session_for(["hi"], kernel=kernel)
    async with agent:
        assert (await session.submit("/tools")).lines == ("word_count",)
