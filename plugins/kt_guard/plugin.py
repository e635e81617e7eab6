"""The guard: one plugin object made of four features, and its options.

:class:`Guard` inherits the hooks of its features (:mod:`kt_guard.hooks`; the features
themselves are :mod:`kt_guard.budget`, :mod:`kt_guard.permissions`, :mod:`kt_guard.sandbox`,
:mod:`kt_guard.compaction`, each imported once a creature needs it) and adds what they share:
reading its options for a creature, failing closed when they are bad, and the tool-call check,
the one place where the order of the features matters.

A guard keeps no state of its own. What it enforces for a creature (its options, the budget
spent, the sandbox resolved against the creature's working directory) lives in that creature's
stash, under a key private to the guard object, so one guard serves any number of creatures and
two guards never share counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

import kt
from kt.errors import PluginBlockError
from kt.events import ErrorOccurred
from kt_guard.hooks import BudgetHooks, CompactionHooks, PermissionHooks, SandboxHooks
from kt_guard.options import GuardConfigError, check_table

if TYPE_CHECKING:  # annotations only: a feature's module loads when a creature sets it
    from kt_guard.budget import BudgetOptions
    from kt_guard.permissions import PermissionOptions
    from kt_guard.sandbox import SandboxOptions

__all__ = ["ConfiguredGuard", "Guard", "GuardOptions", "parse_options"]

_TABLES = ("budgets", "permissions", "sandbox")


@attrs.frozen
class GuardOptions:
    """Everything one guard enforces for one creature; a feature is ``None`` when off."""

    budgets: BudgetOptions | None = None
    permissions: PermissionOptions | None = None
    sandbox: SandboxOptions | None = None

    @property
    def active(self) -> bool:
        """Whether any feature is switched on."""
        return any(x is not None for x in (self.budgets, self.permissions, self.sandbox))


def parse_options(raw: Mapping[str, Any], *, where: str = "plugins[kt_guard]") -> GuardOptions:
    """Validate the options of a guard entry: its ``budgets``, ``permissions`` and ``sandbox``.

    Args:
        raw: The entry's options (every key but ``name``/``module``/``class``).
        where: The key path of the entry, for messages.

    Returns:
        The parsed options.

    Raises:
        GuardConfigError: naming the bad key and what it accepts.
    """
    table = check_table(raw, _TABLES, where)
    parsed: dict[str, Any] = {}
    if table.get("budgets") is not None:
        from kt_guard.budget import parse_budgets

        parsed["budgets"] = parse_budgets(table["budgets"], f"{where}.budgets")
    if table.get("permissions") is not None:
        from kt_guard.permissions import parse_permissions

        parsed["permissions"] = parse_permissions(table["permissions"], f"{where}.permissions")
    if table.get("sandbox") is not None:
        from kt_guard.sandbox import parse_sandbox

        parsed["sandbox"] = parse_sandbox(table["sandbox"], f"{where}.sandbox")
    return GuardOptions(**parsed)


@attrs.define(eq=False)
class _Creature:
    """What one guard keeps for one creature: its options and its features' state."""

    options: GuardOptions
    error: GuardConfigError | None = None
    stash: kt.Stash = attrs.Factory(kt.Stash)


class Guard(SandboxHooks, BudgetHooks, PermissionHooks, CompactionHooks):
    """Budgets, a sandbox policy and a permission gate for the creatures it is registered for.

    Give an instance to one creature (``Agent.build(plugins=[Guard(...)])``, or
    ``[[plugins]]`` with ``module = "kt_guard"`` and ``class = "Guard"``), with the options as
    keyword arguments. :data:`kt_guard.plugin`, the guard the ``kt_guard`` entry point
    registers, reads the same options from a creature's ``[[plugins]]`` entry instead.

    Every guard also applies the compaction policy of the creature's ``[compact]`` table.

    Args:
        budgets: Budget limits by axis (see :mod:`kt_guard.budget`); ``None`` = no budgets.
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
        self._key = kt.StashKey[_Creature]()
        self.kt_plugin_name = f"kt_guard.Guard@{id(self):x}"  # unique: guards may be stacked

    # -- Per creature --------------------------------------------------------------------------

    def options_for(self, agent: kt.Agent) -> GuardOptions:
        """The options this guard enforces for *agent* (read once per creature).

        Raises:
            GuardConfigError: when they are invalid.
        """
        return self._options

    def _creature(self, agent: kt.Agent) -> _Creature:
        state = agent.stash.get(self._key, None)
        if state is None:
            try:
                state = _Creature(self.options_for(agent))
            except GuardConfigError as exc:
                state = _Creature(GuardOptions(), error=exc)
            agent.stash[self._key] = state
        return state

    def guard_options(self, agent: kt.Agent) -> GuardOptions:
        """The options this guard enforces for *agent*; none when they are bad."""
        return self._creature(agent).options

    def guard_stash(self, agent: kt.Agent) -> kt.Stash:
        """This guard's state for *agent*, kept by its features under their own keys."""
        return self._creature(agent).stash

    def _refuse_if_misconfigured(self, agent: kt.Agent) -> None:
        error = self._creature(agent).error
        if error is not None:  # fail closed: a broken guard must not run unguarded
            raise PluginBlockError(
                f"kt_guard is misconfigured, so this creature may not act: {error}"
            )

    # -- Hooks: bad options ----------------------------------------------------------------------

    @kt.hookimpl(specname="kt_creature_started")
    async def guard_creature_started(self, creature: kt.Agent) -> None:
        """Report bad options as an ``ErrorOccurred`` event when the creature starts."""
        error = self._creature(creature).error
        if error is not None:
            await creature.emit(
                ErrorOccurred(
                    message=str(error),
                    error_type=type(error).__name__,
                    source="plugin:kt_guard:options",
                )
            )

    @kt.hookimpl(specname="kt_pre_llm_call")
    def guard_pre_llm_call(self, ctx: kt.TurnContext) -> None:
        """Veto every model call while the options are bad."""
        self._refuse_if_misconfigured(ctx.creature)

    @kt.hookimpl(specname="kt_pre_subagent")
    def guard_pre_subagent(self, ctx: kt.TurnContext) -> None:
        """Veto every sub-agent while the options are bad."""
        self._refuse_if_misconfigured(ctx.creature)

    # -- Hooks: where the features meet --------------------------------------------------------

    @kt.hookimpl(specname="kt_pre_tool_call")
    async def guard_pre_tool_call(self, call: kt.ToolCall, ctx: kt.TurnContext) -> None:
        """Sandbox, then budget, then permission: refuse the call or let it run.

        A call the sandbox or the budget refuses is never put to a person, and a call is
        counted against ``tool_calls`` only once every feature admitted it.
        """
        agent = ctx.creature
        try:
            self._refuse_if_misconfigured(agent)
            self.sandbox_check(call, ctx)
            budget = self.budget_of(agent)
            if budget is not None:
                await budget.admit_tool_call(agent, count=False)
            await self.permissions_gate(call, ctx)
            if budget is not None:
                await budget.admit_tool_call(agent)
        except PluginBlockError:
            raise
        except Exception as exc:  # fail closed: a check that broke must not let the call run
            raise PluginBlockError(
                f"kt_guard could not check this {call.name} call ({type(exc).__name__}: "
                f"{exc}), so it is refused. Report this as a kt_guard bug."
            ) from exc


class ConfiguredGuard(Guard):
    """The guard registered by entry point: options come from each creature's config.

    It reads the creature's ``[[plugins]]`` entry named ``kt_guard`` (or with
    ``module = "kt_guard"`` and no class). A creature without such an entry, or whose entry
    sets none of ``budgets``, ``permissions``, ``sandbox``, is not restricted. The one instance
    is :data:`kt_guard.plugin`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.kt_plugin_name = "kt_guard"  # as the entry point: a creature's entry finds it

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
