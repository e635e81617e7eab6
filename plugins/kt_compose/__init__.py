"""``kt_compose``: pipelines of agents and functions, written with operators.

A *step* is anything with ``async run(input) -> output``; steps combine with ``>>`` (then),
``&`` (both, concurrently), ``|`` (fallback), ``*`` (retry), ``.map``, ``.iterate`` and
routers, and agents enter as steps through :func:`agent` and :func:`factory`::

    import kt_compose as compose

    async with compose.agent(writer_cfg) as writer, compose.agent(critic_cfg) as critic:
        verdict = await (writer >> critic)("Write a haiku about trio")

See :mod:`kt_compose.steps` and ``docs/concepts/compose.md``. A library layer over the
kernel's public API, loaded on first use of one of its names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kt_compose.errors import ComposeError  # noqa: F401
    from kt_compose.steps import *  # noqa: F403

_LAZY = {
    "AgentFactoryRunnable": "kt_compose.steps",
    "AgentRunnable": "kt_compose.steps",
    "Effects": "kt_compose.steps",
    "Fallback": "kt_compose.steps",
    "FailsWhen": "kt_compose.steps",
    "Iteration": "kt_compose.steps",
    "Product": "kt_compose.steps",
    "Pure": "kt_compose.steps",
    "Retry": "kt_compose.steps",
    "Router": "kt_compose.steps",
    "Runnable": "kt_compose.steps",
    "Sequence": "kt_compose.steps",
    "agent": "kt_compose.steps",
    "as_runnable": "kt_compose.steps",
    "factory": "kt_compose.steps",
    "ComposeError": "kt_compose.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kt_compose' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
