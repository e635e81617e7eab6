"""Guard rails for creatures: budgets, a permission gate, a sandbox policy, and auto-compaction.

A creature switches the features on in its config; the plugin does nothing for a creature
that does not ask (so a kernel may load it for every creature)::

    [[plugins]]
    name = "kt_guard"
    budgets = {tool_calls = [40, 50], tokens = [150000, 200000]}
    permissions = {ask = ["bash", "write", "edit"], deny = ["bash(rm -rf *)"], timeout = 300}
    sandbox = {write_paths = ["."], network = ["*.python.org"], shell = ["git *", "ls*"]}

Each feature is one module, holding its options, its events and its rules:

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

:class:`Guard` (:mod:`kt_guard.plugin`) puts them together into one plugin object, with the
features' hooks (:mod:`kt_guard.hooks`); the checks every feature's options share are in
:mod:`kt_guard.options`. A feature's module is imported when a creature switches the feature on
(or a name below that it defines is first used), so loading the guard costs none of them.

The ``kt_guard`` entry point names :data:`plugin`, the guard that reads each creature's
``kt_guard`` entry. To choose plugins by object, register that object, not this module:
``kt.Kernel(plugins=[kt_guard.plugin])``.

Refusals reach the model as tool errors in the same turn (status ``blocked``). See
``docs/reference/guard.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import kt
from kt_guard.options import GuardConfigError
from kt_guard.plugin import ConfiguredGuard, Guard, GuardOptions, parse_options

if TYPE_CHECKING:  # imported at first use, by __getattr__ below
    from kt_guard.budget import BudgetAlarm, BudgetExhaustedError
    from kt_guard.permissions import (
        DECISIONS,
        ApprovalAnswered,
        ApprovalError,
        ApprovalRequested,
        answer,
        pending_approvals,
        restore_approvals,
    )
    from kt_guard.shellparse import SimpleCommand, simple_commands

__all__ = [
    "DECISIONS",
    "ApprovalAnswered",
    "ApprovalError",
    "ApprovalRequested",
    "BudgetAlarm",
    "BudgetExhaustedError",
    "ConfiguredGuard",
    "Guard",
    "GuardConfigError",
    "GuardOptions",
    "answer",
    "budget_status",
    "parse_options",
    "pending_approvals",
    "plugin",
    "restore_approvals",
    "SimpleCommand",
    "simple_commands",
]

_LAZY = {
    "BudgetAlarm": "kt_guard.budget",
    "BudgetExhaustedError": "kt_guard.budget",
    "DECISIONS": "kt_guard.permissions",
    "ApprovalAnswered": "kt_guard.permissions",
    "ApprovalError": "kt_guard.permissions",
    "ApprovalRequested": "kt_guard.permissions",
    "answer": "kt_guard.permissions",
    "pending_approvals": "kt_guard.permissions",
    "restore_approvals": "kt_guard.permissions",
    "SimpleCommand": "kt_guard.shellparse",
    "simple_commands": "kt_guard.shellparse",
}


def __getattr__(name: str) -> Any:
    """Import a feature's public name from its module at first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kt_guard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


plugin = ConfiguredGuard()
"""The plugin the ``kt_guard`` entry point registers (``kt_guard = "kt_guard:plugin"``).

It holds no state: each creature's lives in its own stash.
"""


def budget_status(agent: kt.Agent) -> dict[str, dict[str, float | None]]:
    """What *agent* spent of the budgets its ``kt_guard`` entry sets.

    Returns:
        ``{axis: {"used": ..., "soft": ..., "hard": ...}}``; ``{}`` without budgets. For a
        :class:`Guard` instance use its own ``budget_status`` method.
    """
    return plugin.budget_status(agent)
