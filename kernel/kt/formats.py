"""Tool-call formats: how a model asks for tools.

``native`` (built into the kernel) uses the provider's function calling: tool schemas travel
in the request and calls come back as structured :class:`kt.ToolCall` chunks. Text formats
(bracket, xml; plugin ``kt_formats``) are for models without function calling: the system
prompt teaches a markup, and a streaming parser turns the model's text into plain-text pieces
and calls.

A text format's parser must release plain text as soon as it cannot be the start of a call,
holding back only the shortest suffix that might still open one, so a UI never looks frozen.
Markup is never shown to the user; the kernel stores the raw reply (markup included) in history
so the model sees its own calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from kt.llm import ToolCall

if TYPE_CHECKING:
    from kt.tools import ToolSpec

__all__ = ["NATIVE", "StreamParser", "ToolFormat", "ToolFormatSpec"]


class StreamParser(Protocol):
    """Splits one streamed reply into plain text and tool calls."""

    def feed(self, text: str) -> list[str | ToolCall]:
        """Consume the next chunk; return the plain text that is now certain, and complete calls.

        Argument values of text formats are strings; the kernel coerces them using the tool's
        schema (``"false"`` becomes ``False`` for a boolean parameter). Calls have an empty
        ``id``; the kernel assigns one.
        """

    def close(self) -> list[str | ToolCall]:
        """End of stream: return everything still held. An unclosed block is plain text."""


class ToolFormat(Protocol):
    """A way of writing tool calls."""

    name: str
    native: bool

    def prompt_section(self, tools: Sequence[ToolSpec]) -> str:
        """Text for the system prompt that teaches the format and lists *tools* ("" if none)."""

    def new_parser(self, body_args: Mapping[str, str]) -> StreamParser:
        """A parser for one reply; *body_args* maps tool name to the argument a block body fills.

        Tools not in *body_args* put the body in ``content``.
        """


@attrs.frozen
class ToolFormatSpec:
    """A format contributed through ``kt_tool_formats``."""

    name: str
    factory: Callable[[], ToolFormat]
    description: str = ""


class _NativeFormat:
    """Provider function calling: nothing to parse, nothing to teach."""

    name = "native"
    native = True

    def prompt_section(self, tools: Sequence[ToolSpec]) -> str:
        return ""

    def new_parser(self, body_args: Mapping[str, str]) -> StreamParser:
        return _PassThrough()


class _PassThrough:
    def feed(self, text: str) -> list[str | ToolCall]:
        return [text] if text else []

    def close(self) -> list[str | ToolCall]:
        return []


NATIVE: ToolFormat = _NativeFormat()
"""The kernel's built-in native format."""
