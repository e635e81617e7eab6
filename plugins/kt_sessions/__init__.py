"""Sessions: every run recorded in one SQLite file, resumable, readable, branchable, searchable.

The plugin contributes:

* the ``sqlite`` session store (``kt_session_stores``): ``kt.Agent.build(..., session=True)``
  records a creature into ``~/.kt/sessions/<creature>_<date>_<id>.ktsession``;
  ``kt.Agent.resume(path)`` rebuilds it (:func:`resume`); ``kt.SessionReader(path)`` reads it
  (:class:`SessionReader`);
* the ``search_memory`` tool (``kt_tools``), for creatures that list it;
* ``kt resume``, ``kt sessions list|show|delete|export``, ``kt search`` and ``kt embedding``
  (``kt_cli_commands``);
* the hook ``kt_embedding_providers`` (``kt_addhookspecs``); it calls the kernel's
  ``kt_session_restore`` when it resumes a creature.

Branching (:func:`regenerate`, :func:`edit`, :func:`select_branch`, :func:`fork`) and memory
search (:class:`MemoryIndex`) are plain functions over a recording agent or a file. See
``docs/guides/sessions.md`` and ``docs/reference/sessions.md``.

Importing this module is cheap: peewee and the rest load when a session is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import kt
import kt.plugins

kt.plugins.require_modules("peewee")  # without the sessions extra: fail to load, named

from kt_sessions import hookspecs  # noqa: E402

if TYPE_CHECKING:
    import click
    import pluggy

    from kt_sessions.branching import branches, edit, fork, regenerate, select_branch
    from kt_sessions.errors import (
        BranchError,
        ForkNotStableError,
        SessionError,
        SessionNotFoundError,
    )
    from kt_sessions.finder import find_session, last_session, session_files
    from kt_sessions.listing import list_sessions
    from kt_sessions.memory import HashingEmbedder, MemoryHit, MemoryIndex, make_embedder
    from kt_sessions.reader import LoggedEvent, SessionInfo, SessionReader, TurnRecord
    from kt_sessions.recorder import SessionRecorder, recorder_of
    from kt_sessions.resuming import resume
    from kt_sessions.state import Branch, CreatureState
    from kt_sessions.terrarium import SQLiteGraphStore, graph_store, resume_terrarium
    from kt_sessions.tool import search_memory

_LAZY = {
    "SessionRecorder": "kt_sessions.recorder",
    "search_memory": "kt_sessions.tool",
    "recorder_of": "kt_sessions.recorder",
    "CreatureState": "kt_sessions.state",
    "BranchError": "kt_sessions.errors",
    "ForkNotStableError": "kt_sessions.errors",
    "SessionError": "kt_sessions.errors",
    "SessionNotFoundError": "kt_sessions.errors",
    "SessionReader": "kt_sessions.reader",
    "SessionInfo": "kt_sessions.reader",
    "TurnRecord": "kt_sessions.reader",
    "LoggedEvent": "kt_sessions.reader",
    "Branch": "kt_sessions.state",
    "resume": "kt_sessions.resuming",
    "regenerate": "kt_sessions.branching",
    "edit": "kt_sessions.branching",
    "select_branch": "kt_sessions.branching",
    "branches": "kt_sessions.branching",
    "fork": "kt_sessions.branching",
    "find_session": "kt_sessions.finder",
    "last_session": "kt_sessions.finder",
    "session_files": "kt_sessions.finder",
    "list_sessions": "kt_sessions.listing",
    "MemoryIndex": "kt_sessions.memory",
    "MemoryHit": "kt_sessions.memory",
    "HashingEmbedder": "kt_sessions.memory",
    "make_embedder": "kt_sessions.memory",
    "graph_store": "kt_sessions.terrarium",
    "resume_terrarium": "kt_sessions.terrarium",
    "SQLiteGraphStore": "kt_sessions.terrarium",
}

__all__ = [
    "Branch",
    "BranchError",
    "CreatureState",
    "ForkNotStableError",
    "HashingEmbedder",
    "LoggedEvent",
    "MemoryHit",
    "MemoryIndex",
    "SessionInfo",
    "SessionReader",
    "SQLiteGraphStore",
    "SessionError",
    "SessionNotFoundError",
    "SessionRecorder",
    "TurnRecord",
    "branches",
    "edit",
    "find_session",
    "fork",
    "graph_store",
    "last_session",
    "list_sessions",
    "make_embedder",
    "recorder_of",
    "regenerate",
    "resume",
    "resume_terrarium",
    "search_memory",
    "select_branch",
    "session_files",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kt_sessions' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def _open(path: Any = None, **options: Any) -> Any:
    from kt_sessions.recorder import open_recorder

    return open_recorder(path, **options)


async def _resume(path: Any, **options: Any) -> kt.Agent:
    from kt_sessions.resuming import resume

    return await resume(path, **options)


async def _resume_terrarium(path: Any, engine: Any, **options: Any) -> list[str]:
    from kt_sessions.terrarium import resume_terrarium

    return await resume_terrarium(path, engine, **options)


def _read(path: Any) -> Any:
    from kt_sessions.reader import SessionReader

    return SessionReader(path)


@kt.hookimpl
def kt_session_stores() -> list[kt.SessionStoreSpec]:
    """Contribute the ``sqlite`` session store (peewee + SQLite, one file per run)."""
    return [
        kt.SessionStoreSpec(
            "sqlite",
            _open,
            "one SQLite file per run (*.ktsession): event log, resume, branches, memory search",
            resume=_resume,
            reader=_read,
            resume_terrarium=_resume_terrarium,
            graph_store=lambda directory, meta: importlib.import_module(
                "kt_sessions.terrarium"
            ).graph_store(directory, meta),
        )
    ]


@kt.hookimpl
def kt_tools() -> list[kt.ToolSpec]:
    """Offer ``search_memory`` to creatures that list it."""
    return [kt.LazySpec("search_memory", "kt_sessions.tool:search_memory")]


@kt.hookimpl
def kt_addhookspecs(pm: pluggy.PluginManager) -> None:
    """Declare ``kt_embedding_providers``."""
    pm.add_hookspecs(hookspecs)


@kt.hookimpl(optionalhook=True)  # declared by kt_cli, which may not be loaded
def kt_cli_commands(cli: click.Group) -> None:
    """Add ``kt resume``, ``kt sessions``, ``kt search`` and ``kt embedding``."""
    from kt_sessions.cli import add_commands

    add_commands(cli)
