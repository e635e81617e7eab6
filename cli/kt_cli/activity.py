"""What a creature is doing, in terms a terminal UI shows: text, tool calls, sub-agents, notices.

Both interactive front ends (the ``cli`` mode here and the ``tui`` mode of ``kt_tui``) turn the
creature's events into the same few things to show, so this module does that once:
:class:`ActivityTracker` reads every event and returns :class:`Note` objects, and keeps the
calls that are still running (:attr:`ActivityTracker.running`) for a live region or side panel.

A tool call is shown twice, compactly: a live line while it runs (:class:`Activity`) and one
committed line when it ends (``✓ word_count {"text": "a b"} 0.01s``). A sub-agent is a tool
call whose line also counts the child's tool calls. Background work shows when it is handed off
and again when it finishes.

A request that waits for the person (a question, a card's buttons, a tool approval) is a
``request`` note; :attr:`ActivityTracker.requests` holds those still open, oldest first, until
their answer (or timeout) arrives as a ``request_closed`` note.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Mapping
from typing import Any

import attrs

from kt.events import (
    AgentWarning,
    CompactionCompleted,
    CompactionSkipped,
    CompactionStarted,
    ErrorOccurred,
    Event,
    LLMCallCompleted,
    SubAgentCompleted,
    SubAgentStarted,
    TextDelta,
    ToolCallCompleted,
    ToolCallStarted,
    TurnCompleted,
    TurnStarted,
)
from kt_cli.requests import Pending, as_pending, closed_request

__all__ = [
    "Activity",
    "ActivityTracker",
    "Note",
    "Symbols",
    "clip",
    "describe_args",
    "describe_result",
]

ARGS_PREVIEW_CHARS = 80
"""Tool arguments longer than this are cut in activity lines."""

ERROR_PREVIEW_CHARS = 160
"""Errors longer than this are cut in activity lines."""


def clip(text: str, limit: int) -> str:
    """*text* on one line (runs of whitespace become one space), cut to *limit* characters.

    Args:
        text: Any text.
        limit: The longest result, ellipsis included (at least 1).

    Returns:
        The clipped text.
    """
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def conversation_tail(history: Any, *, turns: int = 3, width: int = 100) -> list[str]:
    """The end of a conversation, one line per message and tool call, for a resumed run.

    The last *turns* user turns: each input after ``>``, each reply's first line (with how
    many lines were left out), each tool call as ``→ NAME ARGS``, each result as
    ``↳ NAME: FIRST LINE``. Images are ``[image]``.

    Args:
        history: The messages (``agent.history``).
        turns: User turns to show.
        width: The longest line.
    """

    def text_of(message: Any) -> str:
        content = message.content
        if isinstance(content, str):
            return content
        return "".join(p.text if p.type == "text" else "[image]" for p in content)

    def first_line(text: str, room: int) -> str:
        lines = text.strip().splitlines() or [""]
        more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
        return clip(lines[0], max(room - len(more), 10)) + more

    messages = list(history)
    starts = [i for i, m in enumerate(messages) if m.role == "user"]
    shown = messages[starts[-turns] :] if len(starts) >= turns else messages
    lines = []
    for message in shown:
        text = text_of(message)
        if message.role == "user":
            lines.append(f"> {first_line(text, width - 2)}")
        elif message.role == "assistant":
            if text.strip():
                lines.append(first_line(text, width))
            for call in message.tool_calls:
                lines.append(f"  → {call.name} {describe_args(call.args, max(width - 20, 20))}")
        elif message.role == "tool":
            lines.append(f"  ↳ {message.name}: {first_line(text, width - len(message.name) - 6)}")
    return lines


def describe_args(args: Mapping[str, Any] | str, limit: int = ARGS_PREVIEW_CHARS) -> str:
    """Tool-call arguments as one line of compact JSON, cut to *limit* characters.

    Args:
        args: The arguments (a mapping, or the raw string a model sent when it was not JSON).
        limit: The longest result.

    Returns:
        The rendering; ``""`` when there are no arguments.
    """
    if isinstance(args, str):
        return clip(args, limit)
    if not args:
        return ""
    return clip(json.dumps(dict(args), ensure_ascii=False, default=str), limit)


@attrs.frozen
class Symbols:
    """The marks activity lines use; :data:`UNICODE` or :data:`ASCII` for plain terminals."""

    ok: str
    failed: str
    background: str
    subagent: str
    spinner: tuple[str, ...]


UNICODE = Symbols("✓", "✗", "↻", "◆", ("⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"))
ASCII = Symbols("+", "x", "~", "*", ("|", "/", "-", "\\"))


@attrs.define
class Activity:
    """A tool call or sub-agent that is running now.

    Attributes:
        call_id: The tool call's id (a sub-agent's parent call).
        name: The tool or sub-agent name.
        args: Its arguments, rendered (:func:`describe_args`).
        started: ``time.monotonic()`` when it started.
        subagent: Whether it is a sub-agent.
        background: Whether it runs as a background job.
        child_calls: Tool calls the sub-agent made so far.
        detail: What the sub-agent is doing now (its latest tool), or ``""``.
        raw_args: The arguments as the model sent them (for a change's diff preview).
    """

    call_id: str
    name: str
    args: str = ""
    started: float = attrs.Factory(time.monotonic)
    subagent: bool = False
    background: bool = False
    child_calls: int = 0
    detail: str = ""
    raw_args: Mapping[str, Any] = attrs.Factory(dict)

    def elapsed(self) -> float:
        """Seconds since it started."""
        return time.monotonic() - self.started

    def line(self, width: int = 200) -> str:
        """One line for a live region: name, arguments and progress, cut to *width*."""
        parts = [self.name]
        if self.subagent:
            parts.append("(sub-agent)")
        if self.background:
            parts.append("(background)")
        if self.args:
            parts.append(self.args)
        if self.child_calls:
            calls = f"{self.child_calls} call{'s' if self.child_calls != 1 else ''}"
            parts.append(f"· {calls}{', now ' + self.detail if self.detail else ''}")
        parts.append(f"{self.elapsed():.1f}s")
        return clip(" ".join(parts), width)


@attrs.frozen
class Note:
    """One thing to show, from :meth:`ActivityTracker.handle`.

    Attributes:
        kind: ``text`` (assistant text to stream), ``end_text`` (the streamed text ended:
            close its line), ``start`` (an activity started; it is in ``running``),
            ``update`` (a running activity changed), ``done`` (an activity ended: show
            ``text`` as a committed line), ``notice`` (a line of information),
            ``turn_started`` (a turn the user did not start: ``text`` says why),
            ``turn_ended`` (``result`` is the turn's result, ``text`` what started it:
            ``user``, ``tool_complete``, ``trigger`` ...), ``request`` (a request waits for
            the person: it is in ``requests`` under ``call_id``), ``request_closed`` (the
            request ``call_id`` was settled: ``text`` is the answer or ``timed out``).
        text: The text (for ``text``, the chunk as it streamed).
        level: ``info``, ``ok``, ``warning`` or ``error``: how to colour it.
        call_id: The activity a ``start`` / ``update`` / ``done`` note is about.
        result: The ``TurnResult`` of a ``turn_ended`` note.
        detail: Lines shown under a ``done`` line: the change a file tool made, as a diff
            (``+`` added, ``-`` removed, `` `` context lines, ``@@`` hunk headers).
    """

    kind: str
    text: str = ""
    level: str = "info"
    call_id: str = ""
    result: Any = None
    detail: tuple[str, ...] = ()


CHANGE_TOOLS = frozenset({"edit", "write", "multi_edit"})
"""File tools whose finished line shows the change they made."""

PREVIEW_LINES = 12
"""Lines of a change's diff shown under its line; the rest is counted."""

FINISHED_KEPT = 20
"""Finished calls whose whole output is kept for expanding (Ctrl+O, ``/expand``)."""


def change_diff(name: str, args: Mapping[str, Any]) -> list[str]:
    """The change a file tool call makes, as diff lines (``[]`` when it is not one).

    ``edit`` with ``old``/``new`` is diffed; with ``diff`` its hunks are shown; ``write`` shows
    the written lines as added; ``multi_edit`` diffs each of its edits.
    """
    if name not in CHANGE_TOOLS:
        return []
    if name == "write":
        return [f"+{line}" for line in str(args.get("content", "")).splitlines()]
    pairs: list[tuple[str, str]] = []
    if name == "edit":
        old = args.get("old", args.get("old_text"))
        if old is None:
            diff = str(args.get("diff") or "")
            return [ln for ln in diff.splitlines() if not ln.startswith(("---", "+++"))]
        pairs.append((str(old), str(args.get("new", args.get("new_text")) or "")))
    else:
        for item in args.get("edits") or ():
            if isinstance(item, Mapping):
                pairs.append((str(item.get("old", "")), str(item.get("new", ""))))
    lines: list[str] = []
    for old, new in pairs:
        diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1)
        lines += [ln for ln in diff if not ln.startswith(("---", "+++"))]
    return lines


def describe_result(status: str, error: str | None, duration: float) -> str:
    """The end of a committed activity line: duration, and status and error for a failure.

    Args:
        status: The call's status (``ok``, ``error``, ``timeout`` ...).
        error: Its error text, if any.
        duration: Seconds it ran.

    Returns:
        A fragment such as ``"0.01s"`` or ``"error after 2.0s: Boom"``.
    """
    if status == "ok" and not error:
        return f"{duration:.2f}s"
    text = f"{status} after {duration:.1f}s"
    if error:
        text += f": {clip(error, ERROR_PREVIEW_CHARS)}"
    return text


class ActivityTracker:
    """Turns a creature's events into :class:`Note` objects and tracks running calls.

    Feed it every event (an ``agent.subscribe()`` channel) with :meth:`handle`. It keeps no
    reference to the agent.

    Args:
        symbols: The marks committed lines use (:data:`UNICODE` by default).

    Attributes:
        running: Activities running now, by call id, in start order.
        requests: Requests waiting for the person, by id, oldest first.
        finished: ``(line, output)`` of the latest finished calls, oldest first (at most
            :data:`FINISHED_KEPT`), for expanding their output.
        context_tokens: Tokens the latest model call used (prompt and reply): the context.
        turn_usage: ``(prompt, completion)`` tokens of the running turn's model calls so far
            (the agent's own usage counts a turn when it ends).
        phase: What the creature is doing, for a spinner: ``""`` (idle), ``thinking``,
            ``running tools``, ``compacting``.
        cost: ``(session, turn, complete)`` in US dollars from the latest ``cost_updated``
            event (``kt_llm`` prices every model call), or ``None`` before the first one;
            *complete* is false when a call had no known prices.
    """

    def __init__(self, symbols: Symbols = UNICODE) -> None:
        self.symbols = symbols
        self.running: dict[str, Activity] = {}
        self.requests: dict[str, Pending] = {}
        self.finished: list[tuple[str, str]] = []
        self.context_tokens = 0
        self.turn_usage = (0, 0)
        self.phase = ""
        self.cost: tuple[float, float, bool] | None = None
        self._text_open = False
        self._turn_source = "user"
        self._in_turn = False
        self._handed_off: dict[str, str] = {}  # background calls' arguments, by call id

    def handle(self, event: Event) -> list[Note]:
        """The notes *event* gives rise to (often none), in the order to show them.

        Args:
            event: Any event of the creature.

        Returns:
            The notes.
        """
        if isinstance(event, TextDelta):
            if not event.text:
                return []
            self._text_open = True
            return [Note("text", event.text)]
        notes = self._end_text() if self._text_open and _ends_text(event) else []
        pending = as_pending(event)
        if pending is not None:
            self.requests[pending.request_id] = pending
            ended = self._end_text() if self._text_open else []
            return [*ended, Note("request", pending.prompt, call_id=pending.request_id)]
        closed = closed_request(event)
        if closed is not None:
            if self.requests.pop(closed[0], None) is None:
                return notes
            return [*notes, Note("request_closed", closed[1], call_id=closed[0])]
        if isinstance(event, TurnStarted):
            self.phase = "thinking"
            self._in_turn = True
            self._turn_source = event.source
            if event.source != "user":
                notes.append(Note("turn_started", self._turn_reason(event)))
        elif isinstance(event, ToolCallStarted):
            self.phase = "running tools"
            self.running[event.call_id] = Activity(
                event.call_id,
                event.name,
                describe_args(event.args),
                background=event.background,
                raw_args=event.args if isinstance(event.args, Mapping) else {},
            )
            notes.append(Note("start", call_id=event.call_id))
        elif isinstance(event, ToolCallCompleted):
            notes += self._tool_completed(event)
        elif isinstance(event, LLMCallCompleted):
            usage = event.usage
            if usage.prompt_tokens or usage.completion_tokens:  # some report no total
                self.context_tokens = usage.prompt_tokens + usage.completion_tokens
                spent, replied = self.turn_usage
                self.turn_usage = (spent + usage.prompt_tokens, replied + usage.completion_tokens)
            self.phase = "running tools" if self.running else "thinking"
        elif isinstance(event, SubAgentStarted):
            notes += self._subagent_started(event)
        elif isinstance(event, SubAgentCompleted):
            notes += self._subagent_completed(event)
        elif event.type == "subagent_event":
            notes += self._subagent_progress(event)
        elif event.type == "cost_updated":  # kt_llm's event, read by its fields: no import
            self.cost = (
                float(getattr(event, "session_cost", 0.0) or 0.0),
                float(getattr(event, "turn_cost", 0.0) or 0.0),
                bool(getattr(event, "complete", True)),
            )
        elif isinstance(event, CompactionStarted):
            self.phase = "compacting"
        elif isinstance(event, CompactionCompleted):
            self._compaction_ended()
            notes.append(
                Note(
                    "notice",
                    f"{self.symbols.ok} compacted {event.messages_compacted} messages "
                    "into a summary",
                    "ok",
                )
            )
        elif isinstance(event, CompactionSkipped):
            self._compaction_ended()
            notes.append(Note("notice", f"compaction skipped: {event.reason}", "warning"))
        elif isinstance(event, AgentWarning):
            notes.append(Note("notice", f"warning: {event.message}", "warning"))
        elif isinstance(event, ErrorOccurred):
            notes.append(Note("notice", f"warning: {event.message}", "warning"))
        elif isinstance(event, TurnCompleted):
            self.turn_usage = (0, 0)
            self.phase = ""
            self._in_turn = False
            notes.append(Note("turn_ended", self._turn_source, result=event.result))
        return notes

    def _compaction_ended(self) -> None:
        if self.phase == "compacting":
            self.phase = ("running tools" if self.running else "thinking") if self._in_turn else ""

    def _end_text(self) -> list[Note]:
        self._text_open = False
        return [Note("end_text")]

    def _turn_reason(self, event: TurnStarted) -> str:
        text = event.input if isinstance(event.input, str) else "(multimodal input)"
        first = clip(text.splitlines()[0] if text.strip() else "", 100)
        if event.source == "tool_complete":
            return f"{self.symbols.background} background work finished: {first}"
        return f"{self.symbols.background} {event.source}: {first}"

    def _tool_completed(self, event: ToolCallCompleted) -> list[Note]:
        activity = self.running.pop(event.call_id, None)
        if not self.running and self.phase == "running tools":
            self.phase = "thinking"
        if activity is not None:
            args = activity.args
        else:
            args = self._handed_off.pop(event.call_id, "")
        label = f"{event.name}{' ' + args if args else ''}"
        metadata = event.metadata or {}
        s = self.symbols
        if event.status == "running":  # a background call handed off; its result comes later
            self._handed_off[event.call_id] = args
            return [
                Note(
                    "done",
                    f"{s.background} {label} · running in the background",
                    "info",
                    event.call_id,
                )
            ]
        if metadata.get("background") and metadata.get("job_id"):  # a background sub-agent
            return [
                Note(
                    "done",
                    f"{s.background} {label} · sub-agent working in the background "
                    f"as job {metadata['job_id']}",
                    "info",
                    event.call_id,
                )
            ]
        ok = event.status == "ok" and not event.error
        mark = s.ok if ok else s.failed
        where = " (background)" if event.background else ""
        calls = ""
        if activity is not None and activity.child_calls:
            calls = f" · {activity.child_calls} call{'s' if activity.child_calls != 1 else ''}"
        duration = event.duration
        if activity is not None and not ok:  # an interrupted call may report no duration
            duration = max(duration, activity.elapsed())
        result = describe_result(event.status, event.error, duration)
        if not ok and event.output.strip():
            result += f" · output so far: {clip(event.output.strip().splitlines()[-1], 80)}"
        line = f"{mark} {label}{where}{calls} {result}"
        self.finished.append((line, event.output or event.error or ""))
        del self.finished[:-FINISHED_KEPT]
        detail = change_diff(event.name, activity.raw_args) if ok and activity else []
        if len(detail) > PREVIEW_LINES:
            more = len(detail) - PREVIEW_LINES
            detail = [*detail[:PREVIEW_LINES], f"… {more} more line{'s' if more != 1 else ''}"]
        return [Note("done", line, "ok" if ok else "error", event.call_id, detail=tuple(detail))]

    def _subagent_started(self, event: SubAgentStarted) -> list[Note]:
        activity = self.running.get(event.call_id)
        if activity is None:  # a background run: its tool call has ended already
            activity = Activity(
                event.call_id, event.name, clip(event.task, 60), subagent=True, background=True
            )
            self.running[event.call_id] = activity
            return [Note("start", call_id=event.call_id)]
        activity.subagent = True
        return [Note("update", call_id=event.call_id)]

    def _subagent_completed(self, event: SubAgentCompleted) -> list[Note]:
        activity = self.running.get(event.call_id)
        if activity is None or not activity.background:
            return []  # a foreground run ends with its tool call
        del self.running[event.call_id]
        ok = event.status == "completed"
        calls = (
            f" · {activity.child_calls} call{'s' if activity.child_calls != 1 else ''}"
            if activity.child_calls
            else ""
        )
        mark = self.symbols.ok if ok else self.symbols.failed
        status = f"{activity.elapsed():.1f}s" if ok else f"{event.status}"
        if event.error:
            status += f": {clip(event.error, ERROR_PREVIEW_CHARS)}"
        return [
            Note(
                "done",
                f"{mark} {event.name} (sub-agent, background){calls} {status}",
                "ok" if ok else "error",
                event.call_id,
            )
        ]

    def _subagent_progress(self, event: Event) -> list[Note]:
        activity = self.running.get(getattr(event, "call_id", ""))
        wire = getattr(event, "event", None) or {}
        if activity is None or wire.get("type") != "tool_call_started":
            return []
        activity.subagent = True
        activity.child_calls += 1
        activity.detail = str(wire.get("name", ""))
        return [Note("update", call_id=activity.call_id)]


def _ends_text(event: Event) -> bool:
    """Whether *event* ends the assistant text streamed so far (its line should be closed)."""
    return isinstance(
        event,
        ToolCallStarted | LLMCallCompleted | TurnCompleted | TurnStarted | SubAgentStarted,
    ) or isinstance(event, AgentWarning | ErrorOccurred | CompactionStarted)
