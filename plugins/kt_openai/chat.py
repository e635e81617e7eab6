r"""The Chat Completions wire format: kt messages to a request body, SSE chunks to kt chunks.

What the stream looks like (``stream_options.include_usage`` on)::

    data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}], ...}
    data: {"choices":[{"index":0,"delta":{"content":"Hel"}}], ...}
    data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1",
           "type":"function","function":{"name":"f","arguments":""}}]}}], ...}
    data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":
           {"arguments":"{\"a\":"}}]}}], ...}
    data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}], ...}
    data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":5,...}}
    data: [DONE]

Tool calls stream as fragments keyed by ``index``; several calls may interleave. A call is
yielded as soon as it is known to be complete: when the next index starts and its arguments
already form a JSON object, else at the finish reason. Not every server numbers calls as
OpenAI does: some send every call with ``index: 0``, some no index at all (Ollama), each
call whole in one fragment. A fragment that brings a new call id therefore starts a new
call even when its index was used before (:class:`CallSlots`).

Servers that fail mid-stream send an ``error`` object, sometimes inside a chunk that still
has ``choices`` with ``finish_reason: "error"`` (OpenRouter); both raise the typed error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from kt import LLMDone, LLMRequest, Message, TextChunk, ToolCall, Usage
from kt.errors import LLMConnectionError, LLMResponseError
from kt_llm.http import LLMChunk, SSEEvent, ToolCallDeltas, drain, error_from_payload
from kt_openai.reasoning import effort_for

# Options the body carries under the same name.
PASSTHROUGH = (
    "temperature",
    "top_p",
    "stop",
    "seed",
    "service_tier",
    "parallel_tool_calls",
    "prompt_cache_key",
    "user",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "verbosity",
)


def tool_arguments(call: ToolCall) -> str:
    """A call's arguments as the JSON text providers expect (raw text is sent back as it was)."""
    return call.args if isinstance(call.args, str) else json.dumps(call.args, ensure_ascii=False)


def message_content(message: Message) -> str | list[dict[str, Any]]:
    """A message's content: the text, or a list of text and image parts."""
    if isinstance(message.content, str):
        return message.content
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if part.type == "image_url":
            parts.append({"type": "image_url", "image_url": {"url": part.image_url}})
        else:
            parts.append({"type": "text", "text": part.text})
    return parts


def tool_message(message: Message, images: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``tool`` message, text only; the images of the result are added to *images*.

    Chat Completions accepts images in user messages only (a ``tool`` message with an
    ``image_url`` part is refused), so a result's images travel in a user message that follows
    the round's results, each group headed by the call it belongs to.
    """
    content = message_content(message)
    if isinstance(content, list):
        shown = [part for part in content if part["type"] == "image_url"]
        content = "".join(part.get("text", "") for part in content if part["type"] == "text")
        if shown:
            content += f"\n[{len(shown)} image(s) of this result follow in the next message]"
            head = f"Image(s) returned by {message.name or 'a tool'} (call {message.tool_call_id}):"
            images += [{"type": "text", "text": head}, *shown]
    return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": content}


def wire_messages(messages: tuple[Message, ...], *, echo_reasoning: bool) -> list[dict[str, Any]]:
    """Convert kt messages to Chat Completions messages.

    With *echo_reasoning*, an assistant message carries its kept ``reasoning_content`` (and
    ``reasoning_details``) back, and one that made tool calls carries the field even when
    nothing was kept (an empty string): DeepSeek's thinking mode rejects a tool-calling
    assistant message without it ("Missing `reasoning_content` field").

    Images in tool results follow the round's results as one user message (see
    :func:`tool_message`).
    """
    wire: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for message in messages:
        if images and message.role != "tool":  # the round's results are all in
            wire.append({"role": "user", "content": images})
            images = []
        if message.role == "tool":
            wire.append(tool_message(message, images))
            continue
        item: dict[str, Any] = {"role": message.role, "content": message_content(message)}
        if message.role == "assistant":
            if message.tool_calls:
                item["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": tool_arguments(call)},
                    }
                    for call in message.tool_calls
                ]
                if not item["content"]:
                    item["content"] = None
            if echo_reasoning:
                for key in ("reasoning_content", "reasoning_details"):
                    if message.meta.get(key):
                        item[key] = message.meta[key]
                if message.tool_calls:
                    item.setdefault("reasoning_content", "")
        wire.append(item)
    if images:
        wire.append({"role": "user", "content": images})
    return wire


def request_body(
    request: LLMRequest,
    *,
    model: str,
    options: Mapping[str, Any],
    max_tokens_field: str,
    reasoning_path: str,
) -> dict[str, Any]:
    """The JSON body of one streamed Chat Completions call.

    Args:
        request: The kernel's request.
        model: The model id to send.
        options: Generation options, merged (profile, then creature config).
        max_tokens_field: ``max_completion_tokens`` (OpenAI) or ``max_tokens`` (most others).
        reasoning_path: Where ``reasoning_effort`` goes: ``reasoning_effort`` (top level) or
            ``reasoning.effort`` (OpenRouter).
    """
    body: dict[str, Any] = {
        "model": model,
        "messages": wire_messages(
            request.messages, echo_reasoning=bool(options.get("echo_reasoning"))
        ),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": dict(tool.parameters),
                },
            }
            for tool in request.tools
        ]
    for key in PASSTHROUGH:
        if options.get(key) is not None:
            body[key] = options[key]
    if options.get("max_tokens") is not None:
        body[max_tokens_field] = options["max_tokens"]
    effort = options.get("reasoning_effort")
    if effort is not None:
        effort = effort_for(model, str(effort), openrouter=reasoning_path == "reasoning.effort")
    if effort is not None:
        if reasoning_path == "reasoning.effort":
            body["reasoning"] = {"effort": effort}
        else:
            body["reasoning_effort"] = effort
    extra = options.get("extra_body")
    if extra:
        from kt_llm.http import deep_merge

        body = deep_merge(body, extra)
    return body


def usage_of(data: Mapping[str, Any]) -> Usage:
    """Usage from a Chat Completions ``usage`` object (cached and reasoning tokens included)."""
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    prompt = int(data.get("prompt_tokens") or 0)
    completion = int(data.get("completion_tokens") or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(data.get("total_tokens") or prompt + completion),
        cached_tokens=int(prompt_details.get("cached_tokens") or data.get("cached_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )


class CallSlots:
    """Which call a tool-call fragment belongs to, whatever the server did with ``index``.

    Each call gets its own slot (0, 1, 2 ... in order of appearance). A fragment goes to the
    slot of its index, unless it brings an id other than the one that slot's call already
    has: then the server reused the index for a new call, and a new slot starts. A fragment
    without an index goes to the slot of its id, or, with no id either, continues the last
    call.
    """

    __slots__ = ("_by_ref", "_ids", "last")

    def __init__(self) -> None:
        self._by_ref: dict[Any, int] = {}
        self._ids: dict[int, str] = {}
        self.last: int | None = None

    def slot(self, fragment: Mapping[str, Any]) -> tuple[int, int | None]:
        """Which slot *fragment* belongs to.

        Returns:
            ``(slot, replaced)``: the fragment's slot, and the slot its index used to mean when
            a new id took that index over (``None`` otherwise).
        """
        index, call_id = fragment.get("index"), fragment.get("id") or ""
        ref = ("index", index) if index is not None else ("id", call_id) if call_id else None
        if ref is None:
            if self.last is not None:
                return self.last, None
            ref = ("index", 0)
        slot = self._by_ref.get(ref)
        replaced = None
        known = self._ids.get(slot) if slot is not None else None
        if slot is None or (call_id and known and known != call_id):
            replaced = slot
            slot = self._by_ref[ref] = len(self._ids)
            self._ids[slot] = ""
        if call_id:
            self._ids[slot] = call_id
        return slot, replaced


async def _parse(
    events: AsyncIterator[SSEEvent], *, provider: str, secrets: tuple[str, ...]
) -> AsyncIterator[LLMChunk]:
    """Turn the SSE events of a Chat Completions stream into kt chunks.

    Raises:
        LLMError: an error object inside the stream (typed by its kind), also when it comes
            with ``finish_reason: "error"``.
        LLMResponseError: a chunk that is not JSON.
        LLMConnectionError: the stream ended before a finish reason or ``[DONE]``.
    """
    calls = ToolCallDeltas()
    slots = CallSlots()
    emitted: set[int] = set()
    usage = Usage()
    finish_reason: str | None = None
    reasoning: list[str] = []
    reasoning_details: list[Any] = []
    done = False
    async for event in events:
        data = event.data
        if data == "[DONE]":
            done = True
            break
        try:
            chunk = json.loads(data)
        except ValueError:
            raise LLMResponseError(
                f"{provider}: the stream sent a chunk that is not JSON: {data[:80]!r}"
            ) from None
        if isinstance(chunk, list):  # a bare error array from a proxy
            chunk = chunk[0] if chunk else {}
        if chunk.get("error"):
            raise error_from_payload(chunk, provider=provider, secrets=secrets)
        if chunk.get("usage"):
            usage = usage_of(chunk["usage"])
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                yield TextChunk(text)
            refusal = delta.get("refusal")
            if refusal:
                yield TextChunk(refusal)
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(thought, str) and thought:
                reasoning.append(thought)
            if delta.get("reasoning_details"):
                reasoning_details.extend(delta["reasoning_details"])
            for fragment in delta.get("tool_calls") or ():
                previous = slots.last
                slot, replaced = slots.slot(fragment)
                if slot in emitted:
                    continue  # an empty trailing fragment of a call already yielded
                if replaced is not None and replaced not in emitted:
                    finished = calls.finish(replaced)  # its index now names another call
                    emitted.add(replaced)
                    if finished is not None:
                        yield finished
                elif previous is not None and slot != previous and previous not in emitted:
                    ready = calls.finish_if_complete(previous)
                    if ready is not None:
                        emitted.add(previous)
                        yield ready
                slots.last = slot
                function = fragment.get("function") or {}
                arguments = function.get("arguments")
                if isinstance(arguments, Mapping):  # some servers send the object itself
                    arguments = json.dumps(arguments, ensure_ascii=False)
                calls.add(
                    slot,
                    id=fragment.get("id") or "",
                    name=function.get("name") or "",
                    arguments=arguments or "",
                )
            if choice.get("finish_reason"):
                finish_reason = choice["finish_reason"]
                if finish_reason == "error":
                    raise error_from_payload(
                        {
                            "error": {
                                "type": "server_error",
                                "message": "the provider ended the "
                                "answer with finish_reason 'error'",
                            }
                        },
                        provider=provider,
                        secrets=secrets,
                    )
                for call in calls.finish_all():
                    yield call
    if not done and finish_reason is None:
        raise LLMConnectionError(
            f"{provider}: the stream ended before the answer was complete (no finish reason, "
            "no [DONE]); the connection may have been cut"
        )
    for call in calls.finish_all():
        yield call
    meta: dict[str, Any] = {}
    if reasoning:
        meta["reasoning_content"] = "".join(reasoning)
    if reasoning_details:
        meta["reasoning_details"] = reasoning_details
    yield LLMDone(usage=usage, finish_reason=finish_reason or "stop", meta=meta)
    await drain(events)  # so the connection is reused by the next call


async def parse_stream(
    events: AsyncIterator[SSEEvent], *, provider: str, secrets: tuple[str, ...]
) -> AsyncIterator[LLMChunk]:
    """Yield the kt chunks of a stream of SSE *events*; closing this closes *events* too.

    Raises:
        LLMError: see :func:`_parse`.
    """
    async with aclosing(events):
        async with aclosing(_parse(events, provider=provider, secrets=secrets)) as chunks:
            async for chunk in chunks:
                yield chunk
