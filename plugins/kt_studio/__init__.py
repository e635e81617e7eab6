"""``kt_studio``: the management facade over the engine, sessions, packs, models and MCP.

Studio is the one place where management logic lives; the HTTP API (``kt_web``), the command
line and a desktop window are thin layers over it, and nothing in it speaks HTTP::

    from kt_studio import Studio

    async with Studio(session_dir="~/.kt/sessions") as studio:
        session = await studio.sessions.start_creature("@kt-biome/creatures/general")
        reply = await studio.sessions.chat(session.session_id, "root", "hello")

Its namespaces, each a thin layer over what a plugin already does:

* :attr:`Studio.catalog` (:mod:`~kt_studio.catalog`): installed packs and what they hold,
  built-in tools, sub-agents, triggers and plugins; install, update and uninstall packs.
* :attr:`Studio.identity` (:mod:`~kt_studio.identity`): LLM backends and presets, the default
  model, custom endpoints, API keys (always masked on the way out), the MCP registry.
* :attr:`Studio.sessions` (:mod:`~kt_studio.live`): live sessions (a creature or a terrarium
  started through Studio) and everything done to their creatures and channels.
* :attr:`Studio.persistence` (:mod:`~kt_studio.saved`): saved session files: listing with
  search and paging, resume, fork, delete, export, memory search.
* :attr:`Studio.attach` (:mod:`~kt_studio.attach`): live event streams of a session, a
  creature, a channel, or the whole runtime graph.

Values crossing the facade are attrs classes (:mod:`~kt_studio.values`); errors are
:class:`~kt_studio.errors.StudioError` subclasses or the engine's own. Importing this module
is cheap; the engine loads when a :class:`Studio` is created.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

kt_requires = (
    "kt_terrarium",  # every live creature is a node of the engine's graphs
    "kt_sessions",  # saved sessions: listing, reading, branching, resume, export
    "kt_packages",  # the catalog of installed packs
    "kt_llm",  # model settings and keys
    "kt_mcp",  # the MCP server registry
    "kt_tools",  # the scratchpad a creature keeps
    "kt_triggers",  # triggers added to and removed from a live creature
)

if TYPE_CHECKING:
    from kt_studio.errors import (  # noqa: F401
        SessionNotFoundError,
        StudioConflictError,
        StudioError,
        StudioInputError,
        TriggerNotFoundError,
        TurnFailedError,
    )
    from kt_studio.studio import Studio  # noqa: F401

_LAZY = {
    "Studio": "kt_studio.studio",
    **dict.fromkeys(
        [
            "SessionNotFoundError",
            "StudioConflictError",
            "StudioError",
            "StudioInputError",
            "TriggerNotFoundError",
            "TurnFailedError",
        ],
        "kt_studio.errors",
    ),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kt_studio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
