"""The loop every terminal front end shares: read a line, run it, show what it gave, repeat.

``plain``, ``cli``, ``tui`` and ``kt terrarium run`` all talk to the user through
:class:`Repl`. What differs between them is split into two objects the loop drives:

* a **session** says what a line does: :class:`kt_cli.interactive.InteractiveSession` runs a
  turn of one creature (and, where the front end has them, slash commands); the terrarium's
  team session runs a turn of its focus creature and waits for the team to go idle.
* a **front end** says how lines are read and results shown: stdin lines and stderr notices
  (:class:`kt_cli.plain.PlainFrontend`), the line editor with a live region
  (:class:`kt_cli.line_ui.LineFrontend`), the full screen of ``kt_tui``.

The loop owns what must behave the same everywhere: one line runs at a time, in order; the
creature's activity is rendered (through the session's ``pump_notes``) before a line's result
is shown; and Ctrl+C interrupts a running turn, a second press during that turn ends the run
with exit code 130, while at the prompt the front end decides (``plain`` leaves, the line
editor clears the line first).

:class:`TerminalInput` wraps a loop as an input module (``kt_inputs``): its ``run(agent)`` is
what ``agent.serve()`` and ``kt run`` call.

Session protocol (duck-typed; plugins such as ``kt_terrarium`` provide their own):

* ``async submit(line) -> CommandResult | None``: run the line; ``None`` when there is
  nothing to say. A result with ``exit`` ends the loop.
* ``runs_model(line) -> bool``: whether the line may call the model (the front end shows the
  creature working).
* ``interrupt() -> bool``: interrupt what runs (Ctrl+C).
* ``active`` (bool): the creature works on something the loop did not submit (a trigger).
* ``failed_turns`` (int): turns that ended with an error, for the exit code.
* ``async pump_notes(on_note, *, task_status)`` and ``async caught_up()``: deliver what the
  creature does to the front end's ``on_note``, and wait until all of it was delivered.

Front-end protocol: ``on_note`` (a callable, or ``None`` when something else renders), ``open(
repl)`` (an async context manager around the whole run: terminal modes), ``async start(
nursery)`` (tasks: key readers, spinners), ``async read() -> str | None`` (``None``: the input
ended), ``starting(line)``, ``show(result)``, ``finished(result)``, ``notice(text, level)``,
``idle_ctrl_c() -> bool`` (Ctrl+C at the prompt; ``True`` leaves) and ``redraw()``.
"""

from __future__ import annotations

import abc
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TextIO

import trio

from kt.errors import ConfigValidationError
from kt_cli.reporting import EXIT_FAILURE, EXIT_INTERRUPTED

__all__ = ["Feed", "LineReader", "Repl", "TerminalInput"]


class LineReader:
    """Lines of a blocking text stream (stdin), read in a worker thread, after a prompt.

    Cancelling a read abandons the worker thread, which may still consume one line (the
    process is about to end anyway).

    Args:
        stream: Where lines come from (``readline``).
        prompt: Written to *out* before each line is read (``None``: nothing); at the end of
            input a newline follows it, so the shell's prompt starts on its own line.
        out: Where the prompt goes.
    """

    def __init__(
        self, stream: TextIO, *, prompt: str | None = None, out: TextIO | None = None
    ) -> None:
        self.stream = stream
        self.prompt = prompt
        self.out = out

    async def readline(self) -> str | None:
        """The next line without its newline, or ``None`` at end of input."""
        if self.prompt is not None and self.out is not None:
            self.out.write(self.prompt)
            self.out.flush()
        line = await trio.to_thread.run_sync(self.stream.readline, abandon_on_cancel=True)
        if not line:
            if self.prompt is not None and self.out is not None:
                self.out.write("\n")
                self.out.flush()
            return None
        return line.rstrip("\r\n")


class Feed:
    """Hands what a channel receives to a handler, in order, and says when it has caught up.

    The session side of ``pump_notes`` / ``caught_up``: :meth:`pump` runs as a task, and
    :meth:`caught_up` returns once every item sent so far has been handled.
    """

    def __init__(self) -> None:
        self._channel: trio.MemoryReceiveChannel[Any] | None = None
        self._progress = trio.Event()

    async def pump(
        self,
        channel: trio.MemoryReceiveChannel[Any],
        handle: Callable[[Any], Any],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Call *handle* with each item of *channel* until it closes or this is cancelled.

        Reports started once it reads the channel, so nothing sent afterwards is missed.
        """
        self._channel = channel
        task_status.started()
        try:
            async for item in channel:
                handle(item)
                self._progress.set()
                self._progress = trio.Event()
        finally:
            self._channel = None

    async def caught_up(self) -> None:
        """Wait until every item sent so far was handled; at once when no pump runs."""
        while (channel := self._channel) is not None:
            stats = channel.statistics()
            if not stats.current_buffer_used and stats.tasks_waiting_receive:
                return  # the pump is parked on an empty channel: everything was handled
            if stats.current_buffer_used:
                await self._progress.wait()
            else:  # the pump holds the last item (handed over directly); let it finish
                await trio.lowlevel.checkpoint()


class Repl:
    """Read a line, run it, show what it gave, repeat, until the input ends or the user leaves.

    Args:
        session: What a line does (see the module docs).
        frontend: How lines are read and results shown.
        failed_exit: End with exit code 1 when a turn failed (``plain``: scripts check it).
        handle_sigint: Take Ctrl+C (SIGINT) while running. Only in the main thread; elsewhere
            Ctrl+C keeps Python's default behaviour.

    Attributes:
        working: A line read here is running now.
        working_since: ``time.monotonic()`` when it started.
        exit_code: Set when :meth:`run` returns: 0, 1 (a turn failed and *failed_exit*) or
            130 (ended by Ctrl+C).
    """

    def __init__(
        self,
        session: Any,
        frontend: Any,
        *,
        failed_exit: bool = False,
        handle_sigint: bool = True,
    ) -> None:
        self.session = session
        self.frontend = frontend
        self.failed_exit = failed_exit
        self.handle_sigint = handle_sigint
        self.working = False
        self.working_since = 0.0
        self.exit_code = 0
        self._leave_code: int | None = None
        self._interrupt_sent = False
        self._scope = trio.CancelScope()

    @property
    def active(self) -> bool:
        """Whether the creature works: a line from here, or a turn it started itself."""
        return self.working or bool(getattr(self.session, "active", False))

    @property
    def leaving(self) -> bool:
        """Whether the run is ending (the user left, or Ctrl+C ended it)."""
        return self._leave_code is not None

    async def run(self) -> int:
        """Run until the input ends, the user leaves or Ctrl+C ends the run.

        Returns:
            :attr:`exit_code`.
        """
        async with self.frontend.open(self):
            async with trio.open_nursery() as nursery:
                if self.frontend.on_note is not None:
                    await nursery.start(self.session.pump_notes, self.frontend.on_note)
                if self.handle_sigint and threading.current_thread() is threading.main_thread():
                    await nursery.start(self._watch_sigint)
                await self.frontend.start(nursery)
                with self._scope:
                    await self.session.caught_up()
                    await self._loop()
                nursery.cancel_scope.cancel()
        if self._leave_code is not None:
            self.exit_code = self._leave_code
        elif self.failed_exit and self.session.failed_turns:
            self.exit_code = EXIT_FAILURE
        else:
            self.exit_code = 0
        return self.exit_code

    async def _loop(self) -> None:
        while True:
            line = await self.frontend.read()
            if line is None:
                return
            self._interrupt_sent = False
            self.working = self.session.runs_model(line)
            self.working_since = time.monotonic()
            self.frontend.starting(line)
            try:
                result = await self.session.submit(line)
                await self.session.caught_up()
            finally:
                self.working = False
            if result is not None:
                self.frontend.show(result)
                if result.exit:
                    self.leave(0)
                    return
            self.frontend.finished(result)

    def leave(self, code: int) -> None:
        """End the run with exit code *code* (a running turn is cancelled)."""
        if self._leave_code is None:
            self._leave_code = code
        self._scope.cancel()

    def ctrl_c(self) -> None:
        """Handle a Ctrl+C: interrupt the running turn, leave on a second press.

        At the prompt, the front end decides (``idle_ctrl_c``). Ignored once the run is ending.
        """
        if self.leaving:
            return
        if self.active:
            if self._interrupt_sent:
                self.frontend.notice("stopped by Ctrl+C", "warning")
                self.leave(EXIT_INTERRUPTED)
                return
            self._interrupt_sent = True
            self.session.interrupt()
            self.frontend.notice("interrupting; press Ctrl+C again to exit", "warning")
        elif self.frontend.idle_ctrl_c():
            self.leave(EXIT_INTERRUPTED)
            return
        self.frontend.redraw()

    async def _watch_sigint(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        with trio.open_signal_receiver(signal.SIGINT) as signals:
            task_status.started()
            async for _ in signals:
                self.ctrl_c()


class TerminalInput(abc.ABC):
    """Base of the input modules that serve a creature through a :class:`Repl`.

    A subclass builds the loop for an agent in :meth:`repl`. Built from a config entry by
    :meth:`from_entry`; the ``kt`` command sets :attr:`timeout` and :attr:`show_tools` from
    ``--timeout`` and ``--quiet``.

    Args:
        timeout: Time limit per turn in seconds (``None``: the creature's own).
        prompt: What is written before each line is read (``None``: the front end's default).
        show_tools: Show tool activity (front ends that render it).
        stdin: Where input comes from (default: ``sys.stdin`` when the loop starts).
        stdout: Where output goes (default: ``sys.stdout``).
        stderr: Where notices go (default: ``sys.stderr``).
        handle_sigint: Take Ctrl+C while running (main thread only).
        approvals: The approval mode: which tool approvals are answered without asking
            (``ask``, ``accept-edits``, ``bypass``, ``deny``; see :mod:`kt_cli.requests`).

    Attributes:
        renders_events: Whether this input shows the creature's events itself (a terminal UI);
            ``kt`` then attaches no ``stdout`` output, and a configured one stays silent.
        exit_code: The loop's exit code once :meth:`run` returned (0, 1 or 130).
    """

    renders_events: ClassVar[bool] = False
    options: ClassVar[tuple[str, ...]] = ("timeout", "prompt")
    """The config options this input takes."""

    def __init__(
        self,
        *,
        timeout: float | None = None,
        prompt: str | None = None,
        show_tools: bool = True,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        handle_sigint: bool = True,
        approvals: str = "ask",
    ) -> None:
        self.timeout = timeout
        self.approvals = approvals
        self.prompt = prompt
        self.show_tools = show_tools
        self._stdin = stdin
        self._stdout = stdout
        self._stderr = stderr
        self.handle_sigint = handle_sigint
        self.exit_code = 0

    @property
    def stdin(self) -> TextIO:
        """The input stream."""
        import sys

        return self._stdin if self._stdin is not None else sys.stdin

    @property
    def stdout(self) -> TextIO:
        """The output stream."""
        import sys

        return self._stdout if self._stdout is not None else sys.stdout

    @property
    def stderr(self) -> TextIO:
        """The notice stream."""
        import sys

        return self._stderr if self._stderr is not None else sys.stderr

    @classmethod
    def from_entry(cls, entry: Any, agent: Any) -> TerminalInput:
        """Build the input from its config entry (``input = {type = "cli", timeout = 60}``).

        Args:
            entry: The ``kt.config.ModuleEntry``.
            agent: The creature (for the config file in error messages).

        Raises:
            ConfigValidationError: an option this input does not take, or a bad value; the
                message names ``input.<option>``.
        """
        options = dict(getattr(entry, "options", None) or {})
        file = None
        config = getattr(agent, "config", None)
        if config is not None and config.files:
            file = str(config.files[-1])
        kind = getattr(entry, "type", cls.__name__)
        for key in options:
            if key not in cls.options:
                raise ConfigValidationError(
                    f"the '{kind}' input has no option '{key}'; it takes {', '.join(cls.options)}",
                    path=f"input.{key}",
                    file=file,
                )
        return cls(**_checked(options, file))

    async def run(self, agent: Any) -> None:
        """Talk to *agent* (running) until the input ends or the user leaves."""
        self.exit_code = await self.repl(agent).run()

    @abc.abstractmethod
    def repl(self, agent: Any) -> Repl:
        """The loop for *agent*; subclasses build their session and front end here."""


def _checked(options: Mapping[str, Any], file: str | None) -> dict[str, Any]:
    timeout = options.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise ConfigValidationError(
            f"'timeout' must be a positive number of seconds, not {timeout!r}",
            path="input.timeout",
            file=file,
        )
    approvals = options.get("approvals")
    if approvals is not None:
        from kt_cli.requests import APPROVAL_MODES

        if approvals not in APPROVAL_MODES:
            raise ConfigValidationError(
                f"'approvals' must be one of {', '.join(APPROVAL_MODES)}, not {approvals!r}",
                path="input.approvals",
                file=file,
            )
    prompt = options.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise ConfigValidationError(
            f"'prompt' must be text, not {prompt!r}", path="input.prompt", file=file
        )
    show_tools = options.get("show_tools", True)
    if not isinstance(show_tools, bool):
        raise ConfigValidationError(
            f"'show_tools' must be true or false, not {show_tools!r}",
            path="input.show_tools",
            file=file,
        )
    checked: dict[str, Any] = {"timeout": timeout, "prompt": prompt}
    if "show_tools" in options:
        checked["show_tools"] = show_tools
    if approvals is not None:
        checked["approvals"] = approvals
    return checked
