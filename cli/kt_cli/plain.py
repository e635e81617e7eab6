"""The ``plain`` run mode: one line of input is one turn, the reply streams to stdout.

Made for pipes, scripts and CI as much as for a terminal: no colours, no cursor control, and
nothing but the replies on stdout (see :class:`kt_cli.output.TextPrinter`). Lines are never slash
commands here; the ``cli`` mode (:mod:`kt_cli.line_ui`) is the interactive one.

Input is read from a blocking text stream in a worker thread, so a run can be cancelled while it
waits for a line (the thread is abandoned; the process is about to end anyway).

Ctrl+C, when the loop runs in the main thread: during a turn, the first press interrupts the
turn (it ends with status ``interrupted``, its partial reply is kept in the history) and the
loop goes on to the next line; a second press during that turn, or any press while waiting for
input, ends the run with exit code 130.
"""

from __future__ import annotations

import signal
import threading
from typing import Protocol, TextIO

import trio

from kt import Agent, TurnResult
from kt.errors import AgentStoppedError
from kt.events import TurnCompleted
from kt_cli.output import TextPrinter
from kt_cli.reporting import EXIT_FAILURE, EXIT_INTERRUPTED

__all__ = ["LineReader", "LineSource", "PlainSession"]


class LineSource(Protocol):
    """Where a session's input lines come from."""

    async def readline(self) -> str | None:
        """The next line, or ``None`` at end of input."""


class LineReader:
    """Lines of a blocking text stream (stdin), read in a worker thread.

    Args:
        stream: The stream; read with ``readline``.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    async def readline(self) -> str | None:
        """The next line, newline included, or ``None`` at end of input.

        Cancelling the call abandons the worker thread, which may still consume one line.
        """
        line = await trio.to_thread.run_sync(self.stream.readline, abandon_on_cancel=True)
        return line or None


class PlainSession:
    """Runs a started agent over lines of input: each non-blank line is one turn.

    Args:
        agent: A running agent (inside ``async with agent``).
        lines: Where lines come from.
        printer: Renders each turn's events.
        err: Where turn failures and notices are written.
        timeout: Time limit per turn in seconds (``None``: the creature's own limit, if any).
        prompt: Written to the printer's output before each line is read (``cli`` mode);
            ``None`` writes nothing.
        handle_sigint: Interrupt turns on Ctrl+C (see the module docs). Only possible in the
            main thread; elsewhere Ctrl+C keeps Python's default behaviour.

    Attributes:
        failed_turns: How many turns ended with ``error``, ``timeout``, ``cancelled`` or
            ``max_iterations``.
        aborted: Whether the run was ended by Ctrl+C.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        lines: LineSource,
        printer: TextPrinter,
        err: TextIO,
        timeout: float | None = None,
        prompt: str | None = None,
        handle_sigint: bool = True,
    ) -> None:
        self.agent = agent
        self.lines = lines
        self.printer = printer
        self.err = err
        self.timeout = timeout
        self.prompt = prompt
        self.handle_sigint = handle_sigint
        self.failed_turns = 0
        self.aborted = False
        self._turn_running = False
        self._interrupt_sent = False

    async def run(self) -> int:
        """Run turns until the input ends or Ctrl+C ends the run.

        Returns:
            The exit code: 0 when every turn completed (or was interrupted on purpose), 1 when
            a turn failed, 130 when the run was ended by Ctrl+C.

        Raises:
            AgentStoppedError: the agent stopped while a turn was running.
        """
        async with trio.open_nursery() as nursery:
            if self.handle_sigint and threading.current_thread() is threading.main_thread():
                await nursery.start(self._watch_sigint, nursery.cancel_scope)
            await self._read_and_run()
            nursery.cancel_scope.cancel()  # stop watching signals
        if self.aborted:
            return EXIT_INTERRUPTED
        return EXIT_FAILURE if self.failed_turns else 0

    async def _read_and_run(self) -> None:
        while True:
            if self.prompt is not None:
                self.printer.out.write(self.prompt)
                self.printer.out.flush()
            line = await self.lines.readline()
            if line is None:
                if self.prompt is not None:
                    self.printer.out.write("\n")
                    self.printer.out.flush()
                return
            text = line.rstrip("\r\n")
            if text.strip():
                self._report(await self.run_turn(text))

    async def run_turn(self, text: str) -> TurnResult:
        """Run one turn for *text*, rendering its events as they arrive.

        Args:
            text: The user message.

        Returns:
            The turn's result.

        Raises:
            AgentStoppedError: the agent stopped before the turn ended.
        """
        self._turn_running = True
        self._interrupt_sent = False
        try:
            # No --timeout: leave it unset so the creature's controller.turn_timeout applies.
            limit = {} if self.timeout is None else {"timeout": self.timeout}
            async with self.agent.run_stream(text, **limit) as events:
                async for event in events:
                    self.printer.handle(event)
                    if isinstance(event, TurnCompleted):
                        return event.result
        finally:
            self._turn_running = False
        raise AgentStoppedError(f"agent '{self.agent.name}' stopped before the turn ended")

    def _report(self, result: TurnResult) -> None:
        status = result.status
        if status == "completed":
            return
        if status == "interrupted":
            self._notice("kt: turn interrupted")
            return
        if status == "terminated":
            self._notice(f"kt: the creature ended the turn: {result.reason or 'terminated'}")
            return
        self.failed_turns += 1
        if status == "max_iterations":
            detail = result.reason or f"it reached its limit of {result.iterations} model calls"
            self._notice(
                f"kt: error: the turn stopped without a final answer: {detail} "
                "(raise max_iterations in the creature config)"
            )
        elif result.error is not None:
            self._notice(f"kt: error: {str(result.error) or type(result.error).__name__}")
        else:
            self._notice(f"kt: error: the turn ended with status '{status}'")

    def _notice(self, line: str) -> None:
        self.printer.end_line()
        self.err.write(line + "\n")
        self.err.flush()

    async def _watch_sigint(
        self,
        run_scope: trio.CancelScope,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        with trio.open_signal_receiver(signal.SIGINT) as signals:
            task_status.started()
            async for _ in signals:
                if self._turn_running and not self._interrupt_sent:
                    self._interrupt_sent = True
                    self.agent.interrupt()
                    self._notice("kt: interrupting the turn; press Ctrl+C again to exit")
                else:
                    self.aborted = True
                    self._notice("kt: stopped by Ctrl+C")
                    run_scope.cancel()
                    return
