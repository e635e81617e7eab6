"""The ``cli`` run mode: a line interface on a terminal, with streaming replies and a spinner.

What the user sees, top to bottom: the transcript (their inputs after the ``>`` prompt, the
replies as they stream, one compact line per finished tool call), then, while the creature
works, a *live region*: a spinner line and one line per running tool call or sub-agent. When
the creature is done the region gives way to the prompt. Only the last rows are ever redrawn,
so the transcript stays in the terminal's scrollback like any command's output.

Keys: see :mod:`kt_cli.terminal` and ``/help``. Ctrl+C interrupts a running turn (a second
press exits); at the prompt it clears the line, and on an empty line a second press exits.
Ctrl+D on an empty line (or ``/exit``) leaves; ``kt`` then prints the resume command.

When standard input or output is not a terminal (a pipe), the mode degrades to reading lines
(as ``plain`` does, with a prompt) but keeps slash commands and activity lines.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

import trio

from kt_cli.activity import ASCII, UNICODE, Note, Symbols
from kt_cli.interactive import CommandResult, InteractiveSession
from kt_cli.reporting import EXIT_INTERRUPTED
from kt_cli.terminal import History, Key, KeyParser, LineEditor, raw_terminal

__all__ = ["LineInterface", "symbols_for"]

PROMPT = "> "

_STYLE = {
    "dim": "\x1b[2m",
    "ok": "\x1b[32m",
    "error": "\x1b[31m",
    "warning": "\x1b[33m",
    "bold": "\x1b[1m",
    "accent": "\x1b[36m",
}
_RESET = "\x1b[0m"
SPINNER_INTERVAL = 0.1
"""Seconds between spinner frames."""


def symbols_for(stream: TextIO) -> Symbols:
    """Unicode marks when *stream* encodes UTF-8, else ASCII ones."""
    encoding = (getattr(stream, "encoding", "") or "").lower().replace("-", "").replace("_", "")
    return UNICODE if encoding == "utf8" else ASCII


class LineInterface:
    """Runs an :class:`~kt_cli.interactive.InteractiveSession` on a terminal, line by line.

    Args:
        session: The session (its agent running).
        stdin: Where input comes from; a terminal gets the line editor.
        out: Where everything is written (the terminal).
        history: Input history for Up/Down.
        show_tools: Show tool activity (running calls and one line per finished call).
        banner: Print a line naming the creature, model and keys first (on a terminal).

    Attributes:
        exit_code: 0 after Ctrl+D or ``/exit``, 130 after Ctrl+C ended the run.
    """

    def __init__(
        self,
        session: InteractiveSession,
        *,
        stdin: TextIO,
        out: TextIO,
        history: History | None = None,
        show_tools: bool = True,
        banner: bool = True,
    ) -> None:
        self.session = session
        self.stdin = stdin
        self.out = out
        self.show_tools = show_tools
        self.banner = banner
        self.interactive = _isatty(stdin) and _isatty(out)
        self.colors = self.interactive and "NO_COLOR" not in os.environ
        self.symbols = session.tracker.symbols
        self.editor = LineEditor(history=history or History(), complete=session.complete)
        self.exit_code = 0
        self._transient = 0  # rows of prompt or live region drawn below the transcript
        self._text_open = False  # reply text was written and its line is not ended
        self._frame = 0
        self._lines_send, self._lines_recv = trio.open_memory_channel[tuple[str, bool]](100)
        self._done = trio.Event()
        self._interrupt_sent = False
        self._exit_armed = False
        self._drawing = False  # the prompt and live region are drawn (raw mode, tasks running)
        self._working = False  # a submitted line that may call the model is being run
        self._working_since = 0.0

    # -- Running -------------------------------------------------------------------------------

    async def run(self) -> int:
        """Read input and run it until the user leaves; returns :attr:`exit_code`."""
        if self.interactive:
            fd = self.stdin.fileno()
            with raw_terminal(fd):  # before anything is drawn: keys typed at the prompt are raw
                if self.banner:
                    self._commit(self._banner(), "dim")
                try:
                    await self._run_tasks(self._read_keys, fd)
                finally:
                    self._erase()
                    self._end_text()
                    self.out.flush()
        else:
            await self._run_tasks(self._read_lines)
        return self.exit_code

    async def _run_tasks(self, reader: Callable[..., Awaitable[None]], *args: Any) -> None:
        async with trio.open_nursery() as nursery:
            self._drawing = self.interactive
            await nursery.start(self.session.pump_notes, self._on_note)
            if threading.current_thread() is threading.main_thread():
                await nursery.start(self._watch_sigint)
            nursery.start_soon(reader, *args)
            if self.interactive:
                nursery.start_soon(self._spin)
                nursery.start_soon(self._process)
            self._draw()
            await self._done.wait()
            nursery.cancel_scope.cancel()

    def _leave(self, code: int) -> None:
        self.exit_code = code
        self._done.set()

    def _banner(self) -> str:
        agent = self.session.agent
        return f"kt · {agent.name} · model {agent.llm_name} · /help for commands, Ctrl+D to exit"

    @property
    def _active(self) -> bool:
        """Whether the creature is working (a submitted line, or a turn it started itself)."""
        return self._working or self.session.busy or bool(self.session.tracker.phase)

    # -- Input -------------------------------------------------------------------------------

    async def _read_keys(self, fd: int) -> None:
        parser = KeyParser()
        while True:
            await trio.lowlevel.wait_readable(fd)
            data = os.read(fd, 4096)
            if not data:  # the terminal went away
                self._leave(0)
                return
            for key in parser.feed(data):
                self._key(key)

    def _key(self, key: Key) -> None:
        if key.name == "ctrl-c":
            self._ctrl_c()
            return
        if self._active:  # type ahead: edited unseen; a line sent now runs (and shows) next
            if self.editor.feed(key) == "submit":
                self._queue(self.editor.text, echo=True)
                self.editor.set_text("")
            return
        self._exit_armed = False
        action = self.editor.feed(key)
        if action == "submit":
            line = self.editor.text
            self.editor.set_text("")
            self._erase()
            self._commit(self._styled(PROMPT, "bold") + line, None)
            self._queue(line, echo=False)
        elif action == "eof":
            self._leave(0)
        elif action == "candidates":
            self._commit("  ".join(self.editor.candidates()), "dim")
        elif action == "redraw":
            self._erase()
            self.out.write("\x1b[H\x1b[2J")
        self._draw()

    def _queue(self, line: str, *, echo: bool) -> None:
        """Queue *line* to run; *echo*: show it after the prompt when it starts."""
        try:
            self._lines_send.send_nowait((line, echo))
        except trio.WouldBlock:
            self._commit("too much input queued; this line was dropped", "warning")

    def _ctrl_c(self) -> None:
        if self._active:
            if self._interrupt_sent:
                self._commit("stopped by Ctrl+C", "warning")
                self._leave(EXIT_INTERRUPTED)
                return
            self._interrupt_sent = True
            self.session.interrupt()
            self._commit("interrupting; press Ctrl+C again to exit", "warning")
            return
        if self.editor.text:
            self.editor.set_text("")
            self._exit_armed = False
        elif self._exit_armed:
            self._erase()
            self._leave(EXIT_INTERRUPTED)
            return
        else:
            self._exit_armed = True
            self._commit("press Ctrl+C again to exit, or Ctrl+D (the session is saved)", "dim")
        self._draw()

    async def _read_lines(self) -> None:
        while True:
            self.out.write(PROMPT)
            self.out.flush()
            line = await trio.to_thread.run_sync(self.stdin.readline, abandon_on_cancel=True)
            if not line:
                self.out.write("\n")
                self._leave(0)
                return
            if await self._run_line(line.rstrip("\r\n")):
                return

    async def _watch_sigint(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        with trio.open_signal_receiver(signal.SIGINT) as signals:
            task_status.started()
            async for _ in signals:
                if self.interactive or self._active:
                    self._ctrl_c()
                else:
                    self._commit("stopped by Ctrl+C", "warning")
                    self._leave(EXIT_INTERRUPTED)

    # -- Running lines -----------------------------------------------------------------------

    async def _process(self) -> None:
        async for line, echo in self._lines_recv:
            if echo:
                self._commit(self._styled(PROMPT, "bold") + line, None)
            if await self._run_line(line):
                return

    async def _run_line(self, line: str) -> bool:
        """Submit *line* and show what it gave; ``True`` when the user asked to leave."""
        self._interrupt_sent = False
        self._working = self.session.runs_model(line)
        self._working_since = time.monotonic()
        self._draw()
        try:
            result = await self.session.submit(line)
            await self.session.caught_up()
        finally:
            self._working = False
        if result is not None:
            self._show(result)
            if result.exit:
                self._leave(0)
                return True
            if result.prefill and not self.editor.text:
                self.editor.set_text(result.prefill)
        self._draw()
        return False

    def _show(self, result: CommandResult) -> None:
        level = {"error": "error", "ok": "ok"}.get(result.level, "dim")
        for line in result.lines:
            self._commit(line, level)

    # -- Notes ---------------------------------------------------------------------------------

    def _on_note(self, note: Note) -> None:
        kind = note.kind
        if kind == "text":
            self._erase()
            self.out.write(note.text)
            self._text_open = not note.text.endswith("\n")
            self.out.flush()
            return
        if kind == "end_text":
            self._end_text()
        elif kind == "done":
            if self.show_tools:
                level = {"ok": "ok", "error": "error"}.get(note.level, "dim")
                self._commit(note.text, level, mark_only=note.level in ("ok", "error"))
        elif kind == "notice":
            self._commit(note.text, {"info": "dim"}.get(note.level, note.level))
        elif kind == "turn_started":
            self._commit(note.text, "accent")
        elif kind == "turn_ended" and note.text != "user":
            report = self.session.turn_report(note.result)
            if report is not None:
                self._show(report)
        self._draw()

    # -- Drawing -------------------------------------------------------------------------------

    def _styled(self, text: str, style: str | None) -> str:
        if not self.colors or style is None:
            return text
        return f"{_STYLE[style]}{text}{_RESET}"

    def _commit(self, line: str, style: str | None, *, mark_only: bool = False) -> None:
        """Write *line* into the transcript, above the prompt or live region."""
        self._erase()
        self._end_text()
        if mark_only and self.colors and " " in line:
            mark, rest = line.split(" ", 1)
            text = f"{self._styled(mark, style)} {self._styled(rest, 'dim')}"
        else:
            text = self._styled(line, style)
        self.out.write(text + "\n")
        self.out.flush()
        self._draw()

    def _end_text(self) -> None:
        if self._text_open:
            self._erase()
            self.out.write("\n")
            self._text_open = False

    def _erase(self) -> None:
        """Remove the prompt row or live region; the cursor ends at the start of its first row."""
        if not self._transient:
            return
        if self._transient > 1:
            self.out.write(f"\x1b[{self._transient - 1}A")
        self.out.write("\r\x1b[J")
        self._transient = 0

    def _draw(self) -> None:
        """Draw the live region (creature working) or the prompt (waiting for input)."""
        if not self._drawing or self._text_open or self._done.is_set():
            return
        self._erase()
        width = max(shutil.get_terminal_size().columns, 20)
        if self._active:
            rows = self._region(width)
            self.out.write("\n".join(rows))
            self._transient = len(rows)
        else:
            text, column = self.editor.view(PROMPT, width)
            styled = self._styled(PROMPT, "bold") + text[len(PROMPT) :]
            self.out.write(styled + "\r" + (f"\x1b[{column}C" if column else ""))
            self._transient = 1
        self.out.flush()

    def _region(self, width: int) -> list[str]:
        frames = self.symbols.spinner
        frame = frames[self._frame % len(frames)]
        tracker = self.session.tracker
        elapsed = time.monotonic() - self._working_since if self._working else 0.0
        phase = tracker.phase or "working"
        head = f"{frame} {phase}…"
        if elapsed >= 1:
            head += f" {elapsed:.0f}s"
        head += "  (Ctrl+C interrupts)"
        rows = [self._styled(head[: width - 1], "accent")]
        if self.show_tools:
            room = max(shutil.get_terminal_size().lines - 3, 1)
            running = list(tracker.running.values())
            for activity in running[:room]:
                rows.append(self._styled(f"  {frame} {activity.line(width - 5)}", "dim"))
            if len(running) > room:
                rows.append(self._styled(f"  … and {len(running) - room} more", "dim"))
        return rows

    async def _spin(self) -> None:
        while True:
            await trio.sleep(SPINNER_INTERVAL)
            if self._active and not self._text_open:
                self._frame += 1
                self._draw()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
