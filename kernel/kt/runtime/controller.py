"""The default reasoning loop: rounds of model call → tool dispatch → feedback.

A *turn* answers one input. It is a loop of *rounds*; a round is one streamed model call plus
the tool calls found in that stream. Tools start the moment their call is complete (while the
model is still streaming) and run concurrently in the round's nursery; their results are fed
back in call order. The loop continues while a round made tool calls, and stops when a round
made none, when ``max_iterations`` model calls were made, or when the turn is interrupted,
times out, is cancelled, or fails.

History invariants hold after every outcome: the assistant message carrying tool calls is
appended before any result; every call gets exactly one result right after it (synthetic
"interrupted" results for calls cut short); an interrupted partial reply is kept and marked
``meta={"interrupted": True}``; a turn that failed before the model answered leaves its user
message, which the next turn's input is merged into rather than stacked after.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from kt.errors import LLMResponseError, TurnTimeoutError
from kt.events import (
    AssistantMessageEdited,
    Interrupted,
    LLMCallCompleted,
    LLMCallStarted,
    TextDelta,
    ToolCallCompleted,
    ToolCallStarted,
    TurnCompleted,
    TurnStarted,
)
from kt.history import MISSING_RESULT, tool_results_message
from kt.llm import ContentPart, LLMDone, LLMResult, Message, TextChunk, ToolCall, Usage
from kt.results import ToolCallRecord, TurnResult
from kt.runtime.context import TurnContext
from kt.runtime.executor import (
    Outcome,
    execute_call,
    recordable_args,
    valid_text,
    wants_background,
)

if TYPE_CHECKING:
    from kt.runtime.creature import Creature

__all__ = ["TurnRequest", "run_turn"]

CLEANUP_DEADLINE = 5.0  # seconds a shielded cleanup may take before giving up


@attrs.define(eq=False)
class TurnRequest:
    """A queued turn: its input and how whoever asked for it wants to hear about it."""

    input: str | tuple[ContentPart, ...]
    source: str = "user"
    timeout: float | None = None
    max_iterations: int | None = None
    deliver: Callable[[Any], None] | None = None  # sends each event to a run_stream reader
    abandon_reader: Callable[[], None] | None = None  # ends that reader's stream unrun
    turn_index: int = 0
    scope: trio.CancelScope | None = None
    cancel_requested: bool = False
    interrupted: bool = False
    terminated: str = ""  # the [termination] reason that ended the turn
    finished: bool = False
    result: TurnResult | None = None
    done: trio.Event = attrs.Factory(trio.Event)  # set when the turn ends, ran or not

    def abandon(self) -> None:
        """The agent stopped before this queued turn started: end its reader's stream."""
        self.finished = True
        self.done.set()
        if self.abandon_reader is not None:
            self.abandon_reader()

    def terminate(self, reason: str) -> None:
        """End the turn with status ``terminated``: a ``[termination]`` limit was reached."""
        self.terminated = reason
        self.cancel()

    def cancel(self, *, interrupt: bool = False) -> None:
        """Cancel the turn (before or while it runs); must run in the agent's trio thread."""
        if self.finished:
            return
        self.interrupted = self.interrupted or interrupt
        self.cancel_requested = True
        if self.scope is not None:
            self.scope.cancel()


@attrs.define(eq=False)
class _Round:
    iteration: int
    raw_text: list[str] = attrs.Factory(list)
    visible_text: list[str] = attrs.Factory(list)
    calls: list[ToolCall] = attrs.Factory(list)
    outcomes: dict[str, Outcome] = attrs.Factory(dict)
    assistant_appended: bool = False
    results_appended: bool = False
    provider_ids: dict[str, str] = attrs.Factory(dict)  # our id -> the repeated id it replaced
    running: int = 0
    all_done: trio.Event | None = None
    unstarted: dict[str, Callable[[], Awaitable[None]]] = attrs.Factory(dict)  # sync calls

    async def start(self, call_id: str) -> None:
        """Run a sync tool's call unless it ran already: its task and the controller both try."""
        run = self.unstarted.pop(call_id, None)
        if run is not None:
            await run()

    async def wait_for_tools(self) -> None:
        """Wait until every call dispatched in this round has an outcome."""
        if self.running == 1 and self.unstarted:
            # A lone sync call not begun yet runs here (its function still runs in a worker
            # thread): two task switches fewer.
            await self.start(next(iter(self.unstarted)))
        if self.running:
            self.all_done = trio.Event()
            await self.all_done.wait()

    def tool_finished(self) -> None:
        self.running -= 1
        if self.running == 0 and self.all_done is not None:
            self.all_done.set()


@attrs.define(eq=False)
class _Turn:
    request: TurnRequest
    ctx: TurnContext
    history_start: int
    started_at: float
    rounds: list[_Round] = attrs.Factory(list)
    nursery: trio.Nursery | None = None  # the turn's tool tasks run here
    usage: Usage = Usage()
    status: str = "completed"
    reason: str = ""
    error: BaseException | None = None
    first_message: Message | None = None  # the turn's input as stored: found again after a splice
    call_ids: set[str] = attrs.Factory(set)  # ids given out this turn: each names one call

    def unique_call_id(self, call: ToolCall) -> str:
        """An id for *call* no other call of this turn has (a model may repeat or omit ids)."""
        wanted = call.id or f"{call.name}_{uuid.uuid4().hex[:8]}"
        chosen, n = wanted, 1
        while chosen in self.call_ids:
            n += 1
            chosen = f"{wanted}_{n}"
        self.call_ids.add(chosen)
        return chosen

    @property
    def records(self) -> list[ToolCallRecord]:
        return [r.outcomes[c.id].record for r in self.rounds for c in r.calls if c.id in r.outcomes]


async def run_turn(agent: Creature, request: TurnRequest) -> TurnResult:
    """Run one turn to its end and publish ``TurnCompleted``; see the module docs.

    If the agent itself is being cancelled (stopped), cleanup still runs shielded and
    ``trio.Cancelled`` propagates.
    """
    agent.turn_index += 1
    ctx = TurnContext(creature=agent, turn_index=agent.turn_index)
    turn = _Turn(request, ctx, history_start=len(agent.history), started_at=time.time())
    request.turn_index = ctx.turn_index
    agent.current_turn = request
    await agent.emit(
        TurnStarted(input=request.input, source=request.source), turn_index=ctx.turn_index
    )
    escaped = True  # stays True when cancellation from outside (agent stop) passes through
    try:
        # One nursery per turn (not per round) holds the tool tasks, and its cancel scope is the
        # turn's (interrupt, timeout): each scope entered costs microseconds on every turn.
        async with trio.open_nursery() as nursery:
            turn.nursery, scope = nursery, nursery.cancel_scope
            request.scope = scope
            if request.cancel_requested:
                scope.cancel()
            if request.timeout is not None:
                scope.deadline = trio.current_time() + request.timeout
            try:
                await agent.runner.notify("kt_turn_started", ctx=ctx)
                await _rounds(agent, turn)
            except Exception as exc:  # LLMError, a plugin veto, a backend bug: turn fails
                turn.status, turn.error = "error", exc
                scope.cancel()  # tools of a failed round must not outlive it
        escaped = False
        if scope.cancelled_caught and turn.error is None:
            if request.terminated:
                turn.status, turn.reason = "terminated", request.terminated
            elif request.interrupted:
                turn.status = "interrupted"
            elif request.cancel_requested:
                turn.status = "cancelled"
            else:
                turn.status = "timeout"
                turn.error = TurnTimeoutError(f"turn ran past its timeout of {request.timeout:g}s")
    finally:
        if escaped:
            turn.status = "cancelled"
        with _cleanup_scope(agent):
            result = await _finish(agent, turn)
        request.finished = True
        request.result = result
        request.done.set()
        agent.current_turn = None
    return result


def _cleanup_scope(agent: Creature) -> contextlib.AbstractContextManager[object]:
    """Shield the cleanup: needless (~10 µs a turn) if no hook or output can make it checkpoint."""
    runner = agent.runner
    if agent.outputs or runner.has("kt_event") or runner.has("kt_turn_ended"):
        return trio.move_on_after(CLEANUP_DEADLINE, shield=True)
    return contextlib.nullcontext()


async def _rounds(agent: Creature, turn: _Turn) -> None:
    await _append_input(agent, turn)
    limit = turn.request.max_iterations or agent.config.max_iterations
    for iteration in range(1, limit + 1):
        round_ = _Round(iteration)
        turn.rounds.append(round_)
        await _one_round(agent, turn, round_)
        keyword = _termination_keyword(agent, round_)
        if keyword is not None:
            turn.status, turn.reason = "terminated", f"keyword: {keyword}"
            return
        if not round_.calls:
            return
    turn.status = "max_iterations"
    turn.reason = (
        f"max_iterations={limit} model calls reached while the model still asked for tools"
    )


def _termination_keyword(agent: Creature, round_: _Round) -> str | None:
    keywords = agent.config.termination.keywords
    text = "".join(round_.visible_text)
    return next((k for k in keywords if k in text), None)


async def _append_input(agent: Creature, turn: _Turn) -> None:
    content = turn.request.input
    if agent.history and agent.history[-1].role == "user":
        # The previous turn failed before the model answered: merge rather than stack two user
        # messages (strict providers reject that, and models read it as a repeated request).
        await agent.merge_into_last_user(content)
        turn.history_start = len(agent.history) - 1
    else:
        await agent.append(Message("user", content), turn_index=turn.ctx.turn_index)
    turn.first_message = agent.history[turn.history_start]


async def _one_round(agent: Creature, turn: _Turn, round_: _Round) -> None:
    ctx = turn.ctx
    request = agent.build_request()
    request = await agent.runner.chain(
        "kt_pre_llm_call", "request", request, vetoable=True, ctx=ctx
    )
    await agent.emit(LLMCallStarted(iteration=round_.iteration), turn_index=ctx.turn_index)
    parser = agent.tool_format.new_parser(agent.body_args)
    text_format = not agent.tool_format.native
    done = LLMDone()

    nursery = turn.nursery
    assert nursery is not None

    async def dispatch(call: ToolCall) -> None:
        unique = turn.unique_call_id(call)
        if call.id and unique != call.id:  # kept so the reply can be traced to the provider's
            round_.provider_ids[unique] = call.id
        call = ToolCall(call.name, recordable_args(call.args), unique)  # evolve costs ~1 µs
        round_.calls.append(call)
        await agent.emit(
            ToolCallStarted(
                call_id=call.id,
                name=call.name,
                args=call.args,
                background=wants_background(agent, call),
            ),
            turn_index=ctx.turn_index,
        )

        async def run() -> None:
            try:
                outcome = await execute_call(agent, call, ctx, text_format=text_format)
            except Exception as exc:  # a kernel or plugin bug: the model still gets an answer
                record = ToolCallRecord(
                    id=call.id,
                    name=call.name,
                    args=call.args,
                    status="error",
                    error=f"internal error: {type(exc).__name__}: {exc}",
                    error_type=type(exc).__name__,
                )
                outcome = Outcome(record, f"Error: {record.error}")
            round_.outcomes[call.id] = outcome
            round_.tool_finished()

        round_.running += 1
        spec = agent.tools.get(call.name)
        if spec is not None and spec.is_async:
            nursery.start_soon(run)
        else:
            round_.unstarted[call.id] = run
            nursery.start_soon(round_.start, call.id)

    async def handle(pieces: list[str | ToolCall]) -> None:
        for piece in pieces:
            if isinstance(piece, str):
                if piece:
                    round_.visible_text.append(piece)
                    await agent.emit(
                        TextDelta(text=piece, iteration=round_.iteration),
                        turn_index=ctx.turn_index,
                    )
            else:
                await dispatch(piece)

    failure: Exception | None = None
    try:
        stream = agent.llm.stream(request)
        try:
            async for chunk in stream:
                if isinstance(chunk, TextChunk):
                    text = valid_text(chunk.text)
                    round_.raw_text.append(text)
                    await handle(parser.feed(text))
                elif isinstance(chunk, ToolCall):
                    await dispatch(chunk)
                elif isinstance(chunk, LLMDone):
                    done = chunk
                else:
                    raise LLMResponseError(
                        f"backend yielded {type(chunk).__name__}; expected TextChunk, "
                        "ToolCall or LLMDone"
                    )
        finally:
            aclose = getattr(stream, "aclose", None)
            # An async generator that ran to its end is closed already: no shielded scope.
            if aclose is not None and getattr(stream, "ag_frame", aclose) is not None:
                with trio.CancelScope(shield=True):
                    await aclose()  # close the connection at once, even when cancelled
        await handle(parser.close())
    except Exception as exc:  # the model failed: the turn ends (its nursery cancels the tools)
        failure = exc
    turn.usage = turn.usage + done.usage
    await agent.emit(
        LLMCallCompleted(
            iteration=round_.iteration,
            usage=done.usage,
            finish_reason=done.finish_reason if failure is None else "error",
            tool_calls=len(round_.calls),
            error=None if failure is None else f"{type(failure).__name__}: {failure}",
        ),
        turn_index=ctx.turn_index,
    )
    if failure is not None:
        raise failure
    await _after_stream(agent, turn, round_, done)
    await round_.wait_for_tools()
    await _append_results(agent, turn, round_)


async def _after_stream(agent: Creature, turn: _Turn, round_: _Round, done: LLMDone) -> None:
    """Run ``kt_post_llm_call`` and append the assistant message, before any tool result."""
    result = LLMResult(
        text="".join(round_.raw_text),
        tool_calls=tuple(round_.calls),
        usage=done.usage,
        finish_reason=done.finish_reason,
        iteration=round_.iteration,
    )
    edited_by: list[str] = []
    original = result.text
    result = await agent.runner.chain(
        "kt_post_llm_call", "result", result, ctx=turn.ctx, changed_by=edited_by
    )
    if result.text != original:
        await agent.emit(
            AssistantMessageEdited(
                iteration=round_.iteration, text=result.text, plugins=tuple(edited_by)
            ),
            turn_index=turn.ctx.turn_index,
        )
    await _append_assistant(agent, turn, round_, text=result.text, meta=done.meta)


async def _append_assistant(
    agent: Creature, turn: _Turn, round_: _Round, *, text: str, meta: Any = None, interrupted=False
) -> None:
    if round_.assistant_appended:
        return
    round_.assistant_appended = True
    native_calls = tuple(round_.calls) if agent.tool_format.native else ()
    if not text and not native_calls:
        return  # nothing was said: the next turn's input merges into the user message
    info = dict(meta or {})
    if interrupted:
        info["interrupted"] = True
    if round_.provider_ids and native_calls:
        info["provider_call_ids"] = dict(round_.provider_ids)
    await agent.append(
        Message("assistant", text, tool_calls=native_calls, meta=info),
        turn_index=turn.ctx.turn_index,
    )


async def _append_results(agent: Creature, turn: _Turn, round_: _Round) -> None:
    """Feed results back in call order: ``tool`` messages (native) or one user message (text)."""
    if round_.results_appended or not round_.calls:
        return
    round_.results_appended = True
    texts = []
    for call in round_.calls:
        outcome = round_.outcomes.get(call.id)
        texts.append((call, outcome.text if outcome else MISSING_RESULT))
    if agent.tool_format.native:
        for call, text in texts:
            await agent.append(
                Message("tool", text, tool_call_id=call.id, name=call.name),
                turn_index=turn.ctx.turn_index,
            )
    else:
        await agent.append(tool_results_message(texts), turn_index=turn.ctx.turn_index)


async def _finish(agent: Creature, turn: _Turn) -> TurnResult:
    """Close the turn's history, build the result, run ``kt_turn_ended``, publish it (shielded)."""
    ctx = turn.ctx
    request = turn.request
    cut_short = turn.status in ("interrupted", "cancelled", "timeout")
    if request.interrupted:
        await agent.emit(Interrupted(), turn_index=ctx.turn_index)
    terminal = "interrupted" if turn.status == "interrupted" else "cancelled"
    for round_ in turn.rounds:
        for call in round_.calls:
            if call.id in round_.outcomes:
                continue
            record = ToolCallRecord(
                id=call.id,
                name=call.name,
                args=call.args,
                status=terminal,  # type: ignore[arg-type]
                error="the call was cut short when the turn ended",
            )
            round_.outcomes[call.id] = Outcome(record, f"{terminal.capitalize()}: {record.error}")
            await agent.emit(ToolCallCompleted.from_record(record), turn_index=ctx.turn_index)
        if cut_short:  # keep what the model said, marked, so history stays well-formed
            partial = "".join(round_.raw_text)
            await _append_assistant(agent, turn, round_, text=partial, interrupted=True)
        if round_.assistant_appended:
            await _append_results(agent, turn, round_)
    last = turn.rounds[-1] if turn.rounds else None
    result = TurnResult(
        status=turn.status,  # type: ignore[arg-type]
        text="".join(last.visible_text).strip() if last else "",
        output="".join(t for r in turn.rounds for t in r.visible_text),
        tool_calls=tuple(turn.records),
        iterations=len(turn.rounds),
        usage=turn.usage,
        error=turn.error,
        reason=turn.reason,
        messages=tuple(agent.history[_turn_start(agent, turn) :]),
        input=request.input,
        turn_index=ctx.turn_index,
        started_at=turn.started_at,
        ended_at=time.time(),
    )
    agent.usage = agent.usage + turn.usage
    await agent.runner.notify("kt_turn_ended", ctx=ctx, result=result)
    if agent.config.controller.ephemeral:
        await agent.clear_history(reason="ephemeral")
    await agent.emit(TurnCompleted(result=result), turn_index=ctx.turn_index)
    return result


def _turn_start(agent: Creature, turn: _Turn) -> int:
    """Where the turn's messages start, even if a compaction replaced older history meanwhile."""
    history = agent.history
    for index in range(len(history) - 1, -1, -1):
        if history[index] is turn.first_message:
            return index
    return turn.history_start
