"""The engine's graph session files, as Studio needs them: sealed at a stop, whole at a resume.

The engine records every graph session through a store (``kt_terrarium.GraphStore``) that
Studio's :class:`StudioStores` opens for it. Two things need more than the plain store:

* **Stopping.** Taking a creature out of the engine is recorded as ``creature_removed``, so a
  session whose creatures were all removed would resume as an empty graph. Stopping a live
  session (``DELETE /api/sessions/active/ID``) is not an edit of its graph, it is the end of
  the run, like a server stopping: Studio first stops the creatures (their last turns are
  recorded), then *seals* the stores of the session's graphs (closed, ``paused``, ending as they
  stood), and only then takes the creatures out. The removals, and any graph the removals split
  off, write nothing, so resuming the file brings every creature back.
* **Resuming.** The engine rebuilds a recorded graph creature by creature; each starts in a
  graph of its own until the recorded edges merge them. While Studio resumes, stores *gather*:
  they keep their records in memory, and only those still open when the graph is whole become
  files. A resume writes one new file, not one per creature, and that file starts with a copy
  of the resumed file's records (``copied_from``, as the engine's merges copy theirs): it is
  whole, so resuming it again brings back everything the earlier runs recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["StudioStores"]


class StudioStores:
    """A ``store_factory`` for the engine, whose stores Studio can seal and gather.

    Args:
        factory: The kernel's graph store factory (``kt_terrarium.graph_store_factory``).
    """

    def __init__(self, factory: Any) -> None:
        self._factory = factory
        self._stores: dict[str, _Store] = {}  # graph session id -> its open store
        self._sealed: set[str] = set()
        self._gathered: list[_Store] | None = None

    def __call__(self, directory: Path, meta: Mapping[str, Any]) -> Any:
        """Open the store of a new graph session (the engine calls this).

        A session continuing a sealed one (a split or merge while a stop takes the graph
        apart) records nothing: it belongs to a run that ended.
        """
        session_id = str(meta.get("session_id", ""))
        if any(parent in self._sealed for parent in meta.get("parent_session_ids", ())):
            self._sealed.add(session_id)
            return _Store(sealed=True)

        def opened() -> Any:
            return self._factory(directory, meta)

        def forget() -> None:
            self._stores.pop(session_id, None)

        if self._gathered is not None:
            store = _Store(pending=opened, on_close=forget)
            self._gathered.append(store)
        else:
            store = _Store(opened(), on_close=forget)
        self._stores[session_id] = store
        return store

    def seal(self, session_ids: Iterable[str]) -> None:
        """Close the stores of these graph sessions; later records of them are dropped."""
        for session_id in session_ids:
            self._sealed.add(session_id)
            store = self._stores.pop(session_id, None)
            if store is not None:
                store.seal()

    @contextlib.contextmanager
    def gathering(self, earlier: Iterable[Mapping[str, Any]] = ()) -> Iterator[None]:
        """Keep the stores opened in the block in memory; write those still open at its end.

        Args:
            earlier: Records each written store starts with (the resumed file's, as copies).
        """
        self._gathered = []
        try:
            yield
        finally:
            gathered, self._gathered = self._gathered, None
            for store in gathered:
                store.write_out(earlier)


class _Store:
    """A graph store over the real one: sealable, and able to start in memory.

    Args:
        store: The real store (``None``: not opened yet, or never: sealed).
        pending: Opens the real store, for one that starts in memory.
        sealed: Drop every record.
        on_close: Called when the engine closes it (its graph ended, merged or split).
    """

    def __init__(
        self,
        store: Any = None,
        *,
        pending: Callable[[], Any] | None = None,
        sealed: bool = False,
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._pending = pending
        self._kept: list[dict[str, Any]] | None = [] if pending is not None else None
        self.path: Path | None = getattr(store, "path", None)
        self._sealed = sealed
        self._closed = False
        self._on_close = on_close

    def append(self, record: Mapping[str, Any]) -> None:
        if self._sealed:
            return
        if self._kept is not None:
            self._kept.append(dict(record))
        else:
            self._store.append(record)

    def records(self) -> Iterator[dict[str, Any]]:
        if self._sealed:  # closed: a split copying a sealed session's records copies none
            return iter(())
        if self._kept is not None:
            return iter(list(self._kept))
        return self._store.records()

    def write_out(self, earlier: Iterable[Mapping[str, Any]] = ()) -> None:
        """Open the real store; write *earlier*, then what was kept (not once closed or sealed)."""
        if self._pending is None or self._closed or self._sealed:
            return
        self._store, self._pending = self._pending(), None
        self.path = self._store.path
        kept, self._kept = self._kept or [], None
        for record in [*earlier, *kept]:
            self._store.append(record)

    def seal(self) -> None:
        self._sealed = True
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._store is not None:
            self._store.close()
        self._kept = None
        self._on_close()
