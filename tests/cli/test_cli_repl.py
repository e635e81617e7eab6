"""The shared loop (kt_cli.repl.Repl): Ctrl+C, leaving, exit codes, any session and front end."""

from __future__ import annotations

import io
import os

import trio
import trio.testing

import kt
from kt.testing import ScriptedLLM, ToolCall
from kt_cli.interactive import CommandResult, InteractiveSession
from kt_cli.output import TextPrinter
from kt_cli.plain import PlainFrontend
from kt_cli.repl import LineReader, Repl


async def plain_repl(script, stdin, *, tools=()):
    out, err = io.StringIO(), io.StringIO()
    agent = await kt.Agent.build(
        {"name": "t"},
        llm=ScriptedLLM(script),
        tools=tools,
        kernel=kt.Kernel(plugins=[]),
        output=TextPrinter(out, err, show_tools=False),
    )
    session = InteractiveSession(agent, slash_commands=False)
    frontend = PlainFrontend(LineReader(stdin), err, printer=agent.outputs[0])
    return agent, Repl(session, frontend, failed_exit=True, handle_sigint=False), out, err


async def test_ctrl_c_interrupts_the_turn_then_a_second_press_leaves_with_130():
    presses = []

    @kt.tool
    async def press_ctrl_c(times: int) -> str:
        """Press Ctrl+C *times* times while this turn runs."""
        for _ in range(times):
            presses[0].ctrl_c()
        await trio.sleep_forever()

    script = [
        ToolCall("press_ctrl_c", {"times": 1}),
        "after the first interrupt",
        ToolCall("press_ctrl_c", {"times": 2}),
    ]
    agent, repl, out, err = await plain_repl(
        script, io.StringIO("one\ntwo\nthree\nfour\n"), tools=[press_ctrl_c]
    )
    presses.append(repl)
    async with agent:
        assert await repl.run() == 130
    assert out.getvalue() == "after the first interrupt\n"
    assert err.getvalue().splitlines() == [
        "kt: interrupting; press Ctrl+C again to exit",
        "kt: turn interrupted",
        "kt: interrupting; press Ctrl+C again to exit",
        "kt: stopped by Ctrl+C",
    ]
    inputs = [m.content for m in agent.history if m.role == "user"]
    assert inputs == ["one", "two", "three"]  # the run ended during "three": "four" never ran


async def test_ctrl_c_while_waiting_for_input_leaves_plain():
    read_end, write_end = os.pipe()
    stdin = os.fdopen(read_end, "r")
    agent, repl, _, err = await plain_repl([], stdin)
    try:
        async with agent, trio.open_nursery() as nursery:
            done = trio.Event()

            async def run():
                assert await repl.run() == 130
                done.set()

            nursery.start_soon(run)
            await trio.testing.wait_all_tasks_blocked()  # parked on the empty pipe
            repl.ctrl_c()
            await done.wait()
    finally:
        os.close(write_end)  # lets the abandoned reader thread finish
    assert err.getvalue() == "kt: stopped by Ctrl+C\n"


class CountingSession:
    """A session of a plugin's own: upper-cases lines, fails on 'bad', ends on 'bye'."""

    active = False

    def __init__(self):
        self.failed_turns = 0
        self.seen = []

    def runs_model(self, line):
        return True

    async def submit(self, line):
        self.seen.append(line)
        if line == "bad":
            self.failed_turns += 1
            return CommandResult(("error: bad line",), "error")
        if line == "bye":
            return CommandResult(("bye!",), exit=True)
        return CommandResult((line.upper(),))

    def interrupt(self):
        return False

    async def pump_notes(self, on_note, *, task_status=trio.TASK_STATUS_IGNORED):
        task_status.started()

    async def caught_up(self):
        await trio.lowlevel.checkpoint()


async def test_any_session_and_front_end_share_the_loop():
    err = io.StringIO()
    session = CountingSession()
    frontend = PlainFrontend(LineReader(io.StringIO("hi\nbad\nbye\nnever\n")), err)
    assert await Repl(session, frontend, failed_exit=True, handle_sigint=False).run() == 0
    assert session.seen == ["hi", "bad", "bye"]  # /exit-like results end the loop at once
    assert err.getvalue() == "kt: HI\nkt: error: bad line\nkt: bye!\n"
    session = CountingSession()
    frontend = PlainFrontend(LineReader(io.StringIO("bad\n")), io.StringIO())
    assert await Repl(session, frontend, failed_exit=True, handle_sigint=False).run() == 1
