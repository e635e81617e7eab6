"""Running one tool call: look up, validate, hooks, lock, timeout, normalise, cap, record.

Every failure becomes an error *result* the model sees in the same turn; nothing here raises
out of a turn except cancellation. A call's lifecycle is published as ``ToolCallStarted`` and
``ToolCallCompleted`` events; the controller turns the records into history messages in call
order.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import trio

from kt.errors import (
    PluginBlockError,
    ToolArgumentError,
    ToolNotFoundError,
)
from kt.events import ToolCallCompleted
from kt.history import result_text
from kt.llm import ContentPart, ToolCall, content_text
from kt.results import ToolCallRecord
from kt.tools import ToolContext, ToolResult, ToolSpec, arguments

if TYPE_CHECKING:
    from kt.runtime.context import TurnContext
    from kt.runtime.creature import Creature

__all__ = [
    "Outcome",
    "cap_output",
    "execute_call",
    "normalise_result",
    "recordable_args",
    "result_message_text",
    "valid_text",
    "wants_background",
]

BACKGROUND_ARG = "run_in_background"
MAX_ARGUMENT_DEPTH = 100  # far beyond any real schema, far below Python's recursion limit
_TOO_DEEP = f"<arguments nested more than {MAX_ARGUMENT_DEPTH} levels deep>"
_TOO_DEEP_ERROR = (
    f"arguments are nested more than {MAX_ARGUMENT_DEPTH} levels deep; send a flatter JSON object"
)


@attrs.frozen
class Outcome:
    """A finished (or backgrounded) call: its record and what the model sees (text, or parts)."""

    record: ToolCallRecord
    text: str | tuple[ContentPart, ...]


def cap_output(text: str, max_bytes: int | None) -> tuple[str, dict[str, Any]]:
    """Cut *text* to *max_bytes* UTF-8 bytes without splitting a character; annotate the cut.

    Returns:
        The (possibly cut) text and metadata (``truncated``, ``original_bytes``).
    """
    if not max_bytes:
        return text, {}
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text, {}
    kept = data[:max_bytes].decode("utf-8", errors="ignore")
    note = (
        f"\n[tool output truncated to {max_bytes} of {len(data)} bytes; "
        "ask for a smaller part (offset, limit, a narrower pattern) to see the rest]"
    )
    return kept + note, {"truncated": True, "original_bytes": len(data)}


def normalise_result(value: Any) -> ToolResult:
    """Turn a tool's return value into a ``ToolResult`` (``str``, JSON, ``None``, passthrough)."""
    if isinstance(value, ToolResult):
        return value
    if value is None:
        return ToolResult()
    if isinstance(value, str):
        return ToolResult(output=value)
    try:
        return ToolResult(output=json.dumps(value, ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        return ToolResult(output=str(value))


def result_message_text(record: ToolCallRecord) -> str:
    """The text a model sees for a record (output, or a prefixed error)."""
    return result_text(record.status, record.output, record.error)


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    r"""*text* with each lone surrogate replaced by U+FFFD (a pair becomes its character).

    A backend can decode JSON such as ``"\udbff"`` into a string no UTF-8 stream, file or
    socket accepts; one such reply must not stop the outputs, the session or the next request.
    """
    if _SURROGATE.search(text) is None:  # the common case costs one scan in C
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _valid_strings(value: Any) -> Any:
    """*value* with :func:`valid_text` applied to every string in it (depth already checked)."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, Mapping):
        return {valid_text(str(k)): _valid_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_valid_strings(v) for v in value]
    return value


def _too_deep(value: Any) -> bool:
    """Whether *value* nests lists or dicts deeper than ``MAX_ARGUMENT_DEPTH`` (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > MAX_ARGUMENT_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def recordable_args(args: Mapping[str, Any] | str) -> Mapping[str, Any] | str:
    """*args* made safe to record, validate and send back.

    Lone surrogates in strings become U+FFFD (see :func:`valid_text`); arguments nested too
    deep become a short placeholder that the call then fails on.

    Encoders and validators recurse; arguments nested 100,000 deep would end the turn with a
    ``RecursionError`` instead of giving the model a tool error.
    """
    if isinstance(args, str):
        return valid_text(args)
    if _too_deep(args):
        return _TOO_DEEP
    return _valid_strings(args)


def _parse_args(raw: Mapping[str, Any] | str) -> dict[str, Any]:
    """*raw*, as :func:`recordable_args` returned it, as a dict (a mapping is checked already)."""
    if not isinstance(raw, str):
        return dict(raw)
    if raw == _TOO_DEEP:
        raise ToolArgumentError(_TOO_DEEP_ERROR)
    try:
        parsed = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise ToolArgumentError(
            f"invalid JSON arguments ({exc.msg} at position {exc.pos}); "
            "send the arguments as one JSON object"
        ) from None
    except RecursionError:
        raise ToolArgumentError(_TOO_DEEP_ERROR) from None
    if not isinstance(parsed, dict):
        raise ToolArgumentError(f"arguments must be a JSON object, not {type(parsed).__name__}")
    if _too_deep(parsed):
        raise ToolArgumentError(_TOO_DEEP_ERROR)
    return _valid_strings(parsed)


def wants_background(agent: Creature, call: ToolCall) -> bool:
    """Whether *call* will run in the background (its tool always does, or the model asked)."""
    spec = agent.tools.get(call.name)
    if spec is None:
        return False
    if spec.background:
        return True
    args = call.args
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except (json.JSONDecodeError, RecursionError):
            return False
    return isinstance(args, Mapping) and _as_bool(args.get(BACKGROUND_ARG, False))


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


async def execute_call(
    agent: Creature,
    call: ToolCall,
    ctx: TurnContext,
    *,
    text_format: bool,
    background_ok: bool = True,
) -> Outcome:
    """Run one call to its terminal state (or start it in the background).

    The caller has published ``ToolCallStarted``; this publishes ``ToolCallCompleted``.

    Cancellation (interrupt, timeout of the turn, agent stop) propagates out of this function;
    the controller then records the call as interrupted or cancelled.

    Args:
        agent: The creature.
        call: The call as the model made it (with an id), its arguments passed through
            :func:`recordable_args`.
        ctx: The turn.
        text_format: Argument values are strings to coerce by schema.
        background_ok: Whether ``run_in_background`` may be honoured.

    Returns:
        The outcome; for background calls a ``running`` record and a placeholder text.
    """
    started = time.time()
    t0 = trio.current_time()

    async def finish(status: str, **fields: Any) -> Outcome:
        """Record the call as it stands now (``ToolCallRecord`` *fields*) and publish it."""
        record = ToolCallRecord(
            id=call.id,
            name=call.name,
            args=call.args,
            status=status,  # type: ignore[arg-type]
            started_at=started,
            duration=trio.current_time() - t0,
            **fields,
        )
        await agent.emit(ToolCallCompleted.from_record(record), turn_index=ctx.turn_index)
        return Outcome(record, result_message_text(record))

    spec = agent.tools.get(call.name)
    background = False
    if spec is None:
        available = ", ".join(agent.tools) or "none"
        return await finish(
            "error",
            error=f"unknown tool '{call.name}'; available tools: {available}",
            error_type=ToolNotFoundError.__name__,
        )
    try:
        args = _parse_args(call.args)
        if BACKGROUND_ARG in args and BACKGROUND_ARG not in spec.parameters.get("properties", {}):
            background = _as_bool(args.pop(BACKGROUND_ARG)) and background_ok
        args = arguments.validate_arguments(spec.parameters, args, coerce_strings=text_format)
    except ToolArgumentError as exc:
        return await finish("error", error=str(exc), error_type=ToolArgumentError.__name__)
    call = ToolCall(call.name, args, call.id)  # attrs.evolve costs ~1 µs more
    try:
        call = await agent.runner.chain("kt_pre_tool_call", "call", call, vetoable=True, ctx=ctx)
    except PluginBlockError as exc:
        return await finish("blocked", error=str(exc), error_type="ToolBlockedError")
    spec = agent.tools.get(call.name)
    if spec is None:
        return await finish(
            "error",
            error=f"a plugin renamed the call to unknown tool '{call.name}'",
            error_type=ToolNotFoundError.__name__,
        )
    background = (background or spec.background) and background_ok
    if background:
        job_id = call.id
        agent.start_background_call(spec, call, ctx)
        return await finish(
            "running",
            output=(
                f"Started in the background as job {job_id}. Its result will arrive in a later "
                "message; continue with other work meanwhile."
            ),
            background=True,
        )
    result = await run_tool(agent, spec, call, ctx)
    status = "ok" if result.ok else ("timeout" if result.metadata.get("timeout") else "error")
    outcome = await finish(
        status,
        output=content_text(result.output),  # records and UIs: "[image]", never base64
        error=result.error,
        error_type=result.metadata.get("error_type") if not result.ok else None,
        metadata={k: v for k, v in result.metadata.items() if k != "error_type"},
    )
    if result.ok and not isinstance(result.output, str):  # the model sees the image parts
        return attrs.evolve(outcome, text=tuple(result.output))
    return outcome


async def run_tool(agent: Creature, spec: ToolSpec, call: ToolCall, ctx: TurnContext) -> ToolResult:
    """Run *spec* for a validated *call*: lock, timeout, normalisation, cap, post hooks."""
    controller = agent.config.controller
    timeout = spec.timeout if spec.timeout is not None else controller.tool_timeout
    max_output = spec.max_output if spec.max_output is not None else controller.tool_max_output
    try:  # JSON values into the annotated types: Enum members, tuples, dataclasses ...
        kwargs = arguments.structure_arguments(spec.fn, call.args)
    except ToolArgumentError as exc:
        return ToolResult(error=str(exc), metadata={"error_type": "ToolArgumentError"})
    if spec.context_param:
        kwargs[spec.context_param] = ToolContext(
            creature=agent.name,
            working_dir=agent.working_dir,
            call=call,
            turn_index=ctx.turn_index,
            stash=agent.stash,
            agent=agent,
        )
    result: ToolResult | None = None  # stays None when the timeout cancels the call
    if spec.inline and spec.concurrency_safe:  # no checkpoint to cancel at: no scope (~6 µs)
        result = await _invoke(spec, kwargs)
    else:
        with trio.move_on_after(timeout if timeout else float("inf")):
            if spec.concurrency_safe:
                result = await _invoke(spec, kwargs)
            else:
                async with agent.unsafe_lock:
                    result = await _invoke(spec, kwargs)
    if result is None:
        result = ToolResult(
            error=f"timed out after {timeout:g}s and was cancelled",
            metadata={"timeout": True, "error_type": "ToolTimeoutError"},
        )
    if isinstance(result.output, str):
        text, meta = cap_output(result.output, max_output)
        if meta:
            result = attrs.evolve(result, output=text, metadata={**result.metadata, **meta})
    return await agent.runner.chain("kt_post_tool_call", "result", result, call=call, ctx=ctx)


async def _invoke(spec: ToolSpec, kwargs: dict[str, Any]) -> ToolResult:
    try:
        if spec.is_async:
            value = await spec.fn(**kwargs)
        elif spec.inline:  # declared quick and non-blocking: no worker-thread hand-off
            value = spec.fn(**kwargs)
        else:
            # The thread cannot be interrupted; on cancel we stop waiting for it (documented).
            value = await trio.to_thread.run_sync(
                functools.partial(spec.fn, **kwargs), abandon_on_cancel=True
            )
    except Exception as exc:
        return ToolResult(
            error=f"{type(exc).__name__}: {exc}", metadata={"error_type": "ToolExecutionError"}
        )
    return normalise_result(value)
