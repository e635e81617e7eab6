"""Plain-text rendering of a creature's events: the reply on stdout, tool activity on stderr.

:class:`TextPrinter` is the ``stdout`` output module the ``kt_cli`` plugin contributes, which
``kt run --mode plain`` pairs with the ``plain`` input.

Reply text is streamed as it arrives and flushed per chunk, so a reader at the other end of a
pipe sees it at once. Text of a new model call (after a round of tools) starts on a new line,
and every turn's text ends with a newline, so stdout holds the replies and nothing else. Tool
activity and warnings are separate lines on stderr, where they do not disturb a pipe; so is the
line that marks a turn nobody typed (``kt: turn started by trigger: ...``), whose reply then
streams to stdout like any other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

from kt.events import (
    AgentWarning,
    ErrorOccurred,
    Event,
    TextDelta,
    ToolCallCompleted,
    ToolCallStarted,
    TurnCompleted,
    TurnStarted,
)

__all__ = ["TextPrinter", "describe_args"]

ARGS_PREVIEW_CHARS = 100
"""Tool arguments longer than this are cut in tool activity lines."""

ERROR_PREVIEW_CHARS = 200
"""Tool error messages longer than this are cut in tool activity lines."""


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())  # one line, whatever the tool or model sent
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_args(args: Mapping[str, Any] | str, limit: int = ARGS_PREVIEW_CHARS) -> str:
    """Render tool-call arguments as one line of compact JSON, cut to *limit* characters.

    Args:
        args: The arguments (a mapping, or the raw string a model sent when it was not JSON).
        limit: The longest result, ellipsis included.

    Returns:
        The rendering; ``""`` when there are no arguments.
    """
    if isinstance(args, str):
        text = args
    elif not args:
        return ""
    else:
        text = json.dumps(dict(args), ensure_ascii=False, default=str)
    return _clip(text, limit)


class TextPrinter:
    """Writes a creature's events as plain text; an output module (``async on_event``).

    Args:
        out: Where the assistant's text goes.
        err: Where tool activity and warnings go (``None``: nowhere).
        show_tools: Write one line to *err* when a tool call starts and one when it ends:
            ``[tool] word_count {"text": "a b"}``, then ``[tool] word_count ok 0.01s`` (or
            the status and the error). Warnings are written either way.
        agent: The creature, when the printer is its output module. While the creature's
            input shows its events itself (a terminal UI such as ``cli`` or ``tui``: its
            ``renders_events`` is true), the printer stays silent, so a config written for a
            line reader plus ``stdout`` does not print every reply twice.
    """

    def __init__(
        self,
        out: TextIO,
        err: TextIO | None = None,
        *,
        show_tools: bool = True,
        agent: Any = None,
    ) -> None:
        self.out = out
        self.err = err
        self.show_tools = show_tools
        self.agent = agent
        self._line_open = False  # text was written to `out` and its line is not ended yet
        self._iteration: int | None = None

    async def on_event(self, event: Event) -> None:
        """Render *event* (the output-module interface)."""
        if self.agent is not None and getattr(self.agent.input, "renders_events", False):
            return
        self.handle(event)

    def handle(self, event: Event) -> None:
        """Render *event* now; events this printer does not show are ignored.

        Args:
            event: Any event of the creature.
        """
        if isinstance(event, TextDelta):
            self._text(event)
        elif isinstance(event, ToolCallStarted):
            if self.show_tools:
                self.end_line()
                background = " (background)" if event.background else ""
                args = describe_args(event.args)
                self._note(f"[tool] {event.name}{background}{' ' + args if args else ''}")
        elif isinstance(event, ToolCallCompleted):
            if self.show_tools:
                line = f"[tool] {event.name} {event.status} {event.duration:.2f}s"
                if event.error:
                    line += f": {_clip(event.error, ERROR_PREVIEW_CHARS)}"
                self._note(line)
        elif isinstance(event, TurnStarted) and event.source != "user":
            self.end_line()  # a turn nobody typed: say what started it
            text = event.input if isinstance(event.input, str) else "(multimodal input)"
            first = _clip(text.splitlines()[0] if text.strip() else "", 100)
            self._note(f"kt: turn started by {event.source}: {first}")
        elif isinstance(event, TurnCompleted):
            self.end_line()
            self._iteration = None
        elif isinstance(event, ErrorOccurred | AgentWarning):
            self.end_line()
            self._note(f"kt: warning: {event.message}")

    def end_line(self) -> None:
        """End the current line of reply text, if one is open."""
        if self._line_open:
            self.out.write("\n")
            self.out.flush()
            self._line_open = False

    def _text(self, event: TextDelta) -> None:
        if not event.text:
            return
        if self._iteration is not None and event.iteration != self._iteration:
            self.end_line()  # a new model call after tools: start it on its own line
        self._iteration = event.iteration
        self.out.write(event.text)
        self.out.flush()
        self._line_open = not event.text.endswith("\n")

    def _note(self, line: str) -> None:
        if self.err is not None:
            self.err.write(line + "\n")
            self.err.flush()
