"""Hook specifications that ``kt_sessions`` adds to every kernel it is loaded in.

``kt_sessions`` adds this module to the kernel's plugin manager from its ``kt_addhookspecs``
implementation. Other plugins implement these hooks without importing ``kt_sessions``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("kt")


@hookspec
def kt_embedding_providers(register: Callable[..., None]) -> None:
    """Offer embedding models for session memory search.

    Called each time memory search needs an embedder by name (``kt embedding --provider``,
    a creature's ``memory.embedding.provider``, the ``search_memory`` tool), once per plugin.
    Call ``register(name, factory, description="")`` for each provider. ``factory(model,
    dimensions)`` (either may be ``None``: your defaults) returns an object with ``provider``
    (your name), ``model``, ``dimensions`` and ``embed(texts) -> list of vectors``. Raise
    ``kt_sessions.errors.MemoryIndexError``-like ``KTError`` subclasses with a fix when your
    package or weights are missing. A name registered twice: the later plugin wins.

    Args:
        register: ``register(name, factory, description="")``.

    Use in creature plugins:
        Not called.
    """


@hookspec
def kt_session_restore(creature: Any, reader: Any) -> None:
    """Rebuild your plugin's state for a creature resumed from a session.

    Called once when a creature rebuilt by ``kt_sessions.resume`` (``Agent.resume``,
    ``kt resume``) starts, after its conversation is restored and before its first turn. Read
    your own events back with ``reader.events(type=...)`` (a ``kt_sessions.SessionReader`` on
    the session file; events of types this process does not know come back as wire dicts in
    ``logged.wire``). May be ``async def``. Errors are reported as ``error`` events and do not
    stop the creature.

    Args:
        creature: The resumed agent (started).
        reader: A reader of its session.

    Use in creature plugins:
        Called for that creature.
    """
