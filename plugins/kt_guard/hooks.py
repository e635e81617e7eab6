"""The hooks of the guard's four features, light enough to load for every creature.

Each class holds one feature's hooks; :class:`kt_guard.Guard` inherits all four. The features
themselves (their options, events and rules) live in :mod:`kt_guard.budget`,
:mod:`kt_guard.permissions`, :mod:`kt_guard.sandbox` and :mod:`kt_guard.compaction`. A hook
first asks whether its feature is on for the creature, and imports the feature's module only
when it is: loading the guard, and running creatures that switch nothing on, costs none of
the features' classes, rules or parsers.

Because the guard registers as one plugin, several features implement the same hook, each
under a method name of its own, ``<feature>_<hook without kt_>``, that names the hook with
``specname``; pluggy calls every one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

import kt
from kt.events import Event, UserAnswered
from kt_guard.feature import Feature

if TYPE_CHECKING:  # annotations only: the feature modules load when a creature needs them
    from kt_guard.budget import Budget
    from kt_guard.permissions import ApprovalBook
    from kt_guard.sandbox import SandboxPolicy

__all__ = [
    "APPROVAL_BOOK",
    "BudgetHooks",
    "CompactionHooks",
    "PermissionHooks",
    "SandboxHooks",
]

_BUDGET: kt.StashKey[Budget] = kt.StashKey()  # in the guard's stash, once budgets are on
_POLICY: kt.StashKey[SandboxPolicy] = kt.StashKey()  # in the guard's stash, once a sandbox is on
APPROVAL_BOOK: kt.StashKey[ApprovalBook] = kt.StashKey()
"""Where a creature keeps its approvals (:mod:`kt_guard.permissions`): in its own stash, not
the guard's, because answers need only the agent."""


# -- Budgets -----------------------------------------------------------------------------------


class BudgetHooks(Feature):
    """The budget's hooks (:mod:`kt_guard.budget`), part of every :class:`kt_guard.Guard`.

    They count turns, model calls and tokens, start the wall clock, admit model calls and
    sub-agents, and tell the model its limits. A creature whose guard sets no ``budgets`` is
    not counted.
    """

    def budget_of(self, agent: kt.Agent) -> Budget | None:
        """This guard's budget for *agent*, or ``None`` when it sets no ``budgets``."""
        options = self.guard_options(agent).budgets
        if options is None:
            return None
        stash = self.guard_stash(agent)
        if _BUDGET not in stash:
            from kt_guard.budget import Budget, BudgetState

            stash[_BUDGET] = Budget(options, BudgetState())
        return stash[_BUDGET]

    def budget_status(self, agent: kt.Agent) -> dict[str, dict[str, float | None]]:
        """``{axis: {"used", "soft", "hard"}}`` for *agent*'s limited axes (``{}`` if none)."""
        budget = self.budget_of(agent)
        return {} if budget is None else budget.status()

    @kt.hookimpl(specname="kt_creature_started")
    def budget_creature_started(self, creature: kt.Agent) -> None:
        """Start the wall clock."""
        budget = self.budget_of(creature)
        if budget is not None:
            budget.start()

    @kt.hookimpl(specname="kt_prompt_sections")
    def budget_prompt_sections(self, creature: kt.Agent) -> list[kt.PromptSection]:
        """Tell the model its limits and what the ``[budget ...]`` notes mean."""
        budget = self.budget_of(creature)
        if budget is None:
            return []
        return [kt.PromptSection("kt_guard.budget", budget.prompt_text())]

    @kt.hookimpl(specname="kt_turn_started")
    async def budget_turn_started(self, ctx: kt.TurnContext) -> None:
        """Count the turn."""
        budget = self.budget_of(ctx.creature)
        if budget is not None:
            await budget.turn_started(ctx.creature)

    @kt.hookimpl(specname="kt_pre_llm_call")
    async def budget_pre_llm_call(
        self, request: kt.LLMRequest, ctx: kt.TurnContext
    ) -> kt.LLMRequest | None:
        """Admit the model call and hand the model the alarms it has not read yet."""
        budget = self.budget_of(ctx.creature)
        if budget is None:
            return None
        alarms = await budget.admit_model_call(ctx.creature)
        return _with_note(request, "\n".join(alarms)) if alarms else None

    @kt.hookimpl(specname="kt_post_llm_call")
    async def budget_post_llm_call(self, result: kt.LLMResult, ctx: kt.TurnContext) -> None:
        """Count the call's tokens."""
        budget = self.budget_of(ctx.creature)
        if budget is not None:
            await budget.record_usage(ctx.creature, result.usage)

    @kt.hookimpl(specname="kt_pre_subagent")
    async def budget_pre_subagent(self, ctx: kt.TurnContext) -> None:
        """Refuse new sub-agents once tokens or wall time ran out."""
        budget = self.budget_of(ctx.creature)
        if budget is not None:
            await budget.check_work(ctx.creature, "sub-agents")


def _with_note(request: kt.LLMRequest, note: str) -> kt.LLMRequest:
    """The request with *note* added where the model reads it next.

    Appended to the last message when that is a tool result or a user message (so roles keep
    alternating for strict providers), else as a new user message. The history is not changed.
    """
    messages = list(request.messages)
    last = messages[-1] if messages else None
    if last is not None and last.role in ("tool", "user") and isinstance(last.content, str):
        messages[-1] = attrs.evolve(last, content=f"{last.content}\n\n{note}")
    else:
        messages.append(kt.Message("user", note))
    return attrs.evolve(request, messages=tuple(messages))


# -- Permissions -------------------------------------------------------------------------------


class PermissionHooks(Feature):
    """The permission gate's hooks (:mod:`kt_guard.permissions`), part of every guard.

    The gate itself (:meth:`permissions_gate`) runs in the guard's tool-call check. The hooks
    tell the model that calls may wait for approval, publish answers given to restored
    requests, and restore approvals when ``kt_sessions`` resumes a creature. The approvals are
    the creature's, not the guard's: :func:`kt_guard.answer` needs only the agent.
    """

    async def permissions_gate(self, call: kt.ToolCall, ctx: kt.TurnContext) -> None:
        """Refuse *call*, let it through, or wait for a person, by this guard's rules.

        Raises:
            PluginBlockError: the call is refused (see :func:`kt_guard.permissions.gate`).
        """
        options = self.guard_options(ctx.creature).permissions
        if options is None:
            return
        from kt_guard.permissions import gate

        args = call.args if isinstance(call.args, Mapping) else {}
        subject = _subject(ctx.creature.tools.get(call.name), args)
        await gate(ctx.creature, options, call, subject=subject, turn_index=ctx.turn_index)

    @kt.hookimpl(specname="kt_creature_started")
    async def permissions_creature_started(self, creature: kt.Agent) -> None:
        """Publish answers given to restored requests before the creature started."""
        if APPROVAL_BOOK in creature.stash:  # no book: nothing was restored or answered
            from kt_guard.permissions import publish_unsent

            await publish_unsent(creature)

    @kt.hookimpl(specname="kt_prompt_sections")
    def permissions_prompt_sections(self, creature: kt.Agent) -> list[kt.PromptSection]:
        """Tell the model that some calls need approval, and which are never allowed."""
        options = self.guard_options(creature).permissions
        if options is None:
            return []
        text = (
            "## Approvals\nSome tool calls wait for the user's approval before they run. A "
            'call that was refused says "Permission denied": do not retry it.'
        )
        if options.deny:
            text += f"\nNever allowed: {', '.join(r.text for r in options.deny)}."
        return [kt.PromptSection("kt_guard.permissions", text)]

    @kt.hookimpl(specname="kt_session_restore")
    def permissions_session_restore(self, creature: kt.Agent, reader: Any) -> None:
        """Reopen approvals a resumed creature had pending, and its session grants."""
        from kt_guard.permissions import RESTORED_TYPES, restore_approvals

        logged = reader.events(type=RESTORED_TYPES, creature=creature.name)
        restore_approvals(creature, [entry.wire for entry in logged])

    @kt.hookimpl(specname="kt_event")
    def permissions_event(self, event: Event, creature: kt.Agent) -> None:
        """Apply answers to restored requests, whoever gave them (a UI, the API, a script)."""
        if isinstance(event, UserAnswered) and APPROVAL_BOOK in creature.stash:
            from kt_guard.permissions import apply_restored_answer

            record = apply_restored_answer(creature, event)
            if record is not None and creature.is_running:
                creature.start_job(creature.emit, record, name="approval_answered", kind="task")


def _subject(spec: kt.ToolSpec | None, args: Mapping[str, Any]) -> str:
    """A call's main argument (the command, the path ...) for ``tool(pattern)`` rules."""
    if spec is not None:
        value = args.get(spec.text_body_arg)
        if isinstance(value, str):
            return value
    return next((v for v in args.values() if isinstance(v, str)), "")


# -- Sandbox -----------------------------------------------------------------------------------


class SandboxHooks(Feature):
    """The sandbox's hooks (:mod:`kt_guard.sandbox`), part of every :class:`kt_guard.Guard`.

    The check itself (:meth:`sandbox_check`) runs in the guard's tool-call check; the hook
    describes the policy in the system prompt.
    """

    def sandbox_of(self, agent: kt.Agent) -> SandboxPolicy | None:
        """This guard's sandbox for *agent*, resolved against its working directory."""
        options = self.guard_options(agent).sandbox
        if options is None:
            return None
        stash = self.guard_stash(agent)
        if _POLICY not in stash:
            from pathlib import Path

            from kt.config.home import kt_home
            from kt_guard.sandbox import SandboxPolicy

            stash[_POLICY] = SandboxPolicy(
                options,
                working_dir=agent.working_dir,
                home=Path.home(),
                kt_home=kt_home(agent.kernel.env),
            )
        return stash[_POLICY]

    def sandbox_check(self, call: kt.ToolCall, ctx: kt.TurnContext) -> None:
        """Refuse *call* when this guard's sandbox forbids it.

        A tool writes when it is one of the file-writing tools, or is declared
        ``concurrency_safe=False`` and is not a shell (whose commands are checked as commands).

        Raises:
            PluginBlockError: ``Sandbox denied [<axis>]: ...``.
        """
        policy = self.sandbox_of(ctx.creature)
        if policy is None:
            return
        from kt_guard.sandbox import WRITE_TOOLS
        from kt_guard.shellparse import SHELL_TOOLS

        spec = ctx.creature.tools.get(call.name)
        writes = call.name in WRITE_TOOLS or (
            spec is not None and not spec.concurrency_safe and call.name not in SHELL_TOOLS
        )
        args = call.args if isinstance(call.args, Mapping) else {}
        policy.check(call.name, args, writes=writes)

    @kt.hookimpl(specname="kt_prompt_sections")
    def sandbox_prompt_sections(self, creature: kt.Agent) -> list[kt.PromptSection]:
        """Describe the policy, so the model stays inside it."""
        policy = self.sandbox_of(creature)
        if policy is None:
            return []
        return [kt.PromptSection("kt_guard.sandbox", policy.prompt_text())]


# -- Compaction --------------------------------------------------------------------------------


class CompactionHooks(Feature):
    """The compaction policy's hooks (:mod:`kt_guard.compaction`), part of every guard.

    The policy follows the creature's ``[compact]`` table, not guard options. Its state is the
    creature's, not the guard's: two guards on one creature still run one compaction at a time.
    """

    @kt.hookimpl(specname="kt_post_llm_call")
    def compaction_post_llm_call(self, result: kt.LLMResult, ctx: kt.TurnContext) -> None:
        """Start a background compaction once the prompt passed the threshold."""
        from kt_guard.compaction import consider

        consider(ctx.creature, result.usage)

    @kt.hookimpl(specname="kt_compact", trylast=True)  # a creature's own strategy wins
    async def compaction_compact(
        self, messages: tuple[kt.Message, ...], creature: kt.Agent
    ) -> str | None:
        """Summarise with ``compact.compact_model`` when the creature names one."""
        if not creature.config.compact.compact_model:
            return None
        from kt_guard.compaction import summarise_with_compact_model

        return await summarise_with_compact_model(creature, messages)
