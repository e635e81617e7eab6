"""The Gemini ``streamGenerateContent`` wire format: kt messages to contents, SSE to kt chunks.

Each SSE event is a whole ``GenerateContentResponse``: the first candidate's ``content.parts``
carry text, ``thought`` text (not shown) and complete ``functionCall`` parts; the last event
has a ``finishReason`` and the final ``usageMetadata``. There is no end marker.

Gemini wants the model's own parts back on the next request, thought signatures included, so
the parts of each reply are kept in the assistant message's ``meta["gemini_parts"]`` and sent
back verbatim. Roles are ``user`` and ``model``; tool results are ``functionResponse`` parts
in a user turn, matched to the call by name (and by id when Gemini gave one).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from kt import LLMDone, LLMRequest, Message, TextChunk, ToolCall, Usage
from kt.errors import LLMBadRequestError, LLMConnectionError, LLMResponseError
from kt.llm import content_text
from kt_gemini.thinking import family_of, thinking_config
from kt_llm.http import LLMChunk, SSEEvent, data_url, deep_merge, error_from_payload

FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    # The model wrote a function call Gemini could not parse, or one it was not offered:
    # not a safety stop, and the model can do better when told.
    "MALFORMED_FUNCTION_CALL": "tool_call_error",
    "UNEXPECTED_TOOL_CALL": "tool_call_error",
    "TOO_MANY_TOOL_CALLS": "tool_call_error",
}
"""Gemini's finish reasons in kt's words; any other one (``OTHER``, ``LANGUAGE`` ...) is
``other``."""


def _user_parts(message: Message) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"text": message.content}] if message.content else []
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if part.type == "image_url":
            inline = data_url(part.image_url)
            if inline is not None:
                parts.append({"inlineData": {"mimeType": inline[0], "data": inline[1]}})
            else:
                parts.append({"fileData": {"fileUri": part.image_url}})
        elif part.text:
            parts.append({"text": part.text})
    return parts


def _model_parts(message: Message, provider_ids: set[str]) -> list[dict[str, Any]]:
    kept = message.meta.get("gemini_parts")
    if kept:
        for part in kept:
            call_id = (part.get("functionCall") or {}).get("id")
            if call_id:
                provider_ids.add(call_id)
        return [dict(p) for p in kept]
    parts = _user_parts(message)
    for call in message.tool_calls:
        args = call.args if isinstance(call.args, Mapping) else {"_raw": call.args}
        parts.append({"functionCall": {"name": call.name, "args": dict(args)}})
    return parts


def _function_response(
    message: Message, provider_ids: set[str], *, nested: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A tool result as a ``functionResponse`` part, and the image parts to send after it.

    Gemini 3 and later read inline images inside the function response (its ``parts``).
    Earlier models take none there, so their images follow the round's responses as parts of
    the same user turn; so do image URLs on every model (a response takes inline data only).
    """
    text = content_text(message.content)  # "[image]" marks where each image was
    response: dict[str, Any] = {"name": message.name or "", "response": {"result": text}}
    if message.tool_call_id in provider_ids:
        response["id"] = message.tool_call_id
    media = [p for p in _user_parts(message) if "text" not in p]
    inside = [p for p in media if "inlineData" in p] if nested else []
    if inside:
        response["parts"] = inside
    return {"functionResponse": response}, [p for p in media if p not in inside]


def wire_contents(
    messages: tuple[Message, ...], *, model: str = ""
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system parts, contents)`` for kt messages; consecutive turns of one role merged.

    *model* decides where a tool result's images go (see :func:`_function_response`).
    """
    nested = family_of(model).field == "level"  # Gemini 3 and later
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    provider_ids: set[str] = set()
    after: list[dict[str, Any]] = []  # images of this round's results, after all its responses
    for message in messages:
        if after and message.role != "tool":
            contents[-1]["parts"] += after
            after = []
        if message.role == "system":
            system += _user_parts(message)
            continue
        if message.role == "assistant":
            role, parts = "model", _model_parts(message, provider_ids)
        elif message.role == "tool":
            response, media = _function_response(message, provider_ids, nested=nested)
            role, parts = "user", [response]
            after += media
        else:
            role, parts = "user", _user_parts(message)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"] += parts
        else:
            contents.append({"role": role, "parts": parts})
    if after:
        contents[-1]["parts"] += after
    return system, contents


def request_body(
    request: LLMRequest, options: Mapping[str, Any], *, model: str = ""
) -> dict[str, Any]:
    """The JSON body of one ``streamGenerateContent`` call.

    Options read: ``temperature``, ``top_p``, ``top_k``, ``max_tokens`` (→
    ``maxOutputTokens``), ``stop`` (→ ``stopSequences``), ``seed``, ``reasoning_effort`` and
    ``thinking_budget`` (→ ``thinkingConfig.thinkingLevel`` or ``thinkingBudget``, per model
    family: see :mod:`kt_gemini.thinking`), ``include_thoughts``, ``safety_settings``,
    ``extra_body`` (deep-merged).
    """
    system, contents = wire_contents(request.messages, model=model or request.model or "")
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if request.tools:
        body["tools"] = [
            {
                "functionDeclarations": [
                    {
                        "name": tool.name,
                        "description": tool.description,
                        "parametersJsonSchema": dict(tool.parameters),
                    }
                    for tool in request.tools
                ]
            }
        ]
    config: dict[str, Any] = {}
    for key, wire in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
        ("max_tokens", "maxOutputTokens"),
        ("seed", "seed"),
    ):
        if options.get(key) is not None:
            config[wire] = options[key]
    if options.get("stop"):
        stop = options["stop"]
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    thinking = thinking_config(model or request.model or "", options)
    if options.get("include_thoughts"):
        thinking["includeThoughts"] = True
    if thinking:
        config["thinkingConfig"] = thinking
    if config:
        body["generationConfig"] = config
    if options.get("safety_settings"):
        body["safetySettings"] = list(options["safety_settings"])
    if options.get("extra_body"):
        body = deep_merge(body, options["extra_body"])
    return body


def usage_of(data: Mapping[str, Any]) -> Usage:
    """Kt usage from ``usageMetadata``: completion counts thoughts, as OpenAI's does."""
    prompt = int(data.get("promptTokenCount") or 0)
    thoughts = int(data.get("thoughtsTokenCount") or 0)
    completion = int(data.get("candidatesTokenCount") or 0) + thoughts
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(data.get("totalTokenCount") or prompt + completion),
        cached_tokens=int(data.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


def _keep(parts: list[dict[str, Any]], part: Mapping[str, Any]) -> None:
    """Append *part* to the kept parts, merging plain text into the previous plain text."""
    if set(part) == {"text"} and parts and set(parts[-1]) == {"text"}:
        parts[-1] = {"text": parts[-1]["text"] + part["text"]}
    else:
        parts.append(dict(part))


async def _parse(
    events: AsyncIterator[SSEEvent], *, provider: str, secrets: tuple[str, ...]
) -> AsyncIterator[LLMChunk]:
    kept: list[dict[str, Any]] = []
    usage: Mapping[str, Any] = {}
    finish: str | None = None
    calls = 0
    async for event in events:
        try:
            data = json.loads(event.data)
        except ValueError:
            raise LLMResponseError(
                f"{provider}: the stream sent an event that is not JSON: {event.data[:80]!r}"
            ) from None
        if isinstance(data, list):  # an error array, as some proxies send
            data = data[0] if data else {}
        if "error" in data:
            raise error_from_payload(data, provider=provider, secrets=secrets)
        if data.get("usageMetadata"):
            usage = data["usageMetadata"]
        candidates = data.get("candidates") or []
        if not candidates:
            blocked = (data.get("promptFeedback") or {}).get("blockReason")
            if blocked:
                raise LLMBadRequestError(
                    f"{provider}: the prompt was blocked ({blocked}); rephrase the request"
                )
            continue
        candidate = candidates[0]
        for part in (candidate.get("content") or {}).get("parts") or ():
            if "functionCall" in part:
                call = part["functionCall"]
                calls += 1
                _keep(kept, part)
                yield ToolCall(
                    call.get("name") or "", dict(call.get("args") or {}), call.get("id") or ""
                )
            elif "text" in part:
                if part["text"] or len(part) > 1:
                    _keep(kept, part)
                if part["text"] and not part.get("thought"):
                    yield TextChunk(part["text"])
            else:
                _keep(kept, part)
        if candidate.get("finishReason"):
            finish = candidate["finishReason"]
    if finish is None:
        raise LLMConnectionError(
            f"{provider}: the stream ended before a finish reason; the connection may have been cut"
        )
    reason = FINISH.get(finish, "other")
    if reason == "stop" and calls:
        reason = "tool_calls"
    yield LLMDone(usage=usage_of(usage), finish_reason=reason, meta={"gemini_parts": kept})


async def parse_stream(
    events: AsyncIterator[SSEEvent], *, provider: str, secrets: tuple[str, ...]
) -> AsyncIterator[LLMChunk]:
    """Yield the kt chunks of a Gemini stream; closing this closes *events* too.

    Raises:
        LLMError: an error object in the stream.
        LLMBadRequestError: the prompt was blocked.
        LLMResponseError: an event that is not JSON.
        LLMConnectionError: the stream ended before a finish reason.
    """
    async with aclosing(events):
        async with aclosing(_parse(events, provider=provider, secrets=secrets)) as chunks:
            async for chunk in chunks:
                yield chunk
