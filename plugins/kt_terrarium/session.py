"""Running a recipe from a terminal or a pipe: ``kt terrarium run`` in ``plain`` and ``cli`` mode.

One line of input is one turn of the *focus* creature (the recipe's root, unless chosen). Its
reply streams to stdout as it arrives; everything else the team does is written to stderr, one
line per thing: channel messages, output-wire deliveries, other creatures' finished turns,
tool calls of the focus creature, warnings. After each line the session waits until the whole
team is idle (every turn it caused has run, and the ones those caused), then reads the next
line; at the end of input it waits once more and ends.

Ctrl+C while the team works interrupts every running turn; a second Ctrl+C, or one while
waiting for input, ends the run with exit code 130.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TextIO

import trio

import kt
from kt.events import (
    AgentWarning,
    ErrorOccurred,
    Event,
    TextDelta,
    ToolCallCompleted,
    ToolCallStarted,
    TurnCompleted,
)
from kt_terrarium.engine import CreatureHandle, Terrarium

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "LineReader",
    "TeamPrinter",
    "TeamSession",
    "run_recipe",
]

EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
PREVIEW_CHARS = 160
"""Longest content shown in an activity line."""


def _clip(text: str, limit: int = PREVIEW_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LineReader:
    """Lines of a blocking text stream (stdin), read in a worker thread.

    Args:
        stream: The stream.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    async def readline(self) -> str | None:
        """The next line, or ``None`` at end of input; cancelling abandons the thread."""
        line = await trio.to_thread.run_sync(self.stream.readline, abandon_on_cancel=True)
        return line or None


class TeamPrinter:
    """Writes engine events as text: the focus creature's reply on *out*, the team on *err*.

    Args:
        focus: The creature the user talks to.
        out: Where its reply text goes.
        err: Where activity lines go.
        show_activity: Write activity lines (warnings and failures are written either way).
    """

    def __init__(self, focus: str, out: TextIO, err: TextIO, *, show_activity: bool = True):
        self.focus = focus
        self.out = out
        self.err = err
        self.show_activity = show_activity
        self._line_open = False
        self._iteration: int | None = None

    def handle(self, event: Event) -> None:
        """Render one event (events not shown are ignored).

        Args:
            event: An event from ``engine.subscribe(creature_events=True)``.
        """
        kind = event.type
        if event.creature == self.focus:
            if isinstance(event, TextDelta):
                self._text(event)
                return
            if isinstance(event, TurnCompleted):
                self.end_line()
                self._iteration = None
                return
            if isinstance(event, ToolCallStarted):
                args = json.dumps(event.args, ensure_ascii=False, default=str) if event.args else ""
                self._activity(f"[tool] {event.name} {_clip(args, 100)}".rstrip())
                return
            if isinstance(event, ToolCallCompleted) and event.status != "ok":
                self._activity(f"[tool] {event.name} {event.status}: {_clip(event.error or '')}")
                return
        if isinstance(event, ErrorOccurred | AgentWarning):
            who = f"{event.creature}: " if event.creature else ""
            self._note(f"kt: warning: {who}{event.message}")
        elif kind == "channel_message":
            to = ", ".join(event.delivered_to) or ("queued" if event.queued else "nobody")
            self._activity(f"[{event.channel}] {event.sender} -> {to}: {_clip(event.content)}")
        elif kind == "output_wire":
            what = _clip(event.content) if event.with_content else "(turn ended)"
            self._activity(f"[wire] {event.source} -> {event.creature}: {what}")
        elif kind == "output_wire_dropped":
            self._activity(f"[wire] {event.creature} -> {event.target} dropped: {event.reason}")
        elif kind == "direct_message":
            self._activity(f"[direct] {event.sender} -> {event.creature}: {_clip(event.content)}")
        elif isinstance(event, TurnCompleted) and event.creature != self.focus:
            result = event.result
            status = "" if result.status == "completed" else f" ({result.status})"
            self._activity(f"[{event.creature}]{status} {_clip(result.text)}".rstrip())
        elif kind == "topology_changed" and event.kind in ("merge", "split"):
            self._activity(
                f"[graph] {event.kind}: {', '.join(event.old_graph_ids)} -> "
                f"{', '.join(event.new_graph_ids)}"
            )

    def end_line(self) -> None:
        """End the focus creature's current line of text, if one is open."""
        if self._line_open:
            self.out.write("\n")
            self.out.flush()
            self._line_open = False

    def _text(self, event: TextDelta) -> None:
        if not event.text:
            return
        if self._iteration is not None and event.iteration != self._iteration:
            self.end_line()
        self._iteration = event.iteration
        self.out.write(event.text)
        self.out.flush()
        self._line_open = not event.text.endswith("\n")

    def _activity(self, line: str) -> None:
        if self.show_activity:
            self._note(line)

    def _note(self, line: str) -> None:
        self.end_line()
        self.err.write(line + "\n")
        self.err.flush()


class TeamSession:
    """Feeds lines to the focus creature of a running engine and renders the team's events.

    Args:
        engine: A running engine with the recipe applied.
        focus: The creature the user talks to.
        events: ``engine.subscribe(creature_events=True)``, opened before the recipe started.
        printer: Renders the events.
        lines: Where input lines come from (``readline()``).
        timeout: Time limit per turn of the focus creature (``None``: its config's).
        prompt: Written before each line is read (``cli`` mode); ``None``: nothing.
        handle_sigint: Handle Ctrl+C (main thread only).

    Attributes:
        failed_turns: Turns of the focus creature that ended ``error``, ``timeout``,
            ``cancelled`` or ``max_iterations``.
        aborted: Whether Ctrl+C ended the run.
    """

    def __init__(
        self,
        engine: Terrarium,
        focus: CreatureHandle,
        events: trio.MemoryReceiveChannel[Event],
        printer: TeamPrinter,
        *,
        lines: Any,
        timeout: float | None = None,
        prompt: str | None = None,
        handle_sigint: bool = True,
    ) -> None:
        self.engine = engine
        self.focus = focus
        self.events = events
        self.printer = printer
        self.lines = lines
        self.timeout = timeout
        self.prompt = prompt
        self.handle_sigint = handle_sigint
        self.failed_turns = 0
        self.aborted = False
        self._waiting_for_input = False
        self._interrupted = False

    async def run(self) -> int:
        """Run until the input ends (and the team is idle) or Ctrl+C ends it.

        Returns:
            0, 1 when a turn of the focus creature failed, 130 after Ctrl+C.
        """
        async with trio.open_nursery() as nursery:
            if self.handle_sigint and threading.current_thread() is threading.main_thread():
                await nursery.start(self._watch_sigint, nursery.cancel_scope)
            await self._rendering(self.engine.wait_idle)
            await self._read_and_run()
            nursery.cancel_scope.cancel()
        self.printer.end_line()
        if self.aborted:
            return EXIT_INTERRUPTED
        return EXIT_FAILURE if self.failed_turns else 0

    async def _read_and_run(self) -> None:
        while True:
            if self.prompt is not None:
                self.printer.out.write(self.prompt)
                self.printer.out.flush()
            self._waiting_for_input = True
            line = await self._rendering(self.lines.readline)
            self._waiting_for_input = False
            if line is None:
                if self.prompt is not None:
                    self.printer.out.write("\n")
                    self.printer.out.flush()
                return
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            self._interrupted = False
            result = await self._rendering(partial(self._turn, text))
            self._report(result)

    async def _turn(self, text: str) -> kt.TurnResult:
        limit = {} if self.timeout is None else {"timeout": self.timeout}
        result = await self.focus.run(text, **limit)
        await self.engine.wait_idle()
        return result

    async def _rendering(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run *work* while rendering events as they come; render the rest before returning.

        The renderer is cancelled only at its ``receive`` (an event it took is always
        rendered), and what is still buffered is drained here, so every event up to now is
        on screen, in order, when this returns.
        """
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._render)
            value = await work()
            nursery.cancel_scope.cancel()
        while True:
            try:
                event = self.events.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
            self.printer.handle(event)
        return value

    async def _render(self) -> None:
        async for event in self.events:
            self.printer.handle(event)

    def _report(self, result: kt.TurnResult) -> None:
        status = result.status
        if status in ("completed", "terminated"):
            return
        if status == "interrupted":
            self.printer._note("kt: turn interrupted")
            return
        self.failed_turns += 1
        detail = str(result.error) if result.error is not None else result.reason or status
        self.printer._note(f"kt: error: the turn of '{self.focus.id}' ended {status}: {detail}")

    async def _watch_sigint(
        self,
        run_scope: trio.CancelScope,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        with trio.open_signal_receiver(signal.SIGINT) as signals:
            task_status.started()
            async for _ in signals:
                if not self._waiting_for_input and not self._interrupted:
                    self._interrupted = True
                    for creature_id in self.engine:
                        self.engine[creature_id].interrupt()
                    self.printer._note("kt: interrupting the team; press Ctrl+C again to exit")
                else:
                    self.aborted = True
                    self.printer._note("kt: stopped by Ctrl+C")
                    run_scope.cancel()
                    return


async def run_recipe(
    recipe: str | os.PathLike[str],
    *,
    kernel: kt.Kernel,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    llm_selector: str | None = None,
    pwd: str | os.PathLike[str] | None = None,
    session_dir: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    prompt: str | None = None,
    focus: str | None = None,
    show_activity: bool = True,
    handle_sigint: bool = True,
) -> int:
    """Apply *recipe* in a new engine and run a session with its focus creature.

    Args:
        recipe: A recipe folder or file, or ``@pack/path``.
        kernel: The plugin set creatures are built with.
        stdin: Where lines come from.
        stdout: Where the focus creature's replies go.
        stderr: Where activity, notices and failures go.
        llm_selector: ``BACKEND/MODEL`` or ``scripted:FILE`` for every creature.
        pwd: The creatures' working directory (default: the current directory).
        session_dir: Persist the graphs' sessions there (``None``: not persisted).
        timeout: Time limit per turn of the focus creature.
        prompt: Prompt before each line (``cli`` mode).
        focus: The creature to talk to (default: the root, else the first creature).
        show_activity: Write activity lines on *stderr*.
        handle_sigint: Handle Ctrl+C.

    Returns:
        The exit code (see :meth:`TeamSession.run`).

    Raises:
        ConfigError: the recipe or a creature config is invalid.
        CreatureNotFoundError: *focus* is not a creature of the recipe.
    """
    async with Terrarium(kernel=kernel, session_dir=session_dir, pwd=pwd) as engine:
        events = engine.subscribe(creature_events=True)
        applied = await engine.apply_recipe(recipe, llm_selector=llm_selector)
        focus_id = focus or applied.root or applied.creature_ids[0]
        handle = engine[focus_id]
        session = TeamSession(
            engine,
            handle,
            events,
            TeamPrinter(focus_id, stdout, stderr, show_activity=show_activity),
            lines=LineReader(stdin),
            timeout=timeout,
            prompt=prompt,
            handle_sigint=handle_sigint,
        )
        try:
            return await session.run()
        finally:
            events.close()
