"""The full-screen UI: urwid widgets driven by an interactive session, on trio.

Layout::

    ┌ kt · creature · model ──────────────────────────────────────────┐
    │ transcript (scrolls; follows the end     │ Model / Session       │
    │ unless you scrolled up)                  │ Usage / Running       │
    │                                          │ Jobs / Sub-agents     │
    ├──────────────────────────────────────────┴───────────────────────┤
    │ ⠋ thinking… 3s · Ctrl+C interrupts                                │
    │ > input                                                           │
    └───────────────────────────────────────────────────────────────────┘

A request for the person (``ask_user``, a card's buttons, a tool approval) opens a dialog over
the transcript: the question, its details and how to answer. The input box becomes its answer
line until it is answered: Enter sends what was typed, and a choice with a key (``y`` / ``a`` /
``n`` for approvals) is picked by that key alone.

urwid runs on the same trio loop as the creature (``urwid.TrioEventLoop``): the session's notes
update widgets in a trio task, and urwid redraws when the loop goes idle. Ctrl+C is taken from
the terminal's signal keys while the screen is up, so it arrives as a key: it interrupts a
running turn, and on an idle, empty input a second press leaves.

:class:`TuiFrontend` is how the screen reads and renders; reading a line, running it and
showing its result is the loop every terminal input shares (``kt_cli.repl.Repl``).
:class:`TuiInput` is the ``tui`` input module.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import trio
import urwid

from kt_cli.activity import conversation_tail
from kt_cli.line_ui import interactive_session
from kt_cli.markdown import BlockSplitter, render
from kt_cli.repl import Repl, TerminalInput

__all__ = ["TuiFrontend", "TuiInput"]

PALETTE = [
    ("header", "black", "light gray"),
    ("title", "bold", ""),
    ("user", "bold", ""),
    ("dim", "dark gray", ""),
    ("ok", "dark green", ""),
    ("error", "dark red", ""),
    ("warning", "yellow", ""),
    ("accent", "dark cyan", ""),
    ("info", "dark gray", ""),
]
SIDE_PANEL_WIDTH = 34
NARROW = 80
"""Terminals narrower than this get no side panel (the footer line keeps model and usage)."""
SPINNER_INTERVAL = 0.1
RECENT_SUBAGENTS = 5
PAGE = 10


class TuiInput(TerminalInput):
    """The ``tui`` input module: the full screen, which shows the creature's events itself.

    Options (``input = {type = "tui", ...}``): ``timeout`` (seconds per turn), ``prompt``
    (default ``"> "``), ``show_tools`` (default true), ``approvals`` (default ``ask``).
    """

    renders_events: ClassVar[bool] = True
    options: ClassVar[tuple[str, ...]] = ("timeout", "prompt", "show_tools", "approvals")

    def repl(self, agent: Any) -> Repl:
        """The loop with the full-screen front end on the real terminal."""
        session = interactive_session(
            agent, timeout=self.timeout, out=self.stdout, approvals=self.approvals, surface="tui"
        )
        frontend = TuiFrontend(
            session, prompt="> " if self.prompt is None else self.prompt, show_tools=self.show_tools
        )
        return Repl(session, frontend, handle_sigint=self.handle_sigint)


class TuiFrontend:
    """The full screen as a front end of the shared loop.

    Args:
        session: The interactive session (its agent running).
        screen: The urwid screen (default: the real terminal on standard input and output).
        prompt: The caption of the input box.
        show_tools: Show one transcript line per finished tool call.
    """

    def __init__(
        self,
        session: Any,
        *,
        screen: Any = None,
        prompt: str = "> ",
        show_tools: bool = True,
    ) -> None:
        self.session = session
        self.agent = session.agent
        self.symbols = session.tracker.symbols
        self.screen = (
            screen if screen is not None else urwid.display.raw.Screen(bracketed_paste_mode=True)
        )
        self._pasting = False  # between a paste's begin and end: Enter is a newline
        self.show_tools = show_tools
        self.prompt = prompt
        self.repl: Repl | None = None
        self.walker = urwid.SimpleFocusListWalker([])
        self.transcript = urwid.ListBox(self.walker)
        self.transcript.set_focus_valign("bottom")
        self.side = urwid.Text("")
        self.status = urwid.Text("")
        self.edit = urwid.Edit(("user", prompt))
        header = urwid.AttrMap(urwid.Text(f" kt · {self.agent.name}"), "header")
        transcript_box = urwid.LineBox(self.transcript, title="transcript", title_align="left")
        self.wide_body = urwid.Columns(
            [
                transcript_box,
                (
                    SIDE_PANEL_WIDTH,
                    urwid.LineBox(urwid.Filler(self.side, valign="top"), title="creature"),
                ),
            ]
        )
        self.narrow_body = transcript_box  # below NARROW columns the side panel is left out
        body = self.wide_body
        self.footer = urwid.Text("")
        footer = urwid.Pile([urwid.AttrMap(self.footer, "dim"), self.status, self.edit])
        self.dialog = urwid.Text("")
        self.frame = urwid.Frame(body, header=header, footer=footer, focus_part="footer")
        self.header = header
        self.event_loop = urwid.TrioEventLoop()
        self.loop = urwid.MainLoop(
            self.frame,
            PALETTE,
            screen=self.screen,
            event_loop=self.event_loop,
            unhandled_input=self._on_key,
            input_filter=self._filter_keys,
            handle_mouse=False,
        )
        self._following = True  # the transcript shows its end
        self._blocks = BlockSplitter()  # the reply streaming now, cut into Markdown blocks
        self._tail: list[urwid.Text] = []  # its unfinished block, one widget per line, raw
        self._blank = False  # the last reply line placed is blank (never two in a row)
        self._frame_index = 0
        self._subagent_calls: set[str] = set()
        self._recent_subagents: list[tuple[str, str]] = []
        self._browse: int | None = None
        self._draft = ""
        self._exit_armed = False
        self._lines_send, self._lines_recv = trio.open_memory_channel[str](100)

    # -- The front-end protocol ------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def open(self, repl: Repl) -> AsyncIterator[None]:
        """The screen is up for the whole run; Ctrl+C arrives as a key meanwhile."""
        self.repl = repl
        self._add("kt · /help for commands · Ctrl+D exits · PgUp/PgDn scroll", "dim")
        if self.agent.history:  # a resumed run: where the conversation stopped
            columns, _ = self.screen.get_cols_rows()
            width = max(columns - 2 - (SIDE_PANEL_WIDTH if columns >= NARROW else 0), 20)
            self._add("the conversation so far ended with:", "dim")
            for line in conversation_tail(self.agent.history, width=width - 1):
                self._add(line, "user" if line.startswith(">") else "dim")
        for problem in self.session.command_problems:
            self._add(f"warning: {problem}", "warning")
        self._refresh()
        with self.loop.start():
            self.screen.tty_signal_keys(intr="undefined")  # Ctrl+C becomes a key
            yield

    async def start(self, nursery: trio.Nursery) -> None:
        """Run urwid's loop on trio, and the spinner."""
        nursery.start_soon(self._run_urwid)
        nursery.start_soon(self._tick)

    async def read(self) -> str | None:
        """The next line entered in the input box."""
        line = await self._lines_recv.receive()
        self._add(f"{self.prompt}{line}", "user")
        return line

    def starting(self, line: str) -> None:
        """Show the spinner when the line may call the model."""
        self._refresh()

    def show(self, result: Any) -> None:
        """Add *result*'s lines to the transcript."""
        style = {"error": "error", "ok": "ok"}.get(result.level, "dim")
        for line in result.lines:
            self._add(line, style)

    def finished(self, result: Any) -> None:
        """Offer a command's prefill for editing."""
        if result is not None and result.prefill and not self.edit.edit_text:
            self._set_input(result.prefill)
        self._refresh()

    def notice(self, text: str, level: str = "info") -> None:
        """Add one line to the transcript."""
        self._add(text, {"info": "dim"}.get(level, level))
        self._refresh()

    def idle_ctrl_c(self) -> bool:
        """On idle input: clear it; on an empty one, a second press leaves."""
        if self.edit.edit_text:
            self.edit.set_edit_text("")
            return False
        if self._exit_armed:
            return True
        self._exit_armed = True
        self._add("press Ctrl+C again to exit, or Ctrl+D (the session is saved)", "dim")
        return False

    def redraw(self) -> None:
        """Update the status line and side panel."""
        self._refresh()

    async def _run_urwid(self) -> None:
        await self.event_loop.run_async()

    def _leave(self, code: int) -> None:
        if self.repl is not None:
            self.repl.leave(code)

    @property
    def _active(self) -> bool:
        return self.repl is not None and self.repl.active

    # -- Keys --------------------------------------------------------------------------------

    def _on_key(self, key: Any) -> bool:
        if not isinstance(key, str):
            return False
        if key == "ctrl c":
            if self.repl is not None:
                self.repl.ctrl_c()
            return True
        if key == "enter" and self.session.waiting_request is not None:
            typed = self.edit.edit_text
            self.edit.set_edit_text("")
            self._answer(typed)
        elif key == "enter":
            line = self.edit.edit_text
            self.edit.set_edit_text("")
            self._browse = None
            self.session.history.add(line)
            if line.strip():
                self._queue(line)  # shown in the transcript when it runs
        elif key in ("ctrl j", "meta enter", "meta ctrl j", "shift enter"):  # a new line
            self.edit.insert_text("\n")
        elif key == "ctrl d":
            if not self.edit.edit_text:
                self._leave(0)
        elif key == "ctrl u":  # delete what is left of the cursor, as shells do
            position = self.edit.edit_pos
            self.edit.set_edit_text(self.edit.edit_text[position:])
            self.edit.set_edit_pos(0)
        elif key == "ctrl k":
            self.edit.set_edit_text(self.edit.edit_text[: self.edit.edit_pos])
        elif key in ("up", "down"):
            self._walk_history(-1 if key == "up" else 1)
        elif key == "tab":
            self._complete()
        elif key in ("page up", "page down"):
            self._scroll(-PAGE if key == "page up" else PAGE)
        elif key == "end":
            self._scroll(len(self.walker))
        else:
            return False
        self._exit_armed = False
        self._refresh()
        return True

    def _filter_keys(self, keys: list[Any], raw: list[int]) -> list[Any]:
        """A paste's newlines stay in the input; a choice's key on an empty answer line picks it.

        Inside a bracketed paste, Enter becomes ``ctrl j`` (a newline in the input), so a
        pasted block is one message. (Ctrl+J itself reaches urwid as Enter: the terminal
        mode it sets maps CR to LF; Alt+Enter adds a line.) While a request waits, ``y`` /
        ``a`` / ``n`` (its choices' keys) typed on an empty answer line answer at once.
        """
        pasted = []
        for key in keys:
            if key in ("begin paste", "end paste"):
                self._pasting = key == "begin paste"
            elif self._pasting and key == "enter":
                pasted.append("ctrl j")
            else:
                pasted.append(key)
        keys = pasted
        request = self.session.waiting_request
        if request is None or self.edit.edit_text or self._pasting:
            return keys
        kept = []
        for key in keys:
            if isinstance(key, str) and any(
                c.key and c.key == key.lower() for c in request.choices
            ):
                self._answer(key)
            else:
                kept.append(key)
        return kept

    def _answer(self, typed: str) -> None:
        request = self.session.waiting_request
        problem = self.session.answer_typed(typed)
        if problem is not None:
            self.show(problem)
        elif request is not None:
            self._add(f"{self._label(request)}{typed}", "warning")
        self._refresh()

    def _label(self, request: Any) -> str:
        if request.choices and all(c.key for c in request.choices):
            return f"[{'/'.join(c.key for c in request.choices)}] › "
        return "answer › "

    @property
    def body(self) -> urwid.Widget:
        """The transcript with the side panel, or alone on a narrow terminal."""
        columns, _ = self.screen.get_cols_rows()
        return self.narrow_body if columns < NARROW else self.wide_body

    def _show_dialog(self) -> None:
        """The dialog of the oldest waiting request over the transcript, or none."""
        request = self.session.waiting_request
        if request is None:
            self.frame.body = self.body
            self.edit.set_caption(("user", self.prompt))
            return
        lines: list[Any] = [("warning", f"{request.prompt}\n")]
        lines += [f"{line}\n" for line in request.details[:12]]
        left = request.seconds_left()
        wait = f" · answer within {left:.0f}s" if left is not None else ""
        lines.append(("dim", f"\n{request.hint()}{wait}"))
        self.dialog.set_text(lines)
        title = "approval" if request.kind == "approval" else "question"
        box = urwid.LineBox(urwid.Filler(self.dialog, valign="top"), title=title)
        self.frame.body = urwid.Overlay(
            urwid.AttrMap(box, "header"),
            self.body,
            align="center",
            width=("relative", 80),
            valign="middle",
            height=("relative", 60),
            min_width=20,
            min_height=6,
        )
        self.edit.set_caption(("warning", self._label(request)))

    def _queue(self, line: str) -> None:
        try:
            self._lines_send.send_nowait(line)
        except trio.WouldBlock:
            self._add("too much input queued; this line was dropped", "warning")

    def _walk_history(self, step: int) -> None:
        lines = self.session.history.lines
        if not lines:
            return
        if self._browse is None:
            if step > 0:
                return
            self._draft = self.edit.edit_text
            self._browse = len(lines)
        position = self._browse + step
        if position < 0:
            return
        if position >= len(lines):
            self._browse = None
            self._set_input(self._draft)
            return
        self._browse = position
        self._set_input(lines[position])

    def _set_input(self, text: str) -> None:
        self.edit.set_edit_text(text)
        self.edit.set_edit_pos(len(text))

    def _complete(self) -> None:
        found = self.session.complete(self.edit.edit_text[: self.edit.edit_pos])
        if len(found) == 1:
            self._set_input(found[0] + " ")
        elif found:
            self._add("  ".join(found), "dim")

    def _scroll(self, rows: int) -> None:
        if not self.walker:
            return
        _, position = self.walker.get_focus()
        target = max(0, min(len(self.walker) - 1, (position or 0) + rows))
        self.walker.set_focus(target)
        self._following = target == len(self.walker) - 1

    # -- Notes ---------------------------------------------------------------------------------

    def on_note(self, note: Any) -> None:
        """Render one note of the creature's activity."""
        kind = note.kind
        if kind == "text":
            self._stream(note.text)
        elif kind == "end_text":
            self._end_reply()
        elif kind in ("start", "update"):
            activity = self.session.tracker.running.get(note.call_id)
            if activity is not None and activity.subagent:
                self._subagent_calls.add(note.call_id)
        elif kind == "done":
            if self.show_tools:
                self._add(note.text, {"ok": "ok", "error": "error"}.get(note.level, "dim"))
            if note.call_id in self._subagent_calls:
                self._subagent_calls.discard(note.call_id)
                self._recent_subagents.append((note.text, note.level))
                del self._recent_subagents[:-RECENT_SUBAGENTS]
        elif kind == "notice":
            self._add(note.text, {"info": "dim"}.get(note.level, note.level))
        elif kind == "turn_started":
            self._add(note.text, "accent")
        elif kind == "request":
            request = self.session.tracker.requests[note.call_id]
            self._add(f"{'!' if request.kind == 'approval' else '?'} {request.prompt}", "warning")
            self._show_dialog()
        elif kind == "request_closed":
            if note.text in ("timed out", "withdrawn"):
                self._add(f"  ↳ {note.text}: nobody answered", "warning")
            self._show_dialog()
        elif kind == "turn_ended":
            if note.text != "user":
                report = self.session.turn_report(note.result)
                if report is not None:
                    self.show(report)
        self._refresh()

    def _stream(self, chunk: str) -> None:
        """Reply text: each finished Markdown block rendered at once, the open one shown raw.

        The cutting into blocks is the line UI's (:class:`kt_cli.markdown.BlockSplitter`):
        a block is rendered when its end arrives (a blank line, a heading's line end, a closing
        fence), so headings and emphasis appear styled while the reply still streams.
        """
        self._place(self._blocks.feed(chunk))
        self._show_tail()

    def _end_reply(self) -> None:
        """The reply ended: render its last block and drop the raw lines."""
        self._place(self._blocks.flush())
        self._show_tail()
        self._blank = False

    def _place(self, blocks: list[str]) -> None:
        """Put the rendered *blocks* where the raw tail begins (layout only: no colours)."""
        columns, _ = self.screen.get_cols_rows()
        width = max(columns - 2 - (SIDE_PANEL_WIDTH if columns >= NARROW else 0), 20)
        widgets: list[urwid.Widget] = []
        for block in blocks:
            if not block:
                if not self._blank:
                    widgets.append(urwid.Text(""))
                    self._blank = True
                continue
            widgets += [urwid.Text(line) for line in render(block, width, colors=False).split("\n")]
            self._blank = False
        if not widgets:
            return
        head = self._tail[0] if self._tail else None
        at = self.walker.index(head) if head is not None and head in self.walker else None
        if at is None:
            self.walker.extend(widgets)
        else:
            self.walker[at:at] = widgets
        if self._following:
            self.walker.set_focus(len(self.walker) - 1)

    def _show_tail(self) -> None:
        """Show the block still arriving as it came, one widget per line, below the rendered."""
        lines = self._blocks.tail.split("\n") if self._blocks.tail else []
        if lines and not lines[-1]:
            lines.pop()  # the line about to arrive
        while len(self._tail) > len(lines):
            widget = self._tail.pop()
            if widget in self.walker:
                self.walker.remove(widget)
        for widget, line in zip(self._tail, lines, strict=False):
            widget.set_text(line)
        for line in lines[len(self._tail) :]:
            widget = urwid.Text(line)
            self._tail.append(widget)
            self._append(widget)

    def _add(self, line: str, style: str | None) -> None:
        self._append(urwid.Text((style, line) if style else line))

    def _append(self, widget: urwid.Widget) -> None:
        self.walker.append(widget)
        if self._following:
            self.walker.set_focus(len(self.walker) - 1)

    # -- Status and side panel -------------------------------------------------------------

    async def _tick(self) -> None:
        while True:
            await trio.sleep(SPINNER_INTERVAL)
            if self._active or self.session.tracker.running:
                self._frame_index += 1
                self._refresh()

    def _refresh(self) -> None:
        frames = self.symbols.spinner
        frame = frames[self._frame_index % len(frames)]
        if self._active:
            waiting = self.session.tracker.requests
            phase = (
                "waiting for your answer" if waiting else self.session.tracker.phase or "working"
            )
            repl = self.repl
            elapsed = time.monotonic() - repl.working_since if repl and repl.working else 0.0
            text = f"{frame} {phase}…" + (f" {elapsed:.0f}s" if elapsed >= 1 else "")
            self.status.set_text(("accent", f"{text} · Ctrl+C interrupts"))
        else:
            hint = "Enter sends · /help · Tab completes · Ctrl+D exits · PgUp/PgDn scroll"
            if not self._following:
                hint = "scrolled up: End returns to the bottom · " + hint
            self.status.set_text(("dim", hint))
        if self.session.waiting_request is None and self.frame.body is not self.body:
            self.frame.body = self.body  # the terminal was resized across NARROW
        self.side.set_text(self._panel(frame))
        self.footer.set_text(self.session.footer())

    def _panel(self, frame: str) -> list[Any]:
        agent = self.agent
        width = SIDE_PANEL_WIDTH - 4
        session_name = getattr(agent.session, "name", None) or "not recorded"
        usage = agent.usage
        spent, replied = self.session.tracker.turn_usage  # the running turn's calls so far
        parts: list[Any] = []

        def section(title: str, lines: list[Any]) -> None:
            parts.append(("title", f"{title}\n"))
            for line in lines or [("dim", "none")]:
                if isinstance(line, tuple):
                    parts.append((line[0], _clip(line[1], width) + "\n"))
                else:
                    parts.append(_clip(line, width) + "\n")
            parts.append("\n")

        section("Model", [agent.llm_name])
        section("Session", [session_name])
        section(
            "Usage",
            [
                f"{usage.prompt_tokens + spent} in / {usage.completion_tokens + replied} out",
                f"turns {agent.turn_index} · messages {len(agent.history)}",
                *([f"cost {cost}"] if (cost := self.session.cost_text()) else []),
            ],
        )
        running = self.session.tracker.running.values()
        section(
            "Running",
            [("accent", f"{frame} {a.line(width - 2)}") for a in running if not a.subagent],
        )
        now = time.time()
        section(
            "Jobs",
            [
                f"{job.kind} {job.name} {now - job.started_at:.0f}s"
                for job in self.session.running_jobs()
            ],
        )
        subagents: list[Any] = [
            ("accent", f"{frame} {a.line(width - 2)}") for a in running if a.subagent
        ]
        subagents += [
            ({"ok": "ok", "error": "error"}.get(level, "dim"), text)
            for text, level in reversed(self._recent_subagents)
        ]
        section("Sub-agents", subagents)
        return parts


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"
