"""The ``plain`` input: each line of standard input is one turn; notices go to stderr.

Made for pipes, scripts and CI as much as for a terminal: no colours, no cursor control. It
pairs with the ``stdout`` output (:class:`kt_cli.output.TextPrinter`), which streams the
replies to stdout, so stdout carries the replies and nothing else. ``kt run --mode plain``
uses exactly that pair; in a creature config::

    input = {type = "plain"}
    output = {type = "stdout", show_tools = true}

Lines are never slash commands here; the ``cli`` input (:mod:`kt_cli.line_ui`) is the
interactive one. A failed turn is reported on stderr (``kt: error: ...``) and the run goes on;
the exit code is then 1.

A request for the person (``ask_user``, a card's buttons, a tool approval) is written to stderr;
when standard input is a terminal the next line typed answers it (``y`` / ``a`` / ``n`` for an
approval). Otherwise nobody can answer, and the run's approval mode decides instead: it says so
on stderr, approves what ``--approvals bypass`` or ``accept-edits`` allows, refuses the other
approvals, and tells a question that nobody is there to answer.

Ctrl+C, when the loop runs in the main thread: during a turn, the first press interrupts the
turn (it ends with status ``interrupted``, its partial reply is kept in the history) and the
loop goes on to the next line; a second press during that turn, or any press while waiting for
input, ends the run with exit code 130.

:class:`PlainFrontend` is also the front end of ``kt terrarium run``, which renders the whole
team instead of one creature.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, TextIO

import trio

from kt_cli.interactive import CommandResult, InteractiveSession
from kt_cli.output import TextPrinter
from kt_cli.repl import LineReader, Repl, TerminalInput

__all__ = ["PlainFrontend", "PlainInput"]


class PlainFrontend:
    """Reads lines from a stream; writes results and notices to stderr, prefixed ``kt:``.

    Args:
        lines: Where lines come from.
        err: Where notices and turn reports go.
        printer: What writes the replies (an object with ``end_line()``), so a notice never
            lands in the middle of a reply line; ``None`` when nothing shares the terminal.
        render: Called with each item the session's ``pump_notes`` delivers (``kt terrarium
            run`` renders the team's events this way); ``None``: the creature's output module
            renders, and the pump only looks for requests to answer.
        answers: Where answers to requests are read from (``None``: nobody can answer; the
            approval mode decides).
    """

    def __init__(
        self,
        lines: LineReader,
        err: TextIO,
        *,
        printer: Any = None,
        render: Callable[[Any], Any] | None = None,
        answers: LineReader | None = None,
    ) -> None:
        self.lines = lines
        self.err = err
        self.printer = printer
        self.on_note = render if render is not None else self._request_note
        self.answers = answers
        self.session: Any = None
        self._nursery: trio.Nursery | None = None

    @contextlib.asynccontextmanager
    async def open(self, repl: Repl) -> AsyncIterator[None]:
        """Nothing to set up; the reply line is ended when the run ends."""
        self.session = repl.session
        try:
            yield
        finally:
            self._end_line()

    async def start(self, nursery: trio.Nursery) -> None:
        """Keep the nursery, for reading answers while a turn runs."""
        self._nursery = nursery

    async def read(self) -> str | None:
        """The next line, or ``None`` at end of input."""
        return await self.lines.readline()

    def starting(self, line: str) -> None:
        """Nothing to show: the reply streams through the output."""

    def show(self, result: CommandResult) -> None:
        """Write each line of *result* to stderr."""
        for line in result.lines:
            self.notice(line)

    def finished(self, result: CommandResult | None) -> None:
        """Nothing to do after a line."""

    def notice(self, text: str, level: str = "info") -> None:
        """Write ``kt: TEXT`` on stderr, after ending an open reply line."""
        self._end_line()
        self.err.write(f"kt: {text}\n")
        self.err.flush()

    def idle_ctrl_c(self) -> bool:
        """Ctrl+C while waiting for input ends the run."""
        self.notice("stopped by Ctrl+C")
        return True

    def redraw(self) -> None:
        """Nothing is drawn."""

    def _request_note(self, note: Any) -> None:
        """Ask the person at the terminal, or settle the request when nobody can answer."""
        if note.kind != "request":
            return
        pending = self.session.tracker.requests[note.call_id]
        self.notice(f"{'approval' if pending.kind == 'approval' else 'question'}: {pending.prompt}")
        for line in pending.details:
            self.notice(f"  {line}")
        if self.answers is not None and self._nursery is not None:
            self.notice(f"answer: {pending.hint()}")
            self._nursery.start_soon(self._read_answer, pending)
            return
        self._settle_unanswerable(pending)

    async def _read_answer(self, pending: Any) -> None:
        if not await self.session.answer_from(self.answers, pending, self.show):
            self._settle_unanswerable(pending)

    def _settle_unanswerable(self, pending: Any) -> None:
        if pending.kind == "approval":
            self.notice(
                f"{pending.tool or 'the call'} refused: nobody can answer approvals here "
                "(standard input is not a terminal); run with --approvals bypass or "
                "accept-edits to approve without asking"
            )
            self.session.answer_soon(pending, "deny", source="plain")
        elif not pending.choices:
            self.notice("nobody can answer here (standard input is not a terminal); told so")
            self.session.answer_soon(
                pending,
                "(nobody can answer: kt runs without a terminal; go on without this answer)",
                source="plain",
            )
        else:
            self.notice("nobody can choose here (standard input is not a terminal)")
            self.session.withdraw_soon(pending, source="plain")

    def _end_line(self) -> None:
        end_line = getattr(self.printer, "end_line", None)
        if end_line is not None:
            end_line()


class PlainInput(TerminalInput):
    """The ``plain`` input module: stdin lines in, one turn each (pair it with ``stdout``).

    Options (``input = {type = "plain", ...}``): ``timeout`` (seconds per turn), ``prompt``
    (written to stdout before each line; default none).
    """

    options: ClassVar[tuple[str, ...]] = ("timeout", "prompt")

    def repl(self, agent: Any) -> Repl:
        """A loop of turns over stdin lines; failed turns make the exit code 1."""
        session = InteractiveSession(
            agent,
            timeout=self.timeout,
            slash_commands=False,
            approvals=self.approvals,
            surface="plain",
        )
        printer = next((o for o in agent.outputs if isinstance(o, TextPrinter)), None)
        lines = LineReader(self.stdin, prompt=self.prompt, out=self.stdout)
        frontend = PlainFrontend(
            lines, self.stderr, printer=printer, answers=lines if _isatty(self.stdin) else None
        )
        return Repl(session, frontend, failed_exit=True, handle_sigint=self.handle_sigint)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False
