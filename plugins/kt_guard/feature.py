"""The base of the guard's features: what a feature's hooks get from the guard they belong to.

A guard (:class:`kt_guard.Guard`) is one plugin object made of four features. Each feature's
rules live in its own module, and its hooks in a class of :mod:`kt_guard.hooks`:

* :class:`~kt_guard.hooks.BudgetHooks` (:mod:`kt_guard.budget`): turns, model calls, tool
  calls, tokens, wall time;
* :class:`~kt_guard.hooks.PermissionHooks` (:mod:`kt_guard.permissions`): the approval gate,
  approvals after a resume;
* :class:`~kt_guard.hooks.SandboxHooks` (:mod:`kt_guard.sandbox`): the paths, hosts and shell
  commands tools may use;
* :class:`~kt_guard.hooks.CompactionHooks` (:mod:`kt_guard.compaction`): background compaction
  past a token threshold.

Because the guard registers as one plugin, several features implement the same hook, each
under a method name of its own that names the hook with ``specname``; pluggy calls every one::

    @kt.hookimpl(specname="kt_turn_started")
    async def budget_turn_started(self, ctx: kt.TurnContext) -> None: ...

Method names follow one pattern, ``<feature>_<hook without kt_>``, so ``kt_turn_started`` is
implemented by ``budget_turn_started``. The one hook whose order across features matters,
``kt_pre_tool_call``, is written out in :class:`kt_guard.Guard`.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only
    import kt
    from kt_guard.plugin import GuardOptions

__all__ = ["Feature"]


class Feature(abc.ABC):
    """The guard a feature's hooks belong to, seen from the feature.

    A feature reads the guard's options for a creature with :meth:`guard_options`, and keeps its
    state for that creature in :meth:`guard_stash` under a key private to its module, so two
    guards given to one creature never share state.
    """

    @abc.abstractmethod
    def guard_options(self, agent: kt.Agent) -> GuardOptions:
        """The options this guard enforces for *agent*; every feature is off when they are bad."""

    @abc.abstractmethod
    def guard_stash(self, agent: kt.Agent) -> kt.Stash:
        """This guard's state for *agent*, shared by its features under their own keys."""


def now() -> float:
    """The trio clock, imported at use: loading the plugin stays trio-free (``kt --help``)."""
    import trio

    return trio.current_time()
