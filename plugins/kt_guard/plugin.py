"""The guard plugin object: one set of hooks enforcing budgets, sandbox and permissions.

A :class:`Guard` keeps no state of its own. What it enforces for a creature (its options, the
sandbox resolved against the creature's working directory, the budget spent) lives in that
creature's stash, under a key private to the guard object, so one guard serves any number of
creatures and two guards never share counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

import kt
from kt.config.home import kt_home
from kt.errors import PluginBlockError
from kt.events import ErrorOccurred
from kt_guard import compaction as _compaction
from kt_guard import permissions as _permissions
from kt_guard.budget import Budget, BudgetState
from kt_guard.events import ApprovalAnswered, ApprovalRequested
from kt_guard.options import GuardConfigError, GuardOptions, parse_options
from kt_guard.sandbox import SHELL_TOOLS, WRITE_TOOLS, SandboxPolicy

__all__ = ["ConfiguredGuard", "Guard"]


@attrs.define(eq=False)
class _Enforcer:
    """What one guard enforces for one creature."""

    options: GuardOptions
    error: GuardConfigError | None = None
    budget: Budget | None = None
    sandbox: SandboxPolicy | None = None


class Guard:
    """Budgets, a sandbox policy and a permission gate for the creatures it is registered for.

    Give an instance to one creature (``Agent.build(plugins=[Guard(...)])``, or
    ``[[plugins]]`` with ``module = "kt_guard"`` and ``class = "Guard"``), with the options as
    keyword arguments. The ``kt_guard`` plugin itself (registered by entry point) reads the
    same options from a creature's ``[[plugins]]`` entry named ``kt_guard`` instead.

    Every guard also applies the compaction policy of the creature's ``[compact]`` table.

    Args:
        budgets: Budget limits by axis (see :mod:`kt_guard`); ``None`` = no budgets.
        permissions: ``ask`` / ``allow`` / ``deny`` rules and ``timeout``; ``None`` = no gate.
        sandbox: Paths, network and shell policy; ``None`` = no sandbox.

    Raises:
        GuardConfigError: an option is invalid (the message names it).
    """

    def __init__(
        self,
        *,
        budgets: Mapping[str, Any] | None = None,
        permissions: Mapping[str, Any] | None = None,
        sandbox: Mapping[str, Any] | None = None,
    ) -> None:
        given = {"budgets": budgets, "permissions": permissions, "sandbox": sandbox}
        raw = {key: value for key, value in given.items() if value is not None}
        self._options = parse_options(raw, where="Guard") if raw else GuardOptions()
        self._key = kt.StashKey[_Enforcer]()
        self.kt_plugin_name = f"kt_guard.Guard@{id(self):x}"  # unique: guards may be stacked

    # -- Per creature --------------------------------------------------------------------------

    def options_for(self, agent: kt.Agent) -> GuardOptions:
        """The options this guard enforces for *agent*.

        Raises:
            GuardConfigError: when they are invalid.
        """
        return self._options

    def _enforcer(self, agent: kt.Agent) -> _Enforcer:
        enforcer = agent.stash.get(self._key, None)
        if enforcer is None:
            try:
                options = self.options_for(agent)
            except GuardConfigError as exc:
                enforcer = _Enforcer(GuardOptions(), error=exc)
            else:
                enforcer = _Enforcer(options)
                if options.budgets is not None:
                    enforcer.budget = Budget(options.budgets, BudgetState())
                if options.sandbox is not None:
                    enforcer.sandbox = SandboxPolicy(
                        options.sandbox,
                        working_dir=agent.working_dir,
                        home=Path.home(),
                        kt_home=kt_home(agent.kernel.env),
                    )
            agent.stash[self._key] = enforcer
        return enforcer

    def _check_config(self, enforcer: _Enforcer) -> None:
        if enforcer.error is not None:  # fail closed: a broken guard must not run unguarded
            raise PluginBlockError(
                f"kt_guard is misconfigured, so this creature may not act: {enforcer.error}"
            )

    def budget_status(self, agent: kt.Agent) -> dict[str, dict[str, float | None]]:
        """``{axis: {"used", "soft", "hard"}}`` for *agent*'s limited axes (``{}`` if none)."""
        budget = self._enforcer(agent).budget
        return {} if budget is None else budget.status()

    # -- Hooks ---------------------------------------------------------------------------------

    @kt.hookimpl
    async def kt_creature_started(self, creature: kt.Agent) -> None:
        """Start the wall clock; report bad options; publish answers given before the start."""
        enforcer = self._enforcer(creature)
        if enforcer.error is not None:
            await creature.emit(
                ErrorOccurred(
                    message=str(enforcer.error),
                    error_type=type(enforcer.error).__name__,
                    source="plugin:kt_guard:options",
                )
            )
        if enforcer.budget is not None:
            enforcer.budget.start()
        await _permissions.publish_unsent(creature)

    @kt.hookimpl
    def kt_prompt_sections(self, creature: kt.Agent) -> list[kt.PromptSection]:
        """Tell the model its budget, its sandbox and that some calls need approval."""
        enforcer = self._enforcer(creature)
        sections = []
        if enforcer.budget is not None:
            sections.append(kt.PromptSection("kt_guard.budget", enforcer.budget.prompt_text()))
        if enforcer.sandbox is not None:
            sections.append(kt.PromptSection("kt_guard.sandbox", _sandbox_text(enforcer.sandbox)))
        permissions = enforcer.options.permissions
        if permissions is not None:
            text = (
                "## Approvals\nSome tool calls wait for the user's approval before they run. A "
                'call that was refused says "Permission denied": do not retry it.'
            )
            if permissions.deny:
                text += f"\nNever allowed: {', '.join(r.text for r in permissions.deny)}."
            sections.append(kt.PromptSection("kt_guard.permissions", text))
        return sections

    @kt.hookimpl
    async def kt_turn_started(self, ctx: kt.TurnContext) -> None:
        """Count the turn."""
        budget = self._enforcer(ctx.creature).budget
        if budget is not None:
            await budget.turn_started(ctx.creature)

    @kt.hookimpl
    async def kt_pre_llm_call(
        self, request: kt.LLMRequest, ctx: kt.TurnContext
    ) -> kt.LLMRequest | None:
        """Admit the model call against the budget and hand the model its budget alarms."""
        enforcer = self._enforcer(ctx.creature)
        self._check_config(enforcer)
        if enforcer.budget is None:
            return None
        alarms = await enforcer.budget.admit_model_call(ctx.creature)
        return _with_note(request, "\n".join(alarms)) if alarms else None

    @kt.hookimpl
    async def kt_post_llm_call(self, result: kt.LLMResult, ctx: kt.TurnContext) -> None:
        """Count the call's tokens; start a background compaction past the threshold."""
        budget = self._enforcer(ctx.creature).budget
        if budget is not None:
            await budget.record_usage(ctx.creature, result.usage)
        _compaction.consider(ctx.creature, result.usage)

    @kt.hookimpl
    async def kt_pre_tool_call(self, call: kt.ToolCall, ctx: kt.TurnContext) -> None:
        """Sandbox, then budget, then permission: refuse the call or let it run."""
        agent = ctx.creature
        enforcer = self._enforcer(agent)
        self._check_config(enforcer)
        args = call.args if isinstance(call.args, Mapping) else {}
        spec = agent.tools.get(call.name)
        if enforcer.sandbox is not None:
            writes = call.name in WRITE_TOOLS or (
                spec is not None and not spec.concurrency_safe and call.name not in SHELL_TOOLS
            )
            enforcer.sandbox.check(call.name, args, writes=writes)
        budget = enforcer.budget
        permissions = enforcer.options.permissions
        if permissions is not None:
            if budget is not None:  # no point asking a person for a call the budget refuses
                await budget.admit_tool_call(agent, count=False)
            await _permissions.gate(
                agent,
                permissions,
                call,
                subject=_subject(spec, args),
                turn_index=ctx.turn_index,
            )
        if budget is not None:
            await budget.admit_tool_call(agent)

    @kt.hookimpl
    async def kt_pre_subagent(self, name: str, task: str, ctx: kt.TurnContext) -> None:
        """Refuse new sub-agents once tokens or wall time ran out."""
        enforcer = self._enforcer(ctx.creature)
        self._check_config(enforcer)
        if enforcer.budget is not None:
            await enforcer.budget.check_work(ctx.creature, "sub-agents")

    @kt.hookimpl(trylast=True)  # a creature's own kt_compact strategy wins over the summary model
    async def kt_compact(self, messages: tuple[kt.Message, ...], creature: kt.Agent) -> str | None:
        """Summarise with ``compact.compact_model`` when the creature names one."""
        return await _compaction.summarise_with_compact_model(creature, messages)

    @kt.hookimpl
    def kt_session_restore(self, creature: kt.Agent, reader: Any) -> None:
        """Reopen approvals a resumed creature had pending, and its session grants.

        A hook ``kt_sessions`` declares; it calls it when it resumes a creature.
        """
        types = (ApprovalRequested.type, ApprovalAnswered.type)
        logged = reader.events(type=types, creature=creature.name)
        _permissions.restore_approvals(creature, [entry.wire for entry in logged])


class ConfiguredGuard(Guard):
    """The guard registered by entry point: options come from each creature's config.

    It reads the creature's ``[[plugins]]`` entry named ``kt_guard`` (or with
    ``module = "kt_guard"`` and no class). A creature without such an entry, or whose entry
    sets none of ``budgets``, ``permissions``, ``sandbox``, is not restricted.
    """

    def __init__(self) -> None:
        super().__init__()

    def options_for(self, agent: kt.Agent) -> GuardOptions:
        """The options of *agent*'s ``kt_guard`` entry.

        Raises:
            GuardConfigError: naming the entry's key path and file.
        """
        for i, entry in enumerate(agent.config.plugins):
            if entry.class_name is None and "kt_guard" in (entry.name, entry.module):
                try:
                    return parse_options(entry.options, where=f"plugins[{i}]")
                except GuardConfigError as exc:
                    files = agent.config.files
                    raise GuardConfigError(
                        exc.message, path=exc.path, file=str(files[-1]) if files else None
                    ) from None
        return GuardOptions()


def _subject(spec: kt.ToolSpec | None, args: Mapping[str, Any]) -> str:
    """A call's main argument (the command, the path ...) for ``tool(pattern)`` rules."""
    if spec is not None:
        value = args.get(spec.text_body_arg)
        if isinstance(value, str):
            return value
    return next((v for v in args.values() if isinstance(v, str)), "")


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


def _sandbox_text(policy: SandboxPolicy) -> str:
    options = policy.options
    reads = (
        "anywhere except protected locations"
        if policy.read_roots is None
        else ", ".join(str(p) for p in policy.read_roots)
    )
    if options.network is True:
        network = "any host"
    elif options.network is False:
        network = "off"
    else:
        network = "only " + ", ".join(options.network)
    lines = [
        "## Sandbox",
        'Tool calls are checked against a sandbox policy; a refused call says "Sandbox denied" '
        "and why. Stay inside it rather than retrying.",
        f"- Files may be written under: {', '.join(str(p) for p in policy.write_roots) or 'none'}",
        f"- Files may be read: {reads}",
        f"- Network: {network}",
    ]
    if options.shell is not None:
        lines.append(f"- Shell commands allowed: {', '.join(options.shell) or 'none'}")
    return "\n".join(lines)
