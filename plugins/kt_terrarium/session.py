"""Running a recipe from a terminal or a pipe: ``kt terrarium run`` in ``plain`` and ``cli`` mode.

One line of input is one turn of the *focus* creature (the recipe's root, unless chosen). Its
reply streams to stdout as it arrives; everything else the team does is written to stderr, one
line per thing: channel messages, output-wire deliveries, other creatures' finished turns,
tool calls of the focus creature, warnings. After each line the session waits until the whole
team is idle (every turn it caused has run, and the ones those caused), then reads the next
line; at the end of input it waits once more and ends.

Ctrl+C while the team works interrupts every running turn; a second Ctrl+C, or one while
waiting for input, ends the run with exit code 130.

The loop (read a line, run it, render, repeat; Ctrl+C) is the one every terminal input of
``kt`` shares, :class:`kt_cli.repl.Repl`, with the ``plain`` front end: :class:`TeamSession` is
what a line does here (a turn of the focus creature, then the team going idle) and
:class:`TeamPrinter` how the team's events are rendered.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, TextIO

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
from kt_cli.interactive import CommandResult, channel_lines, creature_channel_lines
from kt_cli.plain import PlainFrontend
from kt_cli.repl import Feed, LineReader, Repl

if TYPE_CHECKING:
    from kt_terrarium import CreatureHandle, Terrarium

__all__ = ["TeamPrinter", "TeamSession", "run_recipe"]

PREVIEW_CHARS = 160
"""Longest content shown in an activity line."""


def _clip(text: str, limit: int = PREVIEW_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TeamPrinter:
    """Writes engine events as text: the focus creature's reply on *out*, the team on *err*.

    When both are one terminal, a line on *err* first ends the reply's open line, so it is not
    written into the middle of it. Otherwise (a pipe) *out* holds the reply text as the model
    wrote it: another creature's activity never splits a word there.

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
        self._one_screen = _is_terminal(out) and _is_terminal(err)
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
        if self._one_screen:
            self.end_line()
        self.err.write(line + "\n")
        self.err.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or closed
        return False


class TeamSession:
    """What a line does in ``kt terrarium run``: a turn of the focus creature, then team idle.

    The session side of :class:`kt_cli.repl.Repl` (see that module for the protocol).

    Args:
        engine: A running engine with the recipe applied.
        focus: The creature the user talks to.
        events: ``engine.subscribe(creature_events=True)``, opened before the recipe started.
        timeout: Time limit per turn of the focus creature (``None``: its config's).

    Attributes:
        failed_turns: Turns of the focus creature that ended ``error``, ``timeout``,
            ``cancelled`` or ``max_iterations``.
    """

    active = False  # the loop's own lines are all the team works on between lines

    def __init__(
        self,
        engine: Terrarium,
        focus: CreatureHandle,
        events: trio.MemoryReceiveChannel[Event],
        *,
        timeout: float | None = None,
    ) -> None:
        self.engine = engine
        self.focus = focus
        self.events = events
        self.timeout = timeout
        self.failed_turns = 0
        self._feed = Feed()

    def runs_model(self, line: str) -> bool:
        """Every non-blank line is a turn, but ``/channels``."""
        return bool(line.strip()) and not self._is_channels(line)

    @staticmethod
    def _is_channels(line: str) -> bool:
        return line.split(maxsplit=1)[:1] == ["/channels"]

    async def submit(self, line: str) -> CommandResult | None:
        """Run a turn of the focus creature for *line* and wait until the team is idle.

        ``/channels`` lists the team's channels instead (the one command here: every other
        line is a message, and ``//channels`` sends ``/channels`` as one).

        Returns:
            A notice when the turn did not complete, else ``None``.
        """
        if self._is_channels(line):
            lines = creature_channel_lines(self.focus.agent) or channel_lines(self.engine.channels)
            return CommandResult(tuple(lines))
        if line.startswith("//channels"):
            line = line[1:]
        if not line.strip():
            return None
        limit = {} if self.timeout is None else {"timeout": self.timeout}
        result = await self.focus.run(line, **limit)
        await self.engine.wait_idle()
        return self._report(result)

    def interrupt(self) -> bool:
        """Interrupt every creature's running turn."""
        for creature_id in self.engine:
            self.engine[creature_id].interrupt()
        return True

    async def pump_notes(
        self,
        on_note: Any,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Hand every event of the team to *on_note* (the printer), in order, until cancelled."""
        await self._feed.pump(self.events, on_note, task_status=task_status)

    async def caught_up(self) -> None:
        """Wait until the team is idle and every event so far was rendered."""
        await self.engine.wait_idle()
        await self._feed.caught_up()

    def _report(self, result: kt.TurnResult) -> CommandResult | None:
        status = result.status
        if status in ("completed", "terminated"):
            return None
        if status == "interrupted":
            return CommandResult(("turn interrupted",))
        self.failed_turns += 1
        detail = str(result.error) if result.error is not None else result.reason or status
        return CommandResult(
            (f"error: the turn of '{self.focus.id}' ended {status}: {detail}",), "error"
        )


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
        The exit code: 0, 1 when a turn of the focus creature failed, 130 after Ctrl+C.

    Raises:
        ConfigError: the recipe or a creature config is invalid.
        CreatureNotFoundError: *focus* is not a creature of the recipe.
    """
    from kt_terrarium import Terrarium

    async with Terrarium(kernel=kernel, session_dir=session_dir, pwd=pwd) as engine:
        events = engine.subscribe(creature_events=True)
        applied = await engine.apply_recipe(recipe, llm_selector=llm_selector)
        focus_id = focus or applied.root or applied.creature_ids[0]
        handle = engine[focus_id]
        printer = TeamPrinter(focus_id, stdout, stderr, show_activity=show_activity)
        frontend = PlainFrontend(
            LineReader(stdin, prompt=prompt, out=stdout),
            stderr,
            printer=printer,
            render=printer.handle,
        )
        session = TeamSession(engine, handle, events, timeout=timeout)
        try:
            return await Repl(
                session, frontend, failed_exit=True, handle_sigint=handle_sigint
            ).run()
        finally:
            events.close()
