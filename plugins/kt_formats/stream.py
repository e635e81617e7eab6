"""The streaming engine both text formats share: plain text, opening markers, blocks.

A reply is plain text with blocks in it. A block is an opening marker (``[/name]``,
``<name key="v">``), a body, and the closing marker for the same name (``[name/]``,
``</name>``). Each format supplies a :class:`BlockSyntax`: the character every opening marker
starts with, a scanner that reads one opening marker a character at a time, the closing marker
for a name, and how a finished block becomes a :class:`kt.ToolCall`. The engine does the
rest, identically for every format, so the robustness rules are written (and tested) once:

* Plain text is released as soon as it cannot be part of an opening marker. Only a suffix that
  the scanner still accepts (a trailing ``[`` or ``[/na``) is held, and it is released the
  moment the scanner rejects it.
* Inside a block only the exact closing marker for its name ends it. Any other marker, opening
  or closing, is body text: blocks do not nest.
* A block still open at the end of the stream is released as text, exactly as received.

Chunk boundaries never change the result, because every decision depends only on characters
already seen: the scanner sees the same characters in the same order however the stream is cut,
and the closing-marker search covers markers that straddle two chunks.
"""

from __future__ import annotations

import enum
import string
from collections.abc import Mapping
from typing import Protocol

import attrs

import kt

DEFAULT_BODY_ARG = "content"
"""The argument a block body fills when the tool names none (``body_args`` has no entry)."""

MAX_NAME_LENGTH = 64
"""Longest tool name a marker may carry; the limit providers put on function names."""

NAME_START = frozenset(string.ascii_letters)
NAME_CHARS = NAME_START | frozenset(string.digits + "_.-")


class Scan(enum.Enum):
    """What a scanner says about the characters of a possible opening marker seen so far."""

    MORE = enum.auto()
    """Still a prefix of an opening marker: keep feeding."""
    REJECT = enum.auto()
    """This character cannot continue an opening marker: what came before it is plain text."""


@attrs.frozen
class OpenMarker:
    """A complete opening marker.

    Attributes:
        name: The tool name it carries.
        args: Arguments written in the marker itself (XML attributes), already decoded.
        self_closing: The marker is a whole block on its own (``<name/>``); no body follows.
    """

    name: str
    args: Mapping[str, str] = attrs.field(factory=dict)
    self_closing: bool = False


class MarkerScanner(Protocol):
    """Reads one opening marker, one character at a time, after its opening character."""

    def step(self, char: str) -> Scan | OpenMarker:
        """Take the next character; return the verdict, or the marker once it is complete.

        A scanner must reject the format's opening character anywhere after the first
        position: the engine relies on that to resume scanning at the rejected character.
        """


class BlockSyntax(Protocol):
    """What one text format contributes to the engine."""

    opener: str

    def new_scanner(self) -> MarkerScanner:
        """A scanner for an opening marker whose first character (``opener``) was just seen."""

    def closing_marker(self, name: str) -> str:
        """The exact text that ends a block opened with *name*."""

    def build_call(self, marker: OpenMarker, body: str, body_arg: str) -> kt.ToolCall:
        """Turn a closed block into a call; *body* is the raw text between the markers."""


def merge_args(explicit: Mapping[str, str], body: str, body_arg: str) -> dict[str, str]:
    """Combine a block's explicit arguments with its (already stripped) body.

    An empty body fills nothing, so a block that only has explicit arguments (``echo`` with
    ``text=ping``) does not gain an empty ``content`` argument the tool never declared.

    Args:
        explicit: Arguments written in the block (``@@key=value`` lines, XML attributes).
        body: The body text, stripped.
        body_arg: The argument the body fills.

    Returns:
        The call's arguments; an explicit argument with the body's key wins over the body.
    """
    args = dict(explicit)
    if body and body_arg not in args:
        args[body_arg] = body
    return args


@attrs.define
class _OpenBlock:
    marker: OpenMarker
    raw_opening: str  # the opening marker exactly as received, for an unclosed block
    closing: str
    body: str = ""


class _Events:
    """Collects one feed's output, merging adjacent text pieces."""

    def __init__(self) -> None:
        self.items: list[str | kt.ToolCall] = []

    def text(self, text: str) -> None:
        if not text:
            return
        if self.items and isinstance(self.items[-1], str):
            self.items[-1] += text
        else:
            self.items.append(text)

    def call(self, call: kt.ToolCall) -> None:
        self.items.append(call)


class BlockStreamParser:
    """A :class:`kt.StreamParser` for one reply in a block-based text format.

    Args:
        syntax: The format's markers and block-to-call rules.
        body_args: Tool name to the argument its block body fills; others use ``content``.
    """

    def __init__(self, syntax: BlockSyntax, body_args: Mapping[str, str]) -> None:
        self._syntax = syntax
        self._body_args = dict(body_args)
        self._scanner: MarkerScanner | None = None
        self._held = ""  # the possible opening marker read so far (while _scanner is set)
        self._block: _OpenBlock | None = None

    def feed(self, text: str) -> list[str | kt.ToolCall]:
        """Consume the next chunk; return the text that is now certain and the closed calls.

        Args:
            text: The next piece of the reply, cut anywhere.

        Returns:
            Plain-text pieces (adjacent ones merged) and calls, in reply order.
        """
        events = _Events()
        pos = 0
        while pos < len(text):
            if self._block is not None:
                pos = self._read_block(text, pos, events)
            elif self._scanner is not None:
                pos = self._read_marker(text, pos, events)
            else:
                pos = self._read_text(text, pos, events)
        return events.items

    def close(self) -> list[str | kt.ToolCall]:
        """End of stream: release what is held as text; an unclosed block is never a call.

        Returns:
            At most one text piece: a held marker prefix, or an unclosed block exactly as it
            was received.
        """
        events = _Events()
        if self._block is not None:
            events.text(self._block.raw_opening + self._block.body)
        elif self._scanner is not None:
            events.text(self._held)
        self._block = None
        self._scanner = None
        self._held = ""
        return events.items

    def _read_text(self, text: str, pos: int, events: _Events) -> int:
        start = text.find(self._syntax.opener, pos)
        if start == -1:
            events.text(text[pos:])
            return len(text)
        events.text(text[pos:start])
        self._scanner = self._syntax.new_scanner()
        self._held = self._syntax.opener
        return start + 1

    def _read_marker(self, text: str, pos: int, events: _Events) -> int:
        assert self._scanner is not None
        for index in range(pos, len(text)):
            verdict = self._scanner.step(text[index])
            if verdict is Scan.MORE:
                continue
            if verdict is Scan.REJECT:
                # Scanners reject the opener after the first position, so no marker starts
                # inside what was held: all of it is text. Resume at the rejected character,
                # which may itself open a marker ("[[/echo]").
                events.text(self._held + text[pos:index])
                self._scanner = None
                self._held = ""
                return index
            raw_opening = self._held + text[pos : index + 1]
            self._scanner = None
            self._held = ""
            self._open(verdict, raw_opening, events)
            return index + 1
        self._held += text[pos:]
        return len(text)

    def _open(self, marker: OpenMarker, raw_opening: str, events: _Events) -> None:
        if marker.self_closing:
            events.call(self._build(marker, ""))
            return
        closing = self._syntax.closing_marker(marker.name)
        self._block = _OpenBlock(marker, raw_opening, closing)

    def _read_block(self, text: str, pos: int, events: _Events) -> int:
        block = self._block
        assert block is not None
        width = len(block.closing)
        # A closing marker may straddle the chunk boundary: look for one that starts in the
        # last width-1 held characters before searching the new text on its own.
        tail = block.body[-(width - 1) :]
        straddle = (tail + text[pos : pos + width - 1]).find(block.closing)
        if straddle != -1:
            body = block.body[: len(block.body) - len(tail) + straddle]
            end = pos + straddle + width - len(tail)
        else:
            found = text.find(block.closing, pos)
            if found == -1:
                block.body += text[pos:]
                return len(text)
            body = block.body + text[pos:found]
            end = found + width
        self._block = None
        events.call(self._build(block.marker, body))
        return end

    def _build(self, marker: OpenMarker, body: str) -> kt.ToolCall:
        body_arg = self._body_args.get(marker.name, DEFAULT_BODY_ARG)
        return self._syntax.build_call(marker, body, body_arg)
