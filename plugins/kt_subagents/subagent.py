"""Running a sub-agent: the tool a parent's model calls, and the nested creature behind it.

A sub-agent is offered to the parent's model as a tool with a ``task`` argument. Calling it
builds a *child* creature with the parent's kernel, model (unless configured) and working
directory, a system prompt of its own, and the tools it asks for that the parent also has. The
child has its own conversation, starts with the task as its only input, and runs one turn. Its
final answer is what the parent's model gets back; everything the child did is published to the
parent as :class:`SubAgentEvent` events, between ``SubAgentStarted`` and ``SubAgentCompleted``.

Three things bound a child: its budget of model calls (``max_turns``), an optional wall-clock
``timeout``, and how deep sub-agents may nest (the creature's ``max_subagent_depth``). Running
out of budget or time is reported to the parent as a failure that says so, never as an answer.

A call runs in the background unless the model passes ``run_in_background = false`` (or the
entry sets ``background = false``): the parent gets a job id at once, and the answer re-enters
the parent later as a new turn. A foreground call holds the parent's turn until the child ends.
A sub-agent's own helpers always run in the foreground: it runs one turn and then stops.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs

import kt
from kt.events import Event, SubAgentCompleted, SubAgentStarted, to_wire
from kt.llm import message_text
from kt_subagents.builtins import SubAgentDefinition, render_prompt

__all__ = [
    "SubAgentEvent",
    "SubAgentSettings",
    "make_factory",
    "offered_subagents",
]

DEPTH = kt.StashKey[int]()
"""How deeply nested a creature is: absent for a top-level creature, 1 for its sub-agents."""

_OFFERED = kt.StashKey[list["SubAgentSettings"]]()

_INHERIT_MODEL = {"", "inherit", "parent", "default", "subagent-default"}
_CLEANUP_DEADLINE = 5.0  # seconds a shielded cleanup may take
_HISTORY_CHARS = 60_000  # how much of the parent's conversation a summariser gets, newest kept

_OPTIONS = {
    "system_prompt",
    "extra_prompt",
    "model",
    "max_turns",
    "timeout",
    "background",
    "include_history",
    "notify_controller_on_background_complete",
    "can_modify",
}


@attrs.frozen(kw_only=True)
class SubAgentEvent(Event):
    """One event of a running sub-agent, forwarded to its parent (the child's transcript).

    Every event the child publishes (its ``TurnStarted``, each ``TextDelta``, every
    ``ToolCallStarted`` / ``ToolCallCompleted``, each ``MessageAppended`` of its history, its
    ``TurnCompleted``) reaches the parent's ``kt_event`` hooks, outputs and subscribers wrapped
    in one of these, in order. ``kt.events.from_wire(event.event)`` rebuilds the original.

    Attributes:
        call_id: The parent's tool call that started the sub-agent.
        name: The sub-agent's name.
        job_id: The background job id, or ``None`` for a foreground call.
        event: The child's event in its wire shape (``kt.events.to_wire``).
    """

    type: ClassVar[str] = "subagent_event"
    call_id: str
    name: str
    job_id: str | None = None
    event: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class SubAgentSettings:
    """A sub-agent as one creature configured it (built-in defaults plus entry options).

    Attributes:
        name: The tool name the parent's model calls.
        definition: The built-in it is based on.
        description: What the parent's model is told it is for.
        tools: The tool names it asks for (it gets those its caller has).
        can_modify: Whether it may change files (a marker for the parent's model).
        system_prompt: A full replacement of the built-in prompt, or ``None``.
        extra_prompt: Text appended to the prompt under "Additional instructions".
        model: A ``BACKEND/MODEL`` selector, or ``None`` for the parent's model.
        max_turns: Budget of model calls.
        timeout: Wall-clock limit in seconds, or ``None``.
        background: Whether a call runs in the background when the model does not say.
        include_history: Whether the caller's conversation is handed over with the task.
        notify: Whether a finished background run starts a new turn of the parent.
    """

    name: str
    definition: SubAgentDefinition
    description: str
    tools: tuple[str, ...]
    can_modify: bool
    system_prompt: str | None = None
    extra_prompt: str | None = None
    model: str | None = None
    max_turns: int
    timeout: float | None = None
    background: bool = True
    include_history: bool = False
    notify: bool = True


def offered_subagents(agent: Any) -> list[SubAgentSettings]:
    """The sub-agents *agent* was built with (empty for a creature without any)."""
    return list(agent.stash.get(_OFFERED, []))


# -- Building the tool --------------------------------------------------------------------------


def make_factory(definition: SubAgentDefinition) -> Any:
    """The ``SubAgentSpec.factory`` for *definition*: ``factory(entry, parent) -> ToolSpec``."""

    def factory(entry: Any, parent: Any) -> kt.ToolSpec:
        settings = _settings(definition, entry, parent)
        parent.stash.setdefault(_OFFERED, []).append(settings)
        return _tool_spec(settings)

    return factory


def _settings(definition: SubAgentDefinition, entry: Any, parent: Any) -> SubAgentSettings:
    """Read a config entry's options, refusing unknown keys and bad values at build time."""
    index = next((i for i, e in enumerate(parent.config.subagents) if e is entry), None)
    if index is None:
        index = next((i for i, e in enumerate(parent.config.subagents) if e == entry), 0)
    file = str(parent.config.files[-1]) if parent.config.files else None

    def bad(key: str, message: str) -> kt.ConfigValidationError:
        return kt.ConfigValidationError(message, path=f"subagents[{index}].{key}", file=file)

    options = dict(entry.options)
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise bad(
            unknown[0],
            f"sub-agent '{entry.name}' has no option '{unknown[0]}'; it accepts "
            f"{', '.join(sorted(_OPTIONS))}",
        )

    def number(key: str, default: Any, *, integer: bool) -> Any:
        value = options.get(key, default)
        if value is None:
            return None
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
            kind = "a whole number" if integer else "a number of seconds"
            raise bad(key, f"'{key}' must be {kind} (0 or more), not {value!r}")
        return value

    def flag(key: str, default: bool) -> bool:
        value = options.get(key, default)
        if not isinstance(value, bool):
            raise bad(key, f"'{key}' must be true or false, not {value!r}")
        return value

    def text(key: str) -> str | None:
        value = options.get(key)
        if value is not None and not isinstance(value, str):
            raise bad(key, f"'{key}' must be a string, not {value!r}")
        return value or None

    # 0 means "no budget of its own": the creature's max_iterations, never unlimited.
    max_turns = number("max_turns", definition.max_turns, integer=True)
    max_turns = max_turns or parent.config.max_iterations
    timeout = number("timeout", None, integer=False) or None  # 0 means no limit
    model = text("model")
    if model is not None and model.strip().lower() in _INHERIT_MODEL:
        model = None
    return SubAgentSettings(
        name=entry.name,
        definition=definition,
        description=entry.description or definition.description,
        tools=tuple(entry.tools) if entry.tools is not None else definition.tools,
        can_modify=flag("can_modify", definition.can_modify),
        system_prompt=text("system_prompt"),
        extra_prompt=text("extra_prompt"),
        model=model,
        max_turns=max_turns,
        timeout=timeout,
        background=flag("background", True),
        include_history=flag("include_history", definition.include_history),
        notify=flag("notify_controller_on_background_complete", True),
    )


def _tool_spec(settings: SubAgentSettings) -> kt.ToolSpec:
    async def call(
        task: str, run_in_background: bool | None = None, ctx: Any = None
    ) -> kt.ToolResult:
        background = settings.background if run_in_background is None else run_in_background
        return await invoke(settings, task, background=background, ctx=ctx)

    marker = " [can modify files]" if settings.can_modify else ""
    mode = "background" if settings.background else "foreground"
    parameters = {
        "type": "object",
        "properties": {
            "task": {
                "type": "string",
                "description": (
                    "Everything the sub-agent needs: the goal, the relevant paths and names, "
                    "constraints, and what to return. It does not see your conversation."
                ),
            },
            "run_in_background": {
                "type": "boolean",
                "description": (
                    f"Default {str(settings.background).lower()} ({mode}). In the background "
                    "you get a job id now and the answer later as a new message; false waits "
                    "for the answer."
                ),
            },
        },
        "required": ["task"],
    }
    return kt.ToolSpec(
        name=settings.name,
        description=f"Sub-agent{marker}: {settings.description}",
        parameters=parameters,
        fn=call,
        context_param="ctx",
        timeout=0,  # the sub-agent's own budget and timeout bound it, not the tool timeout
        body_arg="task",
    )


# -- Running ------------------------------------------------------------------------------------


async def invoke(
    settings: SubAgentSettings, task: str, *, background: bool, ctx: kt.ToolContext
) -> kt.ToolResult:
    """Start the sub-agent for *task* on behalf of the creature running *ctx*.

    The caller is ``ctx.agent`` (not the creature the tool was built for), so a sub-agent
    offered to another sub-agent nests under the one that calls it, and always runs in the
    foreground there.

    Args:
        settings: The sub-agent as the creature configured it.
        task: The task the model gave.
        background: Run as a job and answer with a placeholder now.
        ctx: The running tool call (its ``agent`` is the caller).

    Returns:
        The child's answer (foreground), a placeholder naming the job (background), or an
        error result: depth limit, a ``kt_pre_subagent`` veto, a child that cannot be built,
        or a child that failed or ran out of budget.
    """
    caller = ctx.agent
    name = settings.name
    depth = caller.stash.get(DEPTH, 0) + 1
    if depth > 1:
        # A sub-agent runs a single turn and ends: it could never receive a later answer, and
        # a job of its own would be cancelled with it. Its helpers always run in the foreground.
        background = False
    limit = caller.config.max_subagent_depth
    if limit and depth > limit:
        return kt.ToolResult(
            error=(
                f"sub-agent '{name}' was not started: it would be nested {depth} deep and "
                f"this creature allows {limit} (max_subagent_depth). Do this part yourself "
                "with your own tools."
            ),
            metadata={"error_type": "SubAgentDepthError", "subagent": name},
        )
    turn = kt.TurnContext(creature=caller, turn_index=ctx.turn_index)
    try:
        task = await caller.runner.chain(
            "kt_pre_subagent", "task", task, vetoable=True, name=name, ctx=turn
        )
    except kt.PluginBlockError as exc:
        return kt.ToolResult(
            error=f"sub-agent '{name}' was blocked: {exc}",
            metadata={"error_type": "ToolBlockedError", "subagent": name},
        )
    task = _with_history(task, caller) if settings.include_history else task.strip()
    if not task:
        return kt.ToolResult(
            error=f"sub-agent '{name}' needs a task: say what it should do and return",
            metadata={"error_type": "ToolArgumentError", "subagent": name},
        )
    try:
        child = await _build_child(settings, caller, depth)
    except kt.KTError as exc:
        return kt.ToolResult(
            error=f"sub-agent '{name}' could not be started: {exc}",
            metadata={"error_type": type(exc).__name__, "subagent": name},
        )
    job_id = f"agent_{name}_{uuid.uuid4().hex[:8]}" if background else None
    run = _Run(settings, caller, child, task, call_id=ctx.call.id, turn=turn, job_id=job_id)
    if job_id is None:
        return (await run.run()).tool_result()
    caller.start_job(run.run_in_background, name=name, kind="subagent", job_id=job_id)
    return kt.ToolResult(
        output=(
            f"Sub-agent '{name}' is working on it in the background as job {job_id}. Its "
            "answer will arrive in a later message on its own. Do not redo its task, and do "
            "not wait, sleep or poll for it: continue with other work, or end your turn if "
            "there is nothing else to do."
        ),
        metadata={"subagent": name, "job_id": job_id, "background": True},
    )


def _with_history(task: str, caller: Any) -> str:
    """Prefix *task* with the caller's conversation so far, as plain text (newest kept)."""
    lines = []
    for message in caller.history:
        content = message_text(message)  # images as "[image]"
        if message.role == "tool":
            lines.append(f"[tool result: {message.name or message.tool_call_id}]\n{content}")
        else:
            calls = "".join(f"\n(called {c.name} with {c.args})" for c in message.tool_calls)
            lines.append(f"[{message.role}]\n{content}{calls}")
    transcript = "\n\n".join(lines).strip()
    if len(transcript) > _HISTORY_CHARS:
        transcript = "[... earlier messages left out ...]\n" + transcript[-_HISTORY_CHARS:]
    task = task.strip() or "Summarise the conversation so far so the work can be continued."
    if not transcript:
        return task
    return f"## Conversation so far\n\n{transcript}\n\n## Task\n\n{task}"


async def _build_child(settings: SubAgentSettings, caller: Any, depth: int) -> Any:
    """A creature for one run of the sub-agent: the caller's settings, its own prompt and tools."""
    available = [n for n in settings.tools if n in caller.tools]
    missing = [n for n in settings.tools if n not in caller.tools]
    config = attrs.evolve(
        caller.config,
        name=f"{caller.name}.{settings.name}",
        description=settings.description,
        system_prompt=_system_prompt(settings, missing),
        system_prompt_files=(),
        tools=(),
        subagents=(),
        triggers=(),
        mcp_servers=(),
        input=None,
        output=None,
        output_wiring=(),
        startup_trigger=None,
        skills=(),
        termination=kt.config.TerminationConfig(),
        max_iterations=settings.max_turns,
        controller=attrs.evolve(caller.config.controller, turn_timeout=None, ephemeral=False),
    )
    child = await kt.Agent.build(
        config,
        llm=caller.llm if settings.model is None else None,
        llm_selector=settings.model,
        tools=[caller.tools[n] for n in available],
        kernel=caller.kernel,
        pwd=caller.working_dir,
        output=None,
    )
    child.stash[DEPTH] = depth
    return child


def _system_prompt(settings: SubAgentSettings, missing: Sequence[str]) -> str:
    if settings.system_prompt:
        prompt = settings.system_prompt.strip()
    else:
        prompt = render_prompt(settings.definition, max_turns=settings.max_turns)
        if settings.extra_prompt:
            prompt += f"\n\n## Additional instructions\n{settings.extra_prompt.strip()}"
    if missing:
        prompt += (
            "\n\n## Unavailable tools\nThese tools are not available to you here: "
            f"{', '.join(missing)}. Do not call them; work with the tools you have, and say "
            "in your answer if their absence kept you from finishing."
        )
    return prompt


@attrs.define(eq=False)
class _Run:
    """One run of a sub-agent: start events, the child's turn, its transcript, the end event."""

    settings: SubAgentSettings
    caller: Any
    child: Any
    task: str
    call_id: str
    turn: kt.TurnContext
    job_id: str | None
    result: kt.TurnResult | None = None
    started: float = attrs.Factory(time.monotonic)

    async def run(self) -> _Outcome:
        """Run the child to its end and hand its result to ``kt_post_subagent``.

        Cancellation (the parent's turn interrupted or timed out for a foreground run,
        ``stop_task`` or the parent stopping for a background one) stops the child, publishes
        ``SubAgentCompleted`` with status ``cancelled`` (shielded, with a deadline) and
        propagates.
        """
        import trio  # imported when a sub-agent runs, so loading the plugin stays cheap

        name = self.settings.name
        await self.caller.emit(
            SubAgentStarted(
                call_id=self.call_id,
                name=name,
                task=self.task,
                background=self.job_id is not None,
            ),
            turn_index=self.turn.turn_index,
        )
        outcome = _Outcome(self.settings, None, job_id=self.job_id, duration=0.0)
        try:
            try:
                result = await self._run_child()
            except Exception as exc:  # the child could not start (a plugin failed): a result
                result = kt.TurnResult(status="error", error=exc)
            result = await self.caller.runner.chain(
                "kt_post_subagent", "result", result, name=name, ctx=self.turn
            )
            outcome = _Outcome(
                self.settings,
                result,
                job_id=self.job_id,
                duration=time.monotonic() - self.started,
            )
            return outcome
        finally:
            with trio.move_on_after(_CLEANUP_DEADLINE, shield=True):
                await self.caller.emit(
                    SubAgentCompleted(
                        call_id=self.call_id,
                        name=name,
                        status=outcome.status,
                        output=outcome.answer,
                        error=outcome.error,
                        turns=outcome.result.iterations if outcome.result else 0,
                        usage=outcome.result.usage if outcome.result else kt.Usage(),
                    ),
                    turn_index=self.turn.turn_index,
                )

    async def _run_child(self) -> kt.TurnResult:
        import trio

        events = self.child.subscribe()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._forward, events)
            # Stopping the child closes its subscription, which ends the forwarding once
            # every event it published has been passed on.
            async with self.child:
                return await self.child.run(
                    self.task,
                    timeout=self.settings.timeout,
                    max_iterations=self.settings.max_turns,
                )

    async def _forward(self, events: Any) -> None:
        async for event in events:
            await self.caller.emit(
                SubAgentEvent(
                    call_id=self.call_id,
                    name=self.settings.name,
                    job_id=self.job_id,
                    event=to_wire(event),
                ),
                turn_index=self.turn.turn_index,
            )

    async def run_in_background(self) -> None:
        """The body of a background job: run, then tell the parent with a new turn."""
        message = (
            f"[Sub-agent {self.job_id} ({self.settings.name}) was cancelled before it finished]"
        )
        try:
            message = (await self.run()).notice()
        finally:
            if self.settings.notify and self.caller.is_running:
                self.caller.inject(message, source="tool_complete")


@attrs.frozen
class _Outcome:
    """What a run produced, in the words the parent's model gets."""

    settings: SubAgentSettings
    result: kt.TurnResult | None
    job_id: str | None
    duration: float

    @property
    def status(self) -> str:
        return self.result.status if self.result is not None else "cancelled"

    @property
    def answer(self) -> str:
        if self.result is None:
            return ""
        return self.result.text or self.result.output.strip()

    @property
    def error(self) -> str | None:
        result, name = self.result, self.settings.name
        if result is None:
            return f"sub-agent '{name}' was cancelled before it finished"
        if result.status == "completed":
            return None
        if result.status == "max_iterations":
            return (
                f"sub-agent '{name}' ran out of budget: it used all {result.iterations} of its "
                "model calls (max_turns) without finishing; its answer below is incomplete. "
                "Give it a narrower task, or raise max_turns."
            )
        if result.status == "timeout":
            return (
                f"sub-agent '{name}' ran out of time: it was stopped after its timeout of "
                f"{self.settings.timeout:g}s; its answer below is incomplete"
            )
        if result.status == "error":
            return f"sub-agent '{name}' failed: {result.error}"
        if result.status == "terminated":
            return f"sub-agent '{name}' was stopped early ({result.reason})"
        return f"sub-agent '{name}' was {result.status} before it finished"

    def metadata(self) -> dict[str, Any]:
        result = self.result
        used = list(dict.fromkeys(c.name for c in result.tool_calls)) if result else []
        usage = result.usage if result else kt.Usage()
        return {
            "subagent": self.settings.name,
            "job_id": self.job_id,
            "status": self.status,
            "budget_exhausted": self.status in ("max_iterations", "timeout"),
            "turns": result.iterations if result else 0,
            "tools_used": used,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "cached_tokens": usage.cached_tokens,
            "duration": round(self.duration, 3),
        }

    def tool_result(self) -> kt.ToolResult:
        """The foreground result: the answer, or an error that says why there is none."""
        meta = self.metadata()
        if self.error is None:
            return kt.ToolResult(output=self.answer, metadata=meta)
        error_type = "BudgetExceededError" if meta["budget_exhausted"] else "SubAgentError"
        return kt.ToolResult(
            output=self.answer, error=self.error, metadata={**meta, "error_type": error_type}
        )

    def notice(self) -> str:
        """The message a finished background run sends the parent."""
        head = f"[Sub-agent {self.job_id} ({self.settings.name})"
        if self.error is None:
            return f"{head} finished]\n{self.answer}"
        body = f"\n{self.answer}" if self.answer else ""
        return f"{head} did not finish: {self.error}]{body}"
