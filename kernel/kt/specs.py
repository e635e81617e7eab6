"""Specs that registration hooks return for creature modules other than tools and LLMs.

Each spec names a module and says how to build it. Names are unique per registry; a clash is a
:class:`kt.errors.RegistryClashError` naming both plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

__all__ = [
    "ControllerSpec",
    "InputSpec",
    "OutputSpec",
    "PromptSection",
    "RenderedPrompt",
    "SessionStoreSpec",
    "SubAgentSpec",
    "TransportSpec",
    "TriggerSpec",
]


@attrs.frozen
class _NamedFactory:
    """The fields every spec below starts with (positional, in this order).

    Attributes:
        name: The name configs and callers use; unique per registry.
        factory: Builds the thing; each spec says what it is called with and returns.
        description: One line for listings.
    """

    name: str
    factory: Callable[..., Any]
    description: str = ""


@attrs.frozen
class SubAgentSpec(_NamedFactory):
    """A sub-agent offered to creatures (``subagents = [{name = "explore"}]``).

    ``factory(entry, agent) -> ToolSpec`` builds the tool the parent's model calls (with a
    ``task`` argument) for one creature; *entry* is the config entry (its ``options``
    included) and *agent* the parent :class:`kt.Agent`.
    """


@attrs.frozen
class TriggerSpec(_NamedFactory):
    """A trigger type (``triggers = [{type = "timer", interval = 60}]``; *name* is the ``type``).

    ``factory(entry, agent)`` returns an object with ``async run(agent, *, task_status)`` that
    injects events until cancelled.
    """


@attrs.frozen
class InputSpec(_NamedFactory):
    """An input module (``input = {type = "cli"}``); ``factory(entry, agent)`` builds it."""


@attrs.frozen
class OutputSpec(_NamedFactory):
    """An output module (``output = {type = "stdout"}``).

    ``factory(entry, agent)`` builds an object with ``async on_event(event)``, and optionally
    ``async start()`` / ``async stop()``. Every event of the creature reaches it, in order.
    """


@attrs.frozen
class ControllerSpec(_NamedFactory):
    """A reasoning loop (``[controller] loop = "name"``).

    ``factory(agent)`` returns the coroutine function that runs each turn:
    ``async (agent, request) -> TurnResult``. It owns the whole turn: it publishes
    ``TurnStarted`` / ``TurnCompleted``, appends to the history and sets ``request.result``
    and ``request.done`` (the kernel's own, ``"default"``, is
    :func:`kt.runtime.controller.run_turn`; a new loop usually wraps it).
    """


@attrs.frozen
class SessionStoreSpec(_NamedFactory):
    """A persistence backend.

    Attributes:
        factory: ``factory(path, **options)`` opens a store for one creature and returns a
            plugin object (it implements ``kt_event``) that ``Agent.build(session=...)``
            registers for that creature. *path* is ``None`` for a new session file.
        resume: ``async resume(path, **build_options) -> Agent``: what ``Agent.resume``
            calls; ``None`` when the store cannot resume.
        reader: ``reader(path)`` returns an object to read a recorded session with:
            what ``kt.SessionReader`` calls; ``None`` when the store cannot read.
        resume_terrarium: ``async resume_terrarium(path, engine, **options) -> list[str]``:
            rebuilds a recorded graph into a running ``kt_terrarium.Terrarium`` (what
            ``Terrarium.resume`` calls) and returns the creature ids; ``None`` when the store
            cannot.
        graph_store: ``graph_store(directory, meta) -> store``: opens a new session file in
            *directory* for one graph session of a ``kt_terrarium.Terrarium`` (what the engine
            calls when it persists a graph). *meta* has ``session_id``, ``graph_id``,
            ``parent_session_ids``, ``origin``, ``name`` and ``created_at``. The store has
            ``path``, ``append(record)`` (an event's wire shape plus ``graph_id``, and
            ``copied_from`` for records copied from a parent session), ``records()`` and
            ``close()``; the file opens with ``reader``. ``None`` when the store cannot record
            graphs.
    """

    resume: Callable[..., Any] | None = None
    reader: Callable[..., Any] | None = None
    resume_terrarium: Callable[..., Any] | None = None
    graph_store: Callable[..., Any] | None = None


@attrs.frozen
class TransportSpec(_NamedFactory):
    """A way to host creatures elsewhere (``engine.add_creature(config, transport=name)``).

    ``factory(**options)`` builds the transport; *options* come from
    ``kt_terrarium.Terrarium(transports={name: options})``. The object is an async context
    manager with ``async place(placement) -> link``; the protocol, the placement and the
    messages a link carries are ``kt_terrarium.transport``'s.
    """


@attrs.frozen
class PromptSection:
    """A section a plugin contributes to a creature's system prompt.

    Attributes:
        key: A stable identifier (``"guard.constraints"``), used to sort and to override.
        text: The section text (markdown). Empty text contributes nothing.
        order: Sections sort by ``(order, key)``: lower comes first. The base prompt is 0;
            tool guidance is 100; plugins default to 500.
    """

    key: str
    text: str
    order: int = 500


@attrs.frozen
class RenderedPrompt:
    """A base system prompt rendered by a ``kt_render_prompt`` plugin.

    Attributes:
        text: The rendered text.
        uses_tools: The template placed the generated tools section itself (``{{ tools }}``),
            so the runtime does not add it again.
    """

    text: str
    uses_tools: bool = False
