"""Test kit for creatures and plugins: ``ScriptedLLM``, script files and ``EventRecorder``.

``ScriptedLLM`` is a real :class:`kt.LLM`: the kernel runs exactly the code it runs with a
network backend (rounds, tool dispatch, hooks, events), so tests written with it test the
product. It is public so plugin authors test the same way::

    llm = ScriptedLLM([ToolCall("count_words", {"text": "a b c"}), "There are 3 words."])
    async with await kt.Agent.build({"name": "t"}, llm=llm, tools=[count_words]) as agent:
        result = await agent.run("count")
    assert llm.call_count == 2
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from kt.errors import ConfigError, ConfigNotFoundError, LLMError, ScriptExhaustedError
from kt.llm import (
    LLMChunk,
    LLMDone,
    LLMRequest,
    Message,
    TextChunk,
    ToolCall,
    ToolSchema,
    Usage,
    message_text,
)
from kt.plugins.manager import hookimpl

__all__ = [
    "EventRecorder",
    "ScriptEntry",
    "ScriptedCall",
    "ScriptedLLM",
    "ToolCall",
    "load_script",
]


@attrs.frozen(kw_only=True)
class ScriptEntry:
    """One scripted model reply.

    Attributes:
        text: Assistant text, streamed in ``chunk_size`` pieces.
        tool_calls: Native tool calls made after the text. ``args`` may be a dict or a raw
            string (to script malformed JSON).
        usage: Usage to report; ``None`` reports an estimate (characters / 4).
        error: Raise this instead of replying (after ``fail_after_chunks`` chunks).
        fail_after_chunks: Chunks of ``text`` to stream before raising ``error``.
        chunk_size: Characters per text chunk; ``None`` uses the model's default.
        delay: Seconds to wait before each chunk (simulated latency; trio time).
        finish_reason: Reported finish reason; default ``tool_calls`` or ``stop``.
    """

    text: str = ""
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage | None = None
    error: BaseException | None = None
    fail_after_chunks: int = 0
    chunk_size: int | None = None
    delay: float | None = None
    finish_reason: str | None = None


Entry = str | ToolCall | ScriptEntry | BaseException | Callable[[LLMRequest], Any]


@attrs.frozen
class ScriptedCall:
    """One call a ``ScriptedLLM`` received, safe to inspect later.

    Attributes:
        request: The request as sent. It is frozen and kept as it is, not copied (a copy of the
            history per call would make a long scripted test quadratic); only its ``options``
            dict, which callers build per request, is a copy.
    """

    request: LLMRequest

    @property
    def messages(self) -> tuple[Message, ...]:
        """The messages sent."""
        return self.request.messages

    @property
    def tools(self) -> tuple[ToolSchema, ...]:
        """The tool schemas offered."""
        return self.request.tools

    @property
    def last_user_text(self) -> str:
        """Text of the last user message ("" when there is none)."""
        for message in reversed(self.request.messages):
            if message.role == "user":
                return message_text(message)
        return ""


def _to_entry(item: Any) -> ScriptEntry:
    if isinstance(item, ScriptEntry):
        return item
    if isinstance(item, str):
        return ScriptEntry(text=item)
    if isinstance(item, ToolCall):
        return ScriptEntry(tool_calls=[item])
    if isinstance(item, BaseException):
        return ScriptEntry(error=item)
    if isinstance(item, list | tuple) and all(isinstance(c, ToolCall) for c in item):
        return ScriptEntry(tool_calls=list(item))
    raise TypeError(
        f"a script entry must be str, ToolCall, ScriptEntry, an exception or a callable, "
        f"not {type(item).__name__}"
    )


class ScriptedLLM:
    """A model that plays a script, for tests, demos and benchmarks.

    Each call consumes the next entry. An entry is a ``str`` (text reply), a ``ToolCall`` or a
    list of them (native calls), a :class:`ScriptEntry` (text + calls + usage + error +
    chunking), an exception instance (raised), or a callable receiving the ``LLMRequest`` and
    returning any of those (compute a reply from the conversation).

    Args:
        script: The entries, in call order.
        chunk_size: Default characters per streamed text chunk (``None``: one chunk).
        delay: Default seconds before each chunk (trio time, so ``autojump_clock`` skips it).
        exhausted: What a call past the last entry does: ``"repeat"`` the last entry (default)
            or ``"raise"`` :class:`kt.errors.ScriptExhaustedError`.

    Attributes:
        calls: One :class:`ScriptedCall` per call, with the request as it was sent.

    A call costs the same at the thousandth turn as at the first: requests are recorded
    without copying the history, and the usage estimate (characters / 4) counts only the
    messages added since the previous call.
    """

    def __init__(
        self,
        script: Sequence[Entry],
        *,
        chunk_size: int | None = None,
        delay: float = 0.0,
        exhausted: Literal["repeat", "raise"] = "repeat",
    ) -> None:
        if exhausted not in ("repeat", "raise"):
            raise ValueError(f"exhausted must be 'repeat' or 'raise', not {exhausted!r}")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.script = list(script)
        self.chunk_size = chunk_size
        self.delay = delay
        self.exhausted = exhausted
        self.calls: list[ScriptedCall] = []
        self._counted = _PromptCounter()

    @property
    def call_count(self) -> int:
        """How many calls were made."""
        return len(self.calls)

    @property
    def last_call(self) -> ScriptedCall:
        """The most recent call."""
        return self.calls[-1]

    def _next_entry(self, request: LLMRequest) -> ScriptEntry:
        index = len(self.calls) - 1
        if index >= len(self.script):
            if self.exhausted == "raise" or not self.script:
                raise ScriptExhaustedError(
                    f"the script has {len(self.script)} entries and call {index + 1} was made; "
                    "add entries or use exhausted='repeat'"
                )
            index = len(self.script) - 1
        item = self.script[index]
        if callable(item) and not isinstance(item, ToolCall | ScriptEntry | BaseException):
            item = item(request)
        return _to_entry(item)

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Play the next entry as a stream (see the class docs)."""
        import trio

        self.calls.append(ScriptedCall(_as_recorded(request)))
        entry = self._next_entry(request)
        size = entry.chunk_size or self.chunk_size or max(len(entry.text), 1)
        delay = self.delay if entry.delay is None else entry.delay
        chunks = [entry.text[i : i + size] for i in range(0, len(entry.text), size)]
        for n, chunk in enumerate(chunks):
            if entry.error is not None and n >= entry.fail_after_chunks:
                break
            if delay:
                await trio.sleep(delay)
            yield TextChunk(chunk)
        if entry.error is not None:
            raise entry.error
        for i, call in enumerate(entry.tool_calls):
            if delay:
                await trio.sleep(delay)
            yield call if call.id else attrs.evolve(call, id=f"call_{self.call_count}_{i}")
        usage = entry.usage or self._estimate_usage(request, entry)
        reason = entry.finish_reason or ("tool_calls" if entry.tool_calls else "stop")
        yield LLMDone(usage=usage, finish_reason=reason)

    def _estimate_usage(self, request: LLMRequest, entry: ScriptEntry) -> Usage:
        prompt = self._counted.characters(request.messages) // 4 + 1
        completion = len(entry.text) // 4 + len(entry.tool_calls) * 8 + 1
        return Usage(prompt, completion, prompt + completion)


def _as_recorded(request: LLMRequest) -> LLMRequest:
    """*request* as :attr:`ScriptedLLM.calls` keeps it: shared, except its own options dict."""
    if not request.options:
        return request
    return attrs.evolve(request, options=dict(request.options))


class _PromptCounter:
    """Characters of a conversation, counted incrementally from one call to the next.

    Each call usually sends the previous call's messages plus a few new ones: comparing the
    previous tuple with the new one's prefix is one C-level pass (identity is checked first),
    and only the new messages are measured. An edited history is counted again in full.
    """

    def __init__(self) -> None:
        self._messages: tuple[Message, ...] = ()
        self._chars = 0

    def characters(self, messages: tuple[Message, ...]) -> int:
        known = len(self._messages)
        if len(messages) >= known and messages[:known] == self._messages:
            chars = self._chars + _chars(messages[known:])
        else:
            chars = _chars(messages)
        self._messages, self._chars = tuple(messages), chars
        return chars


def _chars(messages: Sequence[Message]) -> int:
    return sum(len(message_text(m)) for m in messages)


# -- Script files (the `scripted` backend: --llm scripted:FILE) ---------------------------------


def load_script(path: str | os.PathLike[str]) -> list[ScriptEntry]:
    """Read a reply script from a TOML or JSON file.

    The file holds a ``replies`` list. Each reply is a string, or a table with ``text``,
    ``tool_calls`` (each ``name`` + ``args``, a table or a raw string), ``usage`` (token counts)
    and ``error`` (a message: the call fails with ``LLMError``)::

        [[replies]]
        text = "Let me count."
        tool_calls = [{ name = "count_words", args = { text = "a b c" } }]

        [[replies]]
        text = "There are 3 words."

    Raises:
        ConfigNotFoundError: when the file does not exist.
        ConfigError: when it is malformed; the message names the reply.
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigNotFoundError(
            "script file not found; pass --llm scripted:PATH with an existing TOML or JSON file",
            file=file,
        )
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix == ".json":
            data = json.loads(text)
        else:
            import tomllib

            data = tomllib.loads(text)
    except Exception as exc:
        raise ConfigError(f"cannot parse the script: {exc}", file=file) from exc
    replies = data.get("replies") if isinstance(data, Mapping) else data
    if not isinstance(replies, list) or not replies:
        raise ConfigError("a script needs a non-empty 'replies' list", file=file)
    return [_entry_from_data(item, f"replies[{i}]", file) for i, item in enumerate(replies)]


def _entry_from_data(item: Any, where: str, file: Path) -> ScriptEntry:
    if isinstance(item, str):
        return ScriptEntry(text=item)
    if not isinstance(item, Mapping):
        raise ConfigError("a reply must be a string or a table", path=where, file=file)
    unknown = set(item) - {"text", "tool_calls", "usage", "error", "chunk_size", "delay"}
    if unknown:
        raise ConfigError(
            f"unknown keys {sorted(unknown)}; a reply takes text, tool_calls, usage, error, "
            "chunk_size, delay",
            path=where,
            file=file,
        )
    calls = []
    for j, call in enumerate(item.get("tool_calls", [])):
        if not isinstance(call, Mapping) or "name" not in call:
            raise ConfigError(
                "a tool call needs a 'name'", path=f"{where}.tool_calls[{j}]", file=file
            )
        calls.append(ToolCall(str(call["name"]), call.get("args", {}), str(call.get("id", ""))))
    usage = item.get("usage")
    return ScriptEntry(
        text=str(item.get("text", "")),
        tool_calls=calls,
        usage=Usage(**usage) if usage else None,
        error=LLMError(str(item["error"])) if "error" in item else None,
        chunk_size=item.get("chunk_size"),
        delay=item.get("delay"),
    )


# -- Recording events ---------------------------------------------------------------------------


class EventRecorder:
    """A plugin that keeps every event of the creatures it is registered for. Never drops data.

    Register it like any plugin: ``kt.Kernel(plugins=[recorder])`` or
    ``Agent.build(..., plugins=[recorder])``.
    """

    kt_plugin_name = "kt.testing.recorder"

    def __init__(self) -> None:
        self.events: list[Any] = []

    @hookimpl
    def kt_event(self, event: Any) -> None:
        """Record *event* (the ``kt_event`` hook)."""
        self.events.append(event)

    def types(self) -> list[str]:
        """Event type names, in order."""
        return [e.type for e in self.events]

    def of_type(self, cls: type) -> list[Any]:
        """Events of class *cls*, in order."""
        return [e for e in self.events if isinstance(e, cls)]

    def text(self) -> str:
        """All streamed assistant text."""
        from kt.events import TextDelta

        return "".join(e.text for e in self.events if isinstance(e, TextDelta))
