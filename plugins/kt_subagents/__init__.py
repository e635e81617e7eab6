"""Built-in sub-agents: explore, plan, worker, critic, summarize and research.

A creature lists the sub-agents it may start (``subagents = ["explore", "worker"]``); each
becomes a tool its model calls with a ``task``. The call runs a nested creature with its own
conversation, the parent's model, and the tools it asks for that the parent also has. Its final
answer comes back to the parent (in the same turn, or later as a new turn when it ran in the
background); its whole transcript is published to the parent as :class:`SubAgentEvent` events.
See ``docs/reference/subagents.md``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import kt
from kt_subagents.builtins import BUILTINS, SubAgentDefinition, render_prompt

if TYPE_CHECKING:  # the runtime module loads when a creature first builds a sub-agent
    from kt_subagents.subagent import DEPTH, SubAgentEvent, SubAgentSettings, offered_subagents

_RUNTIME = "kt_subagents.subagent"

__all__ = [
    "BUILTINS",
    "DEPTH",
    "SubAgentDefinition",
    "SubAgentEvent",
    "SubAgentSettings",
    "offered_subagents",
    "render_prompt",
    "subagent_spec",
]


def __getattr__(name: str) -> Any:
    if name in ("DEPTH", "SubAgentEvent", "SubAgentSettings", "offered_subagents"):
        from kt_subagents import subagent

        return getattr(subagent, name)
    raise AttributeError(f"module 'kt_subagents' has no attribute {name!r}")


def subagent_spec(definition: SubAgentDefinition) -> kt.SubAgentSpec:
    """The ``kt.SubAgentSpec`` for *definition*, for plugins that offer sub-agents of their own.

    Start from a built-in with ``attrs.evolve(BUILTINS["explore"], name="scout", ...)`` or
    write a :class:`SubAgentDefinition` from scratch, and return the spec from your plugin's
    ``kt_subagents`` hook.
    """

    def factory(entry: Any, parent: Any) -> kt.ToolSpec:
        from kt_subagents.subagent import make_factory

        return make_factory(definition)(entry, parent)

    return kt.SubAgentSpec(definition.name, factory, definition.description)


@kt.hookimpl
def kt_subagents() -> list[kt.SubAgentSpec]:
    """Contribute the six built-in sub-agents."""
    return [subagent_spec(definition) for definition in BUILTINS.values()]


@kt.hookimpl
def kt_prompt_sections(creature: kt.Agent) -> list[kt.PromptSection]:
    """Tell a creature's model which sub-agents it has and how delegation works."""
    if _RUNTIME not in sys.modules:
        return []  # no creature has built a sub-agent yet: none is offered
    offered = sys.modules[_RUNTIME].offered_subagents(creature)
    if not offered:
        return []
    lines = [
        "## Sub-agents",
        "You can hand self-contained tasks to these helpers, each called like a tool with a "
        "`task`. A helper starts with an empty conversation and sees nothing of yours: put "
        "everything it needs in the task (the goal, paths and names, constraints, and what "
        "to return).",
        "",
    ]
    for settings in offered:
        marker = " [can modify files]" if settings.can_modify else ""
        lines.append(f"- {settings.name}{marker}: {settings.description}")
    lines += [
        "",
        "A helper runs in the background unless you pass `run_in_background: false`: you get "
        "a job id at once and its answer arrives later as a new message. Meanwhile do other "
        "work or end your turn; do not redo its task and do not wait or poll for it. Pass "
        "`run_in_background: false` when you need the answer before you can go on.",
    ]
    if "stop_task" in creature.tools:
        lines.append("Stop a helper you no longer need with `stop_task` and its job id.")
    return [kt.PromptSection("subagents", "\n".join(lines), order=150)]
