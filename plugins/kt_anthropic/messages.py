"""The Messages API wire format: kt messages to a request body, stream events to kt chunks.

Anthropic differs from the OpenAI shape in ways the conversion has to respect:

* the system prompt is a separate ``system`` field, not a message;
* roles strictly alternate, starting with ``user``: tool results are ``tool_result`` blocks in
  a *user* message, and consecutive messages of one role are merged into one;
* an assistant turn that thought must send its ``thinking`` blocks (with their signatures)
  back unchanged on the next request, before its text and ``tool_use`` blocks; they are kept
  in the message's ``meta["anthropic_thinking"]``;
* prompt caching is opt-in per block: ``cache_control`` marks the end of the stable prefix
  (the tools, the system prompt, and the latest message, so the next call reads it all from
  the cache).

The stream is typed events: ``message_start`` (input usage), ``content_block_start`` /
``content_block_delta`` / ``content_block_stop`` per block, ``message_delta`` (stop reason,
output usage), ``message_stop``; ``ping`` keep-alives and ``error`` events may appear anywhere.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from kt import LLMDone, LLMRequest, Message, TextChunk, Usage
from kt.errors import LLMConnectionError, LLMResponseError
from kt_anthropic.thinking import thinking_fields
from kt_llm.http import (
    LLMChunk,
    SSEEvent,
    ToolCallDeltas,
    data_url,
    deep_merge,
    drain,
    error_from_payload,
)

CACHE = {"type": "ephemeral"}
DEFAULT_MAX_TOKENS = 8192
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    # The window filled up while answering: the answer is cut short, as at max_tokens.
    "model_context_window_exceeded": "length",
    # A long server-side turn paused; sending the answer back continues it.
    "pause_turn": "length",
    "refusal": "content_filter",
}
"""Anthropic's stop reasons in kt's words (``stop``, ``tool_calls``, ``length``,
``content_filter``); an unknown one passes through unchanged."""


def _blocks(message: Message) -> list[dict[str, Any]]:
    """A user or assistant message's text and image content as blocks (empty text dropped)."""
    if isinstance(message.content, str):
        return [{"type": "text", "text": message.content}] if message.content else []
    blocks: list[dict[str, Any]] = []
    for part in message.content:
        if part.type == "image_url":
            inline = data_url(part.image_url)
            if inline is not None:
                source = {"type": "base64", "media_type": inline[0], "data": inline[1]}
            else:
                source = {"type": "url", "url": part.image_url}
            blocks.append({"type": "image", "source": source})
        elif part.text:
            blocks.append({"type": "text", "text": part.text})
    return blocks


def wire_messages(
    messages: tuple[Message, ...],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system blocks, messages)`` for kt messages, roles merged so they alternate."""
    system: list[dict[str, Any]] = []
    wire: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            system += _blocks(message)
            continue
        if message.role == "tool":
            role = "user"
            content = message.content if isinstance(message.content, str) else _blocks(message)
            blocks = [
                {
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id or "",
                    "content": content or "(no output)",  # images: image blocks in the result
                }
            ]
        elif message.role == "assistant":
            role = "assistant"
            blocks = [dict(b) for b in message.meta.get("anthropic_thinking") or ()]
            blocks += _blocks(message)
            for call in message.tool_calls:
                args = call.args if isinstance(call.args, Mapping) else {"_raw": call.args}
                blocks.append(
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": dict(args)}
                )
        else:
            role = "user"
            blocks = _blocks(message)
        if not blocks:
            continue
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"] += blocks
        else:
            wire.append({"role": role, "content": blocks})
    if wire and wire[0]["role"] != "user":
        wire.insert(0, {"role": "user", "content": [{"type": "text", "text": "(continued)"}]})
    return system, wire


def _mark_cache(block_list: list[dict[str, Any]]) -> None:
    """Put a cache breakpoint on the last block that may carry one (not a thinking block)."""
    for block in reversed(block_list):
        if block.get("type") not in ("thinking", "redacted_thinking"):
            block["cache_control"] = CACHE
            return


def request_body(
    request: LLMRequest,
    *,
    model: str,
    options: Mapping[str, Any],
    max_output: int | None = None,
) -> dict[str, Any]:
    """The JSON body of one streamed Messages call.

    Options read: ``max_tokens`` (default 8192; the API requires one), ``temperature``,
    ``top_p``, ``top_k``, ``stop`` (→ ``stop_sequences``), ``reasoning_effort`` and
    ``thinking_budget`` (→ ``thinking`` and ``output_config.effort``, per model family: see
    :mod:`kt_anthropic.thinking`), ``prompt_caching`` (default on), ``metadata``,
    ``extra_body`` (deep-merged last). While the model thinks, ``temperature`` and ``top_k``
    are left out (the API allows only their defaults then) and ``max_tokens`` is raised above
    the thinking budget, but never above *max_output* (the model's limit, from the catalog).
    """
    system, messages = wire_messages(request.messages)
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": int(options.get("max_tokens") or DEFAULT_MAX_TOKENS),
        "messages": messages,
        "stream": True,
    }
    if system:
        body["system"] = system
    if request.tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
            for t in request.tools
        ]
    for key in ("temperature", "top_p", "top_k", "metadata"):
        if options.get(key) is not None:
            body[key] = options[key]
    if options.get("stop"):
        stop = options["stop"]
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    body.update(thinking_fields(model, options))
    if "thinking" in body:
        body.pop("temperature", None)  # thinking allows only the default
        body.pop("top_k", None)
        budget = body["thinking"].get("budget_tokens", 0)
        if body["max_tokens"] <= budget:
            body["max_tokens"] = budget + DEFAULT_MAX_TOKENS
        if max_output and body["max_tokens"] > max_output:  # the model's own limit (catalog)
            body["max_tokens"] = max_output
            if budget >= max_output:
                body["thinking"]["budget_tokens"] = max(1024, max_output // 2)
    if options.get("prompt_caching", True):
        if body.get("tools"):
            body["tools"][-1]["cache_control"] = CACHE
        if system:
            _mark_cache(system)
        if messages:
            _mark_cache(messages[-1]["content"])
    if options.get("extra_body"):
        body = deep_merge(body, options["extra_body"])
    return body


def usage_of(data: Mapping[str, Any]) -> Usage:
    """Kt usage from Anthropic's: the prompt counts cache reads and writes too."""
    fresh = int(data.get("input_tokens") or 0)
    read = int(data.get("cache_read_input_tokens") or 0)
    written = int(data.get("cache_creation_input_tokens") or 0)
    output = int(data.get("output_tokens") or 0)
    prompt = fresh + read + written
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=output,
        total_tokens=prompt + output,
        cached_tokens=read,
        cache_write_tokens=written,
    )


async def _parse(
    events: AsyncIterator[SSEEvent], *, provider: str, secrets: tuple[str, ...]
) -> AsyncIterator[LLMChunk]:
    calls = ToolCallDeltas()
    usage: dict[str, Any] = {}
    stop_reason = "end_turn"
    thinking: dict[int, dict[str, Any]] = {}
    async for event in events:
        try:
            data = json.loads(event.data)
        except ValueError:
            raise LLMResponseError(
                f"{provider}: the stream sent an event that is not JSON: {event.data[:80]!r}"
            ) from None
        kind = data.get("type") or event.event
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            index = data.get("index", 0)
            dtype = delta.get("type")
            if dtype == "text_delta":
                if delta.get("text"):
                    yield TextChunk(delta["text"])
            elif dtype == "input_json_delta":
                calls.add(index, arguments=delta.get("partial_json") or "")
            elif dtype == "thinking_delta" and index in thinking:
                thinking[index]["thinking"] += delta.get("thinking") or ""
            elif dtype == "signature_delta" and index in thinking:
                thinking[index]["signature"] = delta.get("signature") or ""
        elif kind == "content_block_start":
            block = data.get("content_block") or {}
            index = data.get("index", 0)
            btype = block.get("type")
            if btype == "text" and block.get("text"):
                yield TextChunk(block["text"])
            elif btype == "tool_use":
                initial = block.get("input")
                calls.add(
                    index,
                    id=block.get("id") or "",
                    name=block.get("name") or "",
                    arguments=json.dumps(initial) if initial else "",
                )
            elif btype == "thinking":
                thinking[index] = {
                    "type": "thinking",
                    "thinking": block.get("thinking") or "",
                    "signature": block.get("signature") or "",
                }
            elif btype == "redacted_thinking":
                thinking[index] = {"type": "redacted_thinking", "data": block.get("data") or ""}
        elif kind == "content_block_stop":
            call = calls.finish(data.get("index", 0))
            if call is not None:
                yield call
        elif kind == "message_start":
            usage.update((data.get("message") or {}).get("usage") or {})
        elif kind == "message_delta":
            usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
            stop_reason = (data.get("delta") or {}).get("stop_reason") or stop_reason
        elif kind == "message_stop":
            for call in calls.finish_all():
                yield call
            meta = (
                {"anthropic_thinking": [thinking[i] for i in sorted(thinking)]} if thinking else {}
            )
            yield LLMDone(
                usage=usage_of(usage),
                finish_reason=STOP_REASONS.get(stop_reason, stop_reason),
                meta=meta,
            )
            await drain(events)  # so the connection is reused by the next call
            return
        elif kind == "error":
            raise error_from_payload(data, provider=provider, secrets=secrets)
    raise LLMConnectionError(
        f"{provider}: the stream ended before message_stop; the connection may have been cut"
    )


async def parse_stream(
    events: AsyncIterator[SSEEvent], *, provider: str, secrets: tuple[str, ...]
) -> AsyncIterator[LLMChunk]:
    """Yield the kt chunks of a Messages stream; closing this closes *events* too.

    A ``tool_use`` block is yielded as a :class:`kt.ToolCall` at its ``content_block_stop``,
    so the kernel starts the tool before the rest of the reply has streamed.

    Raises:
        LLMError: an ``error`` event (``overloaded_error`` is a retryable server error).
        LLMResponseError: an event that is not JSON.
        LLMConnectionError: the stream ended before ``message_stop``.
    """
    async with aclosing(events):
        async with aclosing(_parse(events, provider=provider, secrets=secrets)) as chunks:
            async for chunk in chunks:
                yield chunk
