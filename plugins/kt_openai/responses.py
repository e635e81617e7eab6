"""The Responses API wire format (a profile with ``api = "responses"``).

The stream is typed events (``event: response.output_text.delta`` ...). Text arrives as
``response.output_text.delta``; a function call is complete at ``response.output_item.done``;
usage comes with ``response.completed``. The system prompt goes in ``instructions``.

``store`` is off, so the provider keeps nothing between requests, and a reasoning item can
only be sent back with its ``encrypted_content``: an item that has just an id points at
nothing, and OpenAI rejects the whole request ("Items are not persisted when `store` is set
to false"). So the encrypted content is asked for (``include``) whenever a reasoning model is
called or a reasoning effort is set, and a kept reasoning item without it is left out of the
next request rather than sent as a dangling reference.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from kt import LLMDone, LLMRequest, Message, TextChunk, ToolCall, Usage
from kt.errors import LLMConnectionError, LLMResponseError
from kt_llm.http import (
    LLMChunk,
    SSEEvent,
    deep_merge,
    drain,
    error_from_payload,
    parse_arguments,
)
from kt_openai.chat import tool_arguments
from kt_openai.reasoning import effort_for, is_reasoning_model

PASSTHROUGH = ("temperature", "top_p", "service_tier", "parallel_tool_calls", "prompt_cache_key")


def _content(message: Message, *, role: str) -> str | list[dict[str, Any]]:
    if isinstance(message.content, str):
        return message.content
    text_type = "output_text" if role == "assistant" else "input_text"
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if part.type == "image_url":
            parts.append({"type": "input_image", "image_url": part.image_url, "detail": "auto"})
        else:
            parts.append({"type": text_type, "text": part.text})
    return parts


def wire_input(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
    """``(instructions, input items)`` for kt messages."""
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            instructions.append(message.content if isinstance(message.content, str) else "")
        elif message.role == "tool":  # images ride in the output itself, as input_image items
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.tool_call_id or "",
                    "output": _content(message, role="tool"),
                }
            )
        elif message.role == "assistant":
            items.extend(message.meta.get("responses_reasoning") or ())
            if message.content:
                items.append({"role": "assistant", "content": _content(message, role="assistant")})
            for call in message.tool_calls:
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.id,
                        "name": call.name,
                        "arguments": tool_arguments(call),
                    }
                )
        else:
            items.append({"role": "user", "content": _content(message, role="user")})
    return "\n\n".join(i for i in instructions if i), items


def request_body(request: LLMRequest, *, model: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of one streamed Responses call."""
    instructions, items = wire_input(request.messages)
    body: dict[str, Any] = {"model": model, "input": items, "stream": True, "store": False}
    if instructions:
        body["instructions"] = instructions
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": tool.name,
                "description": tool.description,
                "parameters": dict(tool.parameters),
                "strict": False,
            }
            for tool in request.tools
        ]
    for key in PASSTHROUGH:
        if options.get(key) is not None:
            body[key] = options[key]
    if options.get("max_tokens") is not None:
        body["max_output_tokens"] = options["max_tokens"]
    effort = options.get("reasoning_effort")
    if effort is not None:
        effort = effort_for(model, str(effort))
        if effort is not None:
            body["reasoning"] = {"effort": effort}
    if effort is not None or is_reasoning_model(model):
        body["include"] = ["reasoning.encrypted_content"]
    if options.get("extra_body"):
        body = deep_merge(body, options["extra_body"])
    if not body.get("store"):
        body["input"] = [item for item in body["input"] if _resolvable(item)]
    return body


def _resolvable(item: Mapping[str, Any]) -> bool:
    """Whether an input item stands on its own without server-side storage."""
    return item.get("type") != "reasoning" or bool(item.get("encrypted_content"))


def usage_of(data: Mapping[str, Any]) -> Usage:
    """Usage from a Responses ``usage`` object."""
    prompt = int(data.get("input_tokens") or 0)
    completion = int(data.get("output_tokens") or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(data.get("total_tokens") or prompt + completion),
        cached_tokens=int((data.get("input_tokens_details") or {}).get("cached_tokens") or 0),
        reasoning_tokens=int(
            (data.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
        ),
    )


async def _parse(
    events: AsyncIterator[SSEEvent], *, provider: str, secrets: tuple[str, ...]
) -> AsyncIterator[LLMChunk]:
    """Turn the events of a Responses stream into kt chunks.

    Raises:
        LLMError: an ``error`` or ``response.failed`` event (typed by its code).
        LLMConnectionError: the stream ended before ``response.completed``.
    """
    calls = 0
    reasoning: list[dict[str, Any]] = []
    async for event in events:
        try:
            data = json.loads(event.data)
        except ValueError:
            raise LLMResponseError(
                f"{provider}: the stream sent an event that is not JSON: {event.data[:80]!r}"
            ) from None
        kind = data.get("type") or event.event
        if kind == "response.output_text.delta":
            if data.get("delta"):
                yield TextChunk(data["delta"])
        elif kind == "response.refusal.delta":
            if data.get("delta"):
                yield TextChunk(data["delta"])
        elif kind == "response.output_item.done":
            item = data.get("item") or {}
            if item.get("type") == "function_call":
                calls += 1
                yield ToolCall(
                    item.get("name") or "",
                    parse_arguments(item.get("arguments") or ""),
                    item.get("call_id") or item.get("id") or "",
                )
            elif item.get("type") == "reasoning":
                reasoning.append(item)
        elif kind in ("response.completed", "response.incomplete"):
            response = data.get("response") or {}
            usage = usage_of(response.get("usage") or {})
            if kind == "response.incomplete":
                finish = (response.get("incomplete_details") or {}).get("reason") or "length"
                finish = "length" if finish == "max_output_tokens" else finish
            else:
                finish = "tool_calls" if calls else "stop"
            meta = {"responses_reasoning": reasoning} if reasoning else {}
            yield LLMDone(usage=usage, finish_reason=finish, meta=meta)
            await drain(events)  # so the connection is reused by the next call
            return
        elif kind == "response.failed":
            error = (data.get("response") or {}).get("error") or {}
            raise error_from_payload(
                {"error": {"type": error.get("code"), "message": error.get("message")}},
                provider=provider,
                secrets=secrets,
            )
        elif kind == "error":
            raise error_from_payload(
                {"error": {"type": data.get("code"), "message": data.get("message")}},
                provider=provider,
                secrets=secrets,
            )
    raise LLMConnectionError(
        f"{provider}: the stream ended before response.completed; the connection may have been cut"
    )


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
