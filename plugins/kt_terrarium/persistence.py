"""Where a graph's session is recorded: graph stores, found through the kernel's session stores.

The engine keeps no file format of its own. When a graph is persisted, it asks the kernel's
session-store registry (``kt_session_stores``) for a store whose
:class:`kt.SessionStoreSpec` has a ``graph_store`` member, and calls it once per graph session:
``graph_store(directory, meta)`` returns a :class:`GraphStore`. ``kt_sessions`` provides one that
writes a ``.ktsession`` file, so a terrarium's session opens with ``kt.SessionReader(path)``
like a creature's.

A **record** is an event in its wire shape (:func:`kt.events.to_wire`) plus ``graph_id``;
records copied from a parent session also carry ``copied_from`` (that session's id).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kt.errors import UnknownNameError
from kt.events import Event, to_wire
from kt_terrarium.errors import SessionStoreMissingError

if TYPE_CHECKING:
    from kt import Kernel

__all__ = [
    "INSTALL_HINT",
    "GraphStore",
    "StoreFactory",
    "copy_records",
    "graph_store_factory",
    "record",
    "session_meta",
]

INSTALL_HINT = "pip install 'kt-terrarium[sessions]'"
"""What to install for graph persistence (the extra that brings ``kt_sessions``' peewee)."""


@runtime_checkable
class GraphStore(Protocol):
    """Where one graph session's records go; one store per session, written by one graph only.

    Attributes:
        path: The file it writes, when it writes one.
    """

    path: Path | None

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record (durably, before returning, for a store that promises it)."""

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record so far, oldest first."""

    def close(self) -> None:
        """Stop writing; further appends are errors. Idempotent."""


StoreFactory = Callable[[Path, Mapping[str, Any]], GraphStore]
"""``factory(directory, meta) -> GraphStore``: opens a new store for one graph session in
*directory*; ``meta`` is :func:`session_meta`."""


def graph_store_factory(kernel: Kernel) -> StoreFactory:
    """The ``graph_store`` of the kernel's first session store that has one.

    Raises:
        SessionStoreMissingError: no loaded session store records graphs; the message names
            the extra to install.
    """
    try:
        spec = kernel.session_store(needs="graph_store")
    except UnknownNameError:
        loaded = sorted(kernel.session_stores)
        found = (
            f"session stores loaded: {', '.join(loaded)}, none of which records graphs"
            if loaded
            else "no session store is loaded"
        )
        raise SessionStoreMissingError(
            f"persisting a terrarium's graphs needs a session store that records them ({found}); "
            f"install the sessions extra ({INSTALL_HINT}) and load the kt_sessions plugin, or "
            "pass session_dir=None (and no session=) to persist nothing"
        ) from None
    return spec.graph_store


def session_meta(
    *, session_id: str, graph_id: str, parents: tuple[str, ...], origin: str, name: str
) -> dict[str, Any]:
    """The metadata a store is opened with.

    Returns:
        ``session_id``, ``graph_id``, ``parent_session_ids``, ``origin``, ``name`` and
        ``created_at`` (``time.time()``).
    """
    return {
        "session_id": session_id,
        "graph_id": graph_id,
        "parent_session_ids": list(parents),
        "origin": origin,
        "name": name,
        "created_at": time.time(),
    }


def record(event: Event, graph_id: str) -> dict[str, Any]:
    """*event* as a record of graph *graph_id*."""
    return {**to_wire(event), "graph_id": graph_id}


def copy_records(source: GraphStore, target: GraphStore, *, session_id: str) -> None:
    """Copy every record of *source* (the store of session *session_id*) into *target*."""
    for old in source.records():
        target.append({**old, "copied_from": old.get("copied_from", session_id)})
