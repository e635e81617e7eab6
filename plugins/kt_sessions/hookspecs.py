"""Hook specifications that ``kt_sessions`` adds to every kernel it is loaded in.

``kt_sessions`` adds this module to the kernel's plugin manager from its ``kt_addhookspecs``
implementation. Other plugins implement these hooks without importing ``kt_sessions``.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("kt")


@hookspec
def kt_embedding_providers(register: Callable[..., None]) -> None:
    """Offer embedding models for session memory search.

    Called each time memory search needs an embedder by name (``kt embedding --provider``,
    a creature's ``memory.embedding.provider``, the ``search_memory`` tool), once per plugin.
    Call ``register(name, factory, description="")`` for each provider. ``factory(model,
    dimensions)`` (either may be ``None``: your defaults) returns an object with ``provider``
    (your name), ``model``, ``dimensions`` and ``embed(texts) -> list of vectors``
    (L2-normalised). A factory that also takes ``options`` receives the other keys of
    ``memory.embedding`` (``base_url`` ...); one that does not is never given any. An embedder
    doing I/O adds ``async aembed(texts)``; one with a ``config`` table (no secrets) has it
    recorded in the session, to be rebuilt exactly for later searches. Start the description
    with ``lexical:`` or ``semantic:`` (what the vectors match). Raise
    ``kt_sessions.errors.MemoryIndexError``-like ``KTError`` subclasses with a fix when your
    package or weights are missing. A name registered twice: the later plugin wins.

    Args:
        register: ``register(name, factory, description="")``.

    Use in creature plugins:
        Not called.
    """
