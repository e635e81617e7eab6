"""The ``cli`` input: a line interface on a terminal, with streaming replies and a spinner.

What the user sees, top to bottom: the transcript (their inputs after the ``>`` prompt, the
replies as they stream, one compact line per finished tool call), then, while the creature
works, a *live region*: a spinner line and one line per running tool call or sub-agent. When
the creature is done the region gives way to the prompt. Only the last rows are ever redrawn,
so the transcript stays in the terminal's scrollback like any command's output.

Keys: see :mod:`kt_cli.terminal` and ``/help``. Ctrl+C interrupts a running turn (a second
press exits); at the prompt it clears the line, and on an empty line a second press exits.
Ctrl+D on an empty line (or ``/exit``) leaves; ``kt`` then prints the resume command.

When standard input or output is not a terminal (a pipe), the input degrades to reading lines
(as ``plain`` does, with a prompt) but keeps slash commands and activity lines.

:class:`LineFrontend` is the front end; the loop itself (read, run, show) is
:class:`kt_cli.repl.Repl`, shared with ``plain`` and ``tui``. :class:`CliInput` is the input
module (``input = {type = "cli"}``, ``kt run --mode cli``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar, TextIO

import trio

from kt_cli.activity import ASCII, UNICODE, Note, Symbols, clip
from kt_cli.interactive import CommandResult, InteractiveSession
from kt_cli.markdown import BlockSplitter, render
from kt_cli.repl import LineReader, Repl, TerminalInput
from kt_cli.terminal import History, Key, KeyParser, LineEditor, raw_terminal, text_width

__all__ = ["CliInput", "LineFrontend", "interactive_session", "symbols_for"]

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
_DIFF_STYLE = {"+": "ok", "-": "error", "@": "accent"}
BRACKETED_PASTE_ON = "\x1b[?2004h"
BRACKETED_PASTE_OFF = "\x1b[?2004l"


def symbols_for(stream: TextIO) -> Symbols:
    """Unicode marks when *stream* encodes UTF-8, else ASCII ones."""
    encoding = (getattr(stream, "encoding", "") or "").lower().replace("-", "").replace("_", "")
    return UNICODE if encoding == "utf8" else ASCII


def interactive_session(
    agent: Any,
    *,
    timeout: float | None,
    out: TextIO,
    approvals: str = "ask",
    surface: str = "cli",
) -> InteractiveSession:
    """The session of an interactive input: slash commands, marks for *out*, kept history.

    The input history is kept in ``$KT_HOME/input-history`` between runs.

    Args:
        agent: The running creature.
        timeout: Time limit per turn in seconds (``None``: the creature's own).
        out: The terminal, whose encoding chooses unicode or ASCII marks.
        approvals: The approval mode (``kt run --approvals``).
        surface: The input's name, recorded with the answers given through it.
    """
    from kt.config.home import kt_home

    session = InteractiveSession(
        agent,
        timeout=timeout,
        symbols=symbols_for(out),
        approvals=approvals,
        surface=surface,
    )
    session.history = History(kt_home(agent.kernel.env) / "input-history")
    return session


class CliInput(TerminalInput):
    """The ``cli`` input module: the line interface, which shows the creature's events itself.

    Options (``input = {type = "cli", ...}``): ``timeout`` (seconds per turn), ``prompt``
    (default ``"> "``), ``show_tools`` (default true), ``approvals`` (the approval mode,
    default ``ask``).
    """

    renders_events: ClassVar[bool] = True
    options: ClassVar[tuple[str, ...]] = ("timeout", "prompt", "show_tools", "approvals")

    def repl(self, agent: Any) -> Repl:
        """The loop with the line editor (a terminal) or a prompt before lines (a pipe)."""
        session = interactive_session(
            agent, timeout=self.timeout, out=self.stdout, approvals=self.approvals
        )
        frontend = LineFrontend(
            session,
            stdin=self.stdin,
            out=self.stdout,
            history=session.history,
            show_tools=self.show_tools,
            prompt=PROMPT if self.prompt is None else self.prompt,
        )
        return Repl(session, frontend, handle_sigint=self.handle_sigint)


class LineFrontend:
    """The ``cli`` front end: the line editor on a terminal, or prompted lines from a pipe.

    On a terminal, replies are rendered as Markdown block by block as they stream
    (:mod:`kt_cli.markdown`); the block still arriving shows as typed above the live region.
    Below the transcript: the live region while the creature works, a footer (model, context
    use, tokens), and the input line, which may hold several lines (Ctrl+J, Alt+Enter or
    Shift+Enter add one; a paste is one message).

    A request for the person (``ask_user``, a card's buttons, a tool approval) is committed
    to the transcript with how to answer it, and the input line becomes its answer line: the
    next line entered answers it, never starts a turn. An approval takes a single key: ``y``
    allow once, ``a`` allow for this session, ``n`` deny.

    Args:
        session: The session (its agent running).
        stdin: Where input comes from; a terminal gets the line editor.
        out: Where everything is written (the terminal).
        history: Input history for Up/Down.
        show_tools: Show tool activity (running calls and one line per finished call).
        banner: Print a line naming the creature, model and keys first (on a terminal).
        prompt: The prompt before the input line.
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
        prompt: str = PROMPT,
    ) -> None:
        self.session = session
        self.stdin = stdin
        self.out = out
        self.show_tools = show_tools
        self.banner = banner
        self.prompt = prompt
        self.interactive = _isatty(stdin) and _isatty(out)
        self.colors = self.interactive and "NO_COLOR" not in os.environ
        self.markdown = self.interactive  # render replies; a pipe gets them as they came
        self.symbols = session.tracker.symbols
        self.editor = LineEditor(history=history or History(), complete=session.complete)
        self.lines = LineReader(stdin, prompt=prompt, out=out)
        self.repl: Repl | None = None
        self._transient = 0  # rows of prompt or live region drawn below the transcript
        self._row = 0  # the row of the transient area the cursor is on
        self._text_open = False  # reply text was written raw and its line is not ended
        self._blocks = BlockSplitter()
        self._blank = True  # the transcript ends with a blank line (no second one needed)
        self._frame = 0
        self._lines_send, self._lines_recv = trio.open_memory_channel[tuple[str, bool]](100)
        self._exit_armed = False
        self._drawing = False  # the prompt and live region are drawn (raw mode, tasks running)
        self._draft = ""  # what was typed ahead when a request came, given back after it
        # Requests whose question is on screen. The tracker knows of a request a moment before
        # its note is rendered; a redraw in that moment must not show an answer prompt with no
        # question above it.
        self._shown_requests: set[str] = set()
        self._nursery: trio.Nursery | None = None

    # -- The front-end protocol ------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def open(self, repl: Repl) -> AsyncIterator[None]:
        """On a terminal: raw mode and bracketed paste for the whole run."""
        self.repl = repl
        if not self.interactive:
            yield
            return
        with raw_terminal(self.stdin.fileno()):
            self.out.write(BRACKETED_PASTE_ON)
            if self.banner:
                self._commit(self._banner(), "dim")
            for problem in self.session.command_problems:
                self._commit(f"warning: {problem}", "warning")
            try:
                yield
            finally:
                self._drawing = False
                self._erase()
                self._end_text()
                self.out.write(BRACKETED_PASTE_OFF)
                self.out.flush()

    async def start(self, nursery: trio.Nursery) -> None:
        """On a terminal: read keys, turn the spinner, draw the prompt."""
        self._nursery = nursery  # from a pipe: answers to requests are read in a task
        if not self.interactive:
            return
        self._drawing = True
        nursery.start_soon(self._read_keys, self.stdin.fileno())
        nursery.start_soon(self._spin)
        self._draw()

    async def read(self) -> str | None:
        """The next line: entered in the editor (a terminal), or read after the prompt.

        From a pipe, the lines that answer requests are read while the turn runs instead.
        """
        if not self.interactive:
            return await self.lines.readline()
        line, echo = await self._lines_recv.receive()
        if echo:
            self._commit(self._echo(line), None)
        return line

    def starting(self, line: str) -> None:
        """Show the live region when the line may call the model."""
        self._draw()

    def show(self, result: CommandResult) -> None:
        """Commit *result*'s lines to the transcript."""
        level = {"error": "error", "ok": "ok"}.get(result.level, "dim")
        for line in result.lines:
            self._commit(line, level)

    def finished(self, result: CommandResult | None) -> None:
        """Offer a command's prefill for editing; back to the prompt."""
        if result is not None and result.prefill and not self.editor.text:
            self.editor.set_text(result.prefill)
        self._draw()

    def notice(self, text: str, level: str = "info") -> None:
        """Commit one line to the transcript."""
        self._commit(text, {"info": "dim"}.get(level, level))

    def idle_ctrl_c(self) -> bool:
        """At the prompt: clear the line; on an empty line, a second press leaves."""
        if not self.interactive:
            self._commit("stopped by Ctrl+C", "warning")
            return True
        if self.editor.text:
            self.editor.set_text("")
            self._exit_armed = False
            return False
        if self._exit_armed:
            self._erase()
            return True
        self._exit_armed = True
        self._commit("press Ctrl+C again to exit, or Ctrl+D (the session is saved)", "dim")
        return False

    def redraw(self) -> None:
        """Draw the prompt or live region again."""
        self._draw()

    def _banner(self) -> str:
        agent = self.session.agent
        return f"kt · {agent.name} · model {agent.llm_name} · /help for commands, Ctrl+D to exit"

    @property
    def _active(self) -> bool:
        """Whether the creature is working (a submitted line, or a turn it started itself)."""
        return self.repl is not None and self.repl.active

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

    def _leave(self, code: int) -> None:
        assert self.repl is not None
        self.repl.leave(code)

    def _key(self, key: Key) -> None:
        if key.name == "ctrl-c":
            assert self.repl is not None
            self.repl.ctrl_c()
            return
        if key.name == "ctrl-o":  # expand: the whole output of the latest finished call
            self.show(self.session.expand(1))
            return
        request = self._waiting_request()
        if key.name == "escape" and request is None and self._active:
            if self.session.interrupt():
                self._commit("interrupting (Esc)", "warning")
            return
        if request is not None:
            self._request_key(key, request)
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
            self._commit(self._echo(line), None)
            self._queue(line, echo=False)
        elif action == "eof":
            self._leave(0)
            return
        elif action == "candidates":
            self._commit("  ".join(self.editor.candidates()), "dim")
        elif action == "redraw":
            self._erase()
            self.out.write("\x1b[H\x1b[2J")
        self._draw()

    def _request_key(self, key: Key, request: Any) -> None:
        """A key while a request waits: it edits (or, for a choice, is) the answer."""
        if key.name == "text" and not self.editor.text and len(key.text) == 1:
            if any(c.key == key.text.lower() for c in request.choices):
                self._answer(key.text)
                return
        if key.name == "enter":  # answers stay out of the input history
            typed = self.editor.text
            self.editor.set_text("")
            self._answer(typed)
            return
        self.editor.feed(key)
        self._draw()

    def _answer(self, typed: str) -> None:
        label = self._request_label(self._waiting_request())
        self._commit(self._styled(label, "warning") + typed, None)
        problem = self.session.answer_typed(typed)
        if problem is not None:
            self.show(problem)
        self._draw()

    def _queue(self, line: str, *, echo: bool) -> None:
        """Queue *line* to run; *echo*: show it after the prompt when it starts."""
        try:
            self._lines_send.send_nowait((line, echo))
        except trio.WouldBlock:
            self._commit("too much input queued; this line was dropped", "warning")

    def _echo(self, line: str) -> str:
        """*line* as the transcript shows an input: after the prompt, later lines indented."""
        pad = "\n" + " " * text_width(self.prompt)
        return self._styled(self.prompt, "bold") + line.replace("\n", pad)

    # -- Notes ---------------------------------------------------------------------------------

    def on_note(self, note: Note) -> None:
        """Render one note of the creature's activity."""
        kind = note.kind
        if kind == "text":
            self._stream(note.text)
            return
        if kind == "end_text":
            self._end_text()
        elif kind == "done":
            if self.show_tools:
                level = {"ok": "ok", "error": "error"}.get(note.level, "dim")
                self._commit(note.text, level, mark_only=note.level in ("ok", "error"))
                for line in note.detail:
                    self._commit(f"    {line}", _DIFF_STYLE.get(line[:1], "dim"))
        elif kind == "notice":
            self._commit(note.text, {"info": "dim"}.get(note.level, note.level))
        elif kind == "turn_started":
            self._commit(note.text, "accent")
        elif kind == "turn_ended" and note.text != "user":
            report = self.session.turn_report(note.result)
            if report is not None:
                self.show(report)
        elif kind == "request":
            request = self.session.tracker.requests[note.call_id]
            self._show_request(request)
            if not self.interactive and self._nursery is not None:
                self._nursery.start_soon(self.session.answer_from, self.lines, request, self.show)
        elif kind == "request_closed":
            self._request_closed(note.text)
        self._draw()

    def _show_request(self, request: Any) -> None:
        if len(self.session.tracker.requests) == 1:  # the first: keep what was typed ahead
            self._draft = self.editor.text
            self.editor.set_text("")
        mark = "?" if request.kind != "approval" else "!"
        self._commit(f"{mark} {request.prompt}", "warning")
        for line in request.details[:12]:
            self._commit(f"  {line}", None)
        if len(request.details) > 12:
            self._commit(f"  … {len(request.details) - 12} more lines", "dim")
        left = request.seconds_left()
        wait = f" · answer within {left:.0f}s" if left is not None else ""
        self._commit(f"  {request.hint()}{wait}", "dim")
        self._shown_requests.add(request.request_id)  # all of it is on screen: it may be answered

    def _waiting_request(self) -> Any:
        """The request the input line answers: the oldest waiting one, once it is on screen."""
        request = self.session.waiting_request
        if request is None or request.request_id not in self._shown_requests:
            return None
        return request

    def _request_closed(self, outcome: str) -> None:
        self._shown_requests &= set(self.session.tracker.requests)
        if outcome in ("timed out", "withdrawn"):
            self._commit(f"  ↳ {outcome}: nobody answered", "warning")
        if not self.session.tracker.requests and self._draft:
            self.editor.set_text(self._draft)
            self._draft = ""

    def _request_label(self, request: Any) -> str:
        if request is None:
            return "answer › "
        if request.choices and all(c.key for c in request.choices):
            return f"[{'/'.join(c.key for c in request.choices)}] › "
        return "answer › "

    def _stream(self, chunk: str) -> None:
        """Reply text: rendered block by block on a terminal, as it came elsewhere."""
        if not self.markdown:
            self._erase()
            self.out.write(chunk)
            self._text_open = not chunk.endswith("\n")
            self.out.flush()
            return
        for block in self._blocks.feed(chunk):
            self._write_block(block)
        self._draw()

    def _write_block(self, block: str) -> None:
        if not block:
            if not self._blank:
                self._erase()
                self.out.write("\n")
                self._blank = True
            return
        width = max(shutil.get_terminal_size().columns, 20)
        self._erase()
        self.out.write(render(block, width, colors=self.colors) + "\n")
        self._blank = False

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
        self._blank = False
        self.out.flush()
        self._draw()

    def _end_text(self) -> None:
        if self._text_open:
            self._erase()
            self.out.write("\n")
            self._text_open = False
        if self._blocks.tail:
            for block in self._blocks.flush():
                self._write_block(block)

    def _erase(self) -> None:
        """Remove the prompt row or live region; the cursor ends at the start of its first row."""
        if not self._transient:
            return
        if self._row:
            self.out.write(f"\x1b[{self._row}A")
        self.out.write("\r\x1b[J")
        self._transient = 0
        self._row = 0

    def _draw(self) -> None:
        """Draw the live region and footer, and the input line when it takes input."""
        if not self._drawing or self._text_open or (self.repl is not None and self.repl.leaving):
            return
        self._erase()
        size = shutil.get_terminal_size()
        width = max(size.columns, 20)
        rows = self._tail_rows(width, max(size.lines // 2, 3))
        if self._active:
            rows += self._region(width)
        rows.append(self._styled(clip(self.session.footer(), width - 1), "dim"))
        request = self._waiting_request()
        cursor: tuple[int, int] | None = None
        if request is not None or not self._active:
            label = self._request_label(request) if request is not None else self.prompt
            label = self.editor.search_label() or label
            editor_rows, row, column = self.editor.rows(label, width)
            style = "warning" if request is not None else "bold"
            editor_rows[0] = self._styled(label, style) + editor_rows[0][len(label) :]
            cursor = (len(rows) + row, column)
            rows += editor_rows
        self.out.write("\n".join(rows))
        self._transient = len(rows)
        self._row = len(rows) - 1
        if cursor is not None:
            up = self._row - cursor[0]
            if up:
                self.out.write(f"\x1b[{up}A")
            self.out.write("\r" + (f"\x1b[{cursor[1]}C" if cursor[1] else ""))
            self._row = cursor[0]
        self.out.flush()

    def _tail_rows(self, width: int, limit: int) -> list[str]:
        """The reply block still arriving, as it came, wrapped; its last *limit* rows."""
        tail = self._blocks.tail
        if not tail:
            return []
        rows: list[str] = []
        for line in tail.split("\n"):
            while text_width(line) > width - 1:
                cut = width - 1
                while text_width(line[:cut]) > width - 1:
                    cut -= 1
                rows.append(line[:cut])
                line = line[cut:]
            rows.append(line)
        return rows[-limit:]

    def _region(self, width: int) -> list[str]:
        frames = self.symbols.spinner
        frame = frames[self._frame % len(frames)]
        tracker = self.session.tracker
        repl = self.repl
        elapsed = time.monotonic() - repl.working_since if repl and repl.working else 0.0
        phase = "waiting for your answer" if tracker.requests else tracker.phase or "working"
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
