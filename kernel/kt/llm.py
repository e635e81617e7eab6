"""The model-backend protocol and the value objects that cross it.

A backend turns one :class:`LLMRequest` into one stream of :class:`LLMChunk` values. Everything
about a call comes back from that call: the stream's last chunk is an :class:`LLMDone` carrying
usage and the finish reason, and complete native tool calls arrive as :class:`ToolCall` chunks.
There is no ``last_usage`` / ``last_tool_calls`` state on the backend, so one backend object can
serve a creature, its sub-agents and its compaction at the same time.

History, tool dispatch, hook chaining and usage totals live in the kernel.
"""

from __future__ import annotations

import base64
import enum
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from kt.errors import KTError

__all__ = [
    "LLM",
    "USE_CONFIG",
    "ContentPart",
    "ImageError",
    "LLMBackendSpec",
    "LLMChunk",
    "LLMDone",
    "LLMProfile",
    "LLMRequest",
    "LLMResult",
    "Message",
    "Role",
    "TextChunk",
    "ToolCall",
    "ToolSchema",
    "Usage",
    "content_text",
    "image_type",
    "message_text",
]

Role = Literal["system", "user", "assistant", "tool"]


class _Default(enum.Enum):
    TOKEN = enum.auto()

    def __repr__(self) -> str:
        return "USE_CONFIG"


USE_CONFIG = _Default.TOKEN
"""Sentinel for "not given: take the creature config". ``None`` still means "no limit"."""


class ImageError(KTError, ValueError):
    """Bytes or a file given as an image are not one, or cannot be read."""


def image_type(data: bytes) -> str | None:
    """The media type of PNG, JPEG, GIF or WebP *data*, read from its first bytes, else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    heads = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
    return next((kind for head, kind in heads.items() if data.startswith(head)), None)


@attrs.frozen
class ContentPart:
    """One part of a multimodal user message or tool result.

    Attributes:
        type: ``"text"`` or ``"image_url"``.
        text: The text, for text parts.
        image_url: A ``data:`` URL (media type and base64 bytes) or an ``https:`` URL, for
            image parts. Each backend sends it in its provider's own shape.
    """

    type: Literal["text", "image_url"]
    text: str = ""
    image_url: str = ""

    @classmethod
    def image(cls, source: bytes | str | os.PathLike[str], *, media_type: str = "") -> ContentPart:
        """An image part from raw bytes, an image file, or an ``https:`` / ``data:`` URL.

        Bytes and files are sent inline; their media type is read from the bytes (PNG, JPEG,
        GIF, WebP) unless *media_type* names it. A URL is passed on as it is: the provider
        fetches it (Gemini fetches none but its own file URIs; give it bytes).

        Raises:
            ImageError: the file cannot be read, or the bytes are no PNG, JPEG, GIF or WebP
                image and *media_type* was not given.
        """
        if isinstance(source, str) and source.startswith(("https://", "http://", "data:")):
            return cls("image_url", image_url=source)
        if not isinstance(source, bytes):
            try:
                source = Path(source).read_bytes()
            except OSError as exc:
                raise ImageError(f"cannot read image {source}: {exc.strerror}") from None
        kind = media_type or image_type(source)
        if not kind:
            raise ImageError("not a PNG, JPEG, GIF or WebP image; for others, pass media_type=")
        return cls("image_url", image_url=f"data:{kind};base64,{base64.b64encode(source).decode()}")


@attrs.frozen
class ToolCall:
    """A tool call: what the model asked for, and what hooks and records see.

    ``args`` is a dict once parsed. A backend that received arguments it could not parse as
    JSON passes the raw text as a ``str``; the kernel then answers the model with an
    "invalid JSON" error without calling the tool. ``ScriptedLLM`` entries use the same class,
    so a test can script ``ToolCall("echo", "{not json")``.

    Attributes:
        name: The tool (or sub-agent) name.
        args: Parsed arguments, or the raw argument text when it was not valid JSON.
        id: The provider's call id; the kernel assigns one when empty.
    """

    name: str
    args: Mapping[str, Any] | str = attrs.field(factory=dict)
    id: str = ""


@attrs.frozen
class Usage:
    """Token counts of one call or summed over several (``a + b``).

    ``prompt_tokens`` counts the whole prompt, cached parts included; ``cached_tokens`` is the
    part read from the provider's prompt cache and ``cache_write_tokens`` the part written to
    it (providers that bill cache writes, such as Anthropic, report them).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(  # field by field: called several times per turn
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            self.cached_tokens + other.cached_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@attrs.frozen
class Message:
    """One conversation message, in a provider-neutral shape close to OpenAI's.

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        content: Text, or a tuple of :class:`ContentPart` for user messages and tool results
            with images.
        tool_calls: For assistant messages: the native tool calls it made, in call order.
        tool_call_id: For tool messages: the call this is the result of.
        name: For tool messages: the tool name.
        meta: Kernel and backend annotations that are not sent as text, e.g.
            ``{"interrupted": True}`` on a partial reply, or provider fields a backend needs
            back on the next request (reasoning content, thinking blocks).
    """

    role: Role
    content: str | tuple[ContentPart, ...] = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    meta: Mapping[str, Any] = attrs.field(factory=dict)


def content_text(content: str | Sequence[ContentPart]) -> str:
    """Text of message or tool-result content, image parts as ``[image]`` (never raw base64)."""
    if isinstance(content, str):
        return content
    return "".join(p.text if p.type == "text" else "[image]" for p in content)


def message_text(message: Message) -> str:
    """Return a message's text, rendering image parts as a placeholder (never raw base64)."""
    return content_text(message.content)


@attrs.frozen
class ToolSchema:
    """What a model is told about one tool: name, description, JSON schema of the arguments."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@attrs.frozen
class LLMRequest:
    """One model call.

    Attributes:
        messages: The whole conversation to send, system prompt first.
        tools: Tool schemas offered for native calling (empty for text formats).
        options: Generation options from the creature config (``temperature``,
            ``max_tokens``, ``reasoning_effort``, ``extra_body``, ...). Backends ignore the ones
            they do not know.
        model: The model name the creature asked for, if any.
    """

    messages: tuple[Message, ...]
    tools: tuple[ToolSchema, ...] = ()
    options: Mapping[str, Any] = attrs.field(factory=dict)
    model: str | None = None

    def with_system_text(self, text: str) -> LLMRequest:
        """A copy whose system prompt ends with *text* (a new system message if it has none).

        For ``kt_pre_llm_call`` plugins that add context to every call without touching the
        creature's history.
        """
        messages = self.messages
        if messages and messages[0].role == "system" and isinstance(messages[0].content, str):
            first = attrs.evolve(messages[0], content=f"{messages[0].content}\n\n{text}")
            return attrs.evolve(self, messages=(first, *messages[1:]))
        return attrs.evolve(self, messages=(Message("system", text), *messages))


@attrs.frozen
class TextChunk:
    """A piece of assistant text, yielded as soon as the backend has it."""

    text: str


@attrs.frozen
class LLMDone:
    """The last chunk of every stream.

    Attributes:
        usage: Token usage of the call (zeros when the provider reports none).
        finish_reason: The provider's reason (``stop``, ``tool_calls``, ``length``, ...).
        meta: Provider fields to keep on the assistant message (see ``Message.meta``).
    """

    usage: Usage = Usage()
    finish_reason: str = "stop"
    meta: Mapping[str, Any] = attrs.field(factory=dict)


LLMChunk = TextChunk | ToolCall | LLMDone


@attrs.frozen
class LLMResult:
    """What one model call produced, assembled by the kernel from the stream.

    Attributes:
        text: All assistant text of the call (tool-call markup included for text formats).
        tool_calls: The calls, in the order the model made them.
        usage: Token usage.
        finish_reason: The provider's finish reason.
        iteration: 1-based index of this call within its turn.
    """

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    finish_reason: str = "stop"
    iteration: int = 1


@runtime_checkable
class LLM(Protocol):
    """What the kernel needs from a model backend, and nothing more."""

    def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Yield text and tool-call chunks for *request*, ending with one :class:`LLMDone`.

        Cancellation: the kernel closes the iterator (``aclose``) when the turn is interrupted
        or cancelled; a backend must then close its connection at once. Failures are raised
        as :class:`kt.errors.LLMError` subclasses. A backend may retry only before it yielded
        its first chunk.
        """


@attrs.frozen
class LLMProfile:
    """A named way to reach a model: backend, model, endpoint, key source and options.

    ``base_dir`` is the folder of the creature config that chose the profile (``None`` for a
    ``--llm`` flag): backends that take file paths resolve relative ones against it.
    """

    name: str
    backend: str
    model: str = ""
    base_url: str | None = None
    api_key_env: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    options: Mapping[str, Any] = attrs.field(factory=dict)
    base_dir: Path | None = None


@attrs.frozen
class LLMBackendSpec:
    """A backend contributed by a plugin through ``kt_llm_backends``.

    Attributes:
        name: Selector prefix users write (``openai`` in ``--llm openai/gpt-4o``).
        factory: Builds a backend for a profile.
        description: One line for ``kt plugins`` / ``kt model list``.
        key_env_var: The environment variable holding the API key, if the backend needs one.
        profiles: Built-in presets this backend offers.
    """

    name: str
    factory: Callable[[LLMProfile], LLM]
    description: str = ""
    key_env_var: str | None = None
    profiles: Sequence[LLMProfile] = ()
