"""Guard rails for creatures: budgets, a permission gate, a sandbox policy, and auto-compaction.

A creature switches the features on in its config; the plugin does nothing for a creature
that does not ask (so a kernel may load it for every creature)::

    [[plugins]]
    name = "kt_guard"
    budgets = {tool_calls = [40, 50], tokens = [150000, 200000]}
    permissions = {ask = ["bash", "write", "edit"], deny = ["bash(rm -rf *)"], timeout = 300}
    sandbox = {write_paths = ["."], network = ["*.python.org"], shell = ["git *", "ls*"]}

* **Budgets** (:mod:`kt_guard.budget`): ``turns``, ``model_calls``, ``tool_calls``,
  ``wall_time`` (seconds) and ``tokens``, each ``[soft, hard]``: a warning to the model at the
  soft limit, then a stop.
* **Permissions** (:mod:`kt_guard.permissions`): ``deny`` rules refuse, ``allow`` rules pass,
  calls matching ``ask`` (default: all) wait for :func:`answer` to an
  :class:`ApprovalRequested` event: ``allow_once``, ``allow_session`` or ``deny``.
* **Sandbox** (:mod:`kt_guard.sandbox`): read and write roots, reachable hosts, allowed shell
  commands; a refused call is a ``Sandbox denied [...]`` tool error.
* **Compaction** (:mod:`kt_guard.compaction`): past ``compact.max_tokens × threshold`` the
  history is summarised in the background, following the creature's ``[compact]`` table.

Refusals reach the model as tool errors in the same turn (status ``blocked``). See
``docs/reference/guard.md``.
"""

from __future__ import annotations

from typing import Any

import kt
from kt_guard.budget import BudgetExhaustedError
from kt_guard.events import DECISIONS, ApprovalAnswered, ApprovalRequested, BudgetAlarm
from kt_guard.options import GuardConfigError, GuardOptions, parse_options
from kt_guard.permissions import ApprovalError, answer, pending_approvals, restore_approvals
from kt_guard.plugin import ConfiguredGuard, Guard
from kt_guard.sandbox import split_command

__all__ = [
    "DECISIONS",
    "ApprovalAnswered",
    "ApprovalError",
    "ApprovalRequested",
    "BudgetAlarm",
    "BudgetExhaustedError",
    "Guard",
    "GuardConfigError",
    "GuardOptions",
    "answer",
    "budget_status",
    "parse_options",
    "pending_approvals",
    "restore_approvals",
    "split_command",
]

_CONFIGURED = ConfiguredGuard()  # holds no state: each creature's lives in its own stash


def budget_status(agent: kt.Agent) -> dict[str, dict[str, float | None]]:
    """What *agent* spent of the budgets its ``kt_guard`` entry sets.

    Returns:
        ``{axis: {"used": ..., "soft": ..., "hard": ...}}``; ``{}`` without budgets. For a
        :class:`Guard` instance use its own ``budget_status`` method.
    """
    return _CONFIGURED.budget_status(agent)


# The entry-point plugin: each hook hands over to the config-reading guard.


@kt.hookimpl
async def kt_creature_started(creature: kt.Agent) -> None:
    """See :meth:`Guard.kt_creature_started`."""
    await _CONFIGURED.kt_creature_started(creature)


@kt.hookimpl
def kt_prompt_sections(creature: kt.Agent) -> list[kt.PromptSection]:
    """See :meth:`Guard.kt_prompt_sections`."""
    return _CONFIGURED.kt_prompt_sections(creature)


@kt.hookimpl
async def kt_turn_started(ctx: kt.TurnContext) -> None:
    """See :meth:`Guard.kt_turn_started`."""
    await _CONFIGURED.kt_turn_started(ctx)


@kt.hookimpl
async def kt_pre_llm_call(request: kt.LLMRequest, ctx: kt.TurnContext) -> kt.LLMRequest | None:
    """See :meth:`Guard.kt_pre_llm_call`."""
    return await _CONFIGURED.kt_pre_llm_call(request, ctx)


@kt.hookimpl
async def kt_post_llm_call(result: kt.LLMResult, ctx: kt.TurnContext) -> None:
    """See :meth:`Guard.kt_post_llm_call`."""
    await _CONFIGURED.kt_post_llm_call(result, ctx)


@kt.hookimpl
async def kt_pre_tool_call(call: kt.ToolCall, ctx: kt.TurnContext) -> None:
    """See :meth:`Guard.kt_pre_tool_call`."""
    await _CONFIGURED.kt_pre_tool_call(call, ctx)


@kt.hookimpl
async def kt_pre_subagent(name: str, task: str, ctx: kt.TurnContext) -> None:
    """See :meth:`Guard.kt_pre_subagent`."""
    await _CONFIGURED.kt_pre_subagent(name, task, ctx)


@kt.hookimpl(trylast=True)  # a creature's own kt_compact strategy wins over the summary model
async def kt_compact(messages: tuple[kt.Message, ...], creature: kt.Agent) -> str | None:
    """See :meth:`Guard.kt_compact`."""
    return await _CONFIGURED.kt_compact(messages, creature)


@kt.hookimpl
def kt_session_restore(creature: kt.Agent, reader: Any) -> None:
    """See :meth:`Guard.kt_session_restore` (a hook declared by ``kt_sessions``)."""
    _CONFIGURED.kt_session_restore(creature, reader)
