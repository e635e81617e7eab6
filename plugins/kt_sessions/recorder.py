"""The recorder: a per-creature plugin that writes the creature's events into its session.

``Agent.build(..., session=True)`` asks the kernel's session store for one (the store's
factory is :func:`open_recorder`) and registers it as a plugin of that creature only. Its
``kt_event`` runs first among the creature's observers (``tryfirst``) and commits each event
before the kernel hands it to anyone else.

A creature config can also ask for recording, with no help from the code that builds it::

    [[plugins]]
    name = "session"
    module = "kt_sessions"
    class = "SessionRecorder"
    session_dir = "./sessions"        # or path = "run.ktsession"

When two recorders are registered for one creature (the config's and ``session=``'s), the one
registered last (``session=``) records and the other stays idle.
"""

from __future__ import annotations

import datetime
import functools
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kt
from kt.events import (
    CreatureStopped,
    Event,
    HistoryReplaced,
    TextDelta,
    TurnCompleted,
)
from kt_sessions.events import SessionAttached
from kt_sessions.store import DELTA_SECONDS, SUFFIX, SessionStore

if TYPE_CHECKING:
    from kt_sessions.state import Closed, CreatureState

__all__ = ["SessionRecorder", "new_session_path", "open_recorder", "recorder_of"]

_RECORDER = kt.StashKey["SessionRecorder"]()  # the recorder that owns a creature
_SNAPSHOT_MIN_EVENTS = 500


def recorder_of(agent: Any) -> SessionRecorder | None:
    """The recorder writing *agent*'s session (``session=`` or a config plugin), if any."""
    return agent.stash.get(_RECORDER, None) if agent is not None else None


def new_session_path(name: str, session_dir: str | os.PathLike[str] | None = None) -> Path:
    """A fresh session file name: ``<creature>_<YYYYmmdd-HHMMSS>_<6 hex>.ktsession``.

    The creature name comes first, so ``kt resume NAME`` finds it by prefix; the short id
    keeps two runs started in the same second apart.
    """
    from kt_sessions.finder import sessions_dir

    folder = sessions_dir(session_dir)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "creature"
    return folder / f"{safe}_{stamp}_{uuid.uuid4().hex[:6]}{SUFFIX}"


def _source_of(source: Any) -> Any:
    """What to record about the config ``Agent.build`` got, so resume can rebuild from it."""
    if source is None or isinstance(source, kt.CreatureConfig):
        return None
    if isinstance(source, str | os.PathLike):
        text = os.fspath(source)
        if text.startswith("@"):
            return text  # a package reference: resolved again on resume
        return str(Path(text).expanduser().resolve())
    if isinstance(source, dict) or hasattr(source, "items"):
        return dict(source)
    return None


class SessionRecorder:
    """Records one creature's events into a session file (a plugin for that creature).

    Args:
        path: The session file; appended to when it exists. ``None``: a new file named after
            the creature in *session_dir*.
        name: The creature's name, to name a new file before the creature starts.
        session_dir: Folder for a new file (default ``~/.kt/sessions``).
        source: What the creature was built from (recorded so resume can rebuild it).
        durability: ``normal`` (survives the process being killed) or ``full`` (also fsync
            every commit: survives power loss, costs milliseconds per event).
        store: An open store to share (two creatures recording into one file).

    Attributes:
        state: The recorded creature's state as the log defines it (``None`` before start).
        creature: The agent recorded (``None`` before start).
    """

    kt_plugin_name = "kt.session"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        name: str | None = None,
        session_dir: str | os.PathLike[str] | None = None,
        source: Any = None,
        durability: str = "normal",
        store: SessionStore | None = None,
    ) -> None:
        if durability not in ("normal", "full"):
            raise ValueError(f"durability must be 'normal' or 'full', not {durability!r}")
        self._path = Path(path).expanduser() if path is not None else None
        if store is not None:
            self._path = store.path
        self._session_dir = session_dir
        self._source = source
        self._durability = durability
        self._store = store
        self.state: CreatureState | None = None
        self.creature: Any = None
        self.resumed: Closed | None = None  # set by kt_sessions.resume before start
        self.preloaded: CreatureState | None = None  # the state resume replayed, to reuse
        self._previous_last_event = 0
        self._idle = False
        self.memory: Any = None  # the MemoryIndex search_memory keeps between calls
        self._wake: Any = None
        self._since_snapshot = 0
        if self._path is None and name:
            self._path = new_session_path(name, session_dir)

    # -- What users see ------------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The session file (``None`` until known: a config-built recorder before start)."""
        return self._path

    @property
    def name(self) -> str | None:
        """The session's name: the file name without ``.ktsession`` (what ``kt resume`` takes)."""
        return None if self._path is None else self._path.name.removesuffix(SUFFIX)

    @property
    def store(self) -> SessionStore | None:
        """The open store, while the creature runs."""
        return self._store

    def __repr__(self) -> str:
        return f"<SessionRecorder {self._path}>"

    # -- Hooks ---------------------------------------------------------------------------------

    @kt.hookimpl(tryfirst=True)  # durable before any other observer (UI, log) is told
    async def kt_event(self, event: Event, creature: Any) -> None:
        """Write *event* to the session (streamed text in batches; see the module docs)."""
        if creature is not self.creature:
            if self._idle or not self._claim(creature):
                return
        store = self._store
        assert store is not None and self.state is not None
        if type(event) is TextDelta:
            store.append_delta(event)
            self.state.apply(event)
            pending_since = store.pending_since
            if pending_since is not None:
                if self._wake is not None and not self._wake.is_set():
                    self._wake.set()
                if time.monotonic() - pending_since >= DELTA_SECONDS:
                    store.flush()
            return
        event_id = store.append(event)
        self.state.apply(event, event_id)
        self._since_snapshot += 1
        if isinstance(event, TurnCompleted):
            limit = max(_SNAPSHOT_MIN_EVENTS, 4 * len(self.state.messages))
            if self._since_snapshot >= limit:
                self._snapshot()
        elif isinstance(event, CreatureStopped):
            self._finish()

    @kt.hookimpl
    async def kt_creature_started(self, creature: Any) -> None:
        """Record how to rebuild the creature, and any history it did not get from the log."""
        if creature is not self.creature:
            return
        assert self.state is not None
        resumed = self.resumed
        config = _unstructure_config(creature.config)
        await creature.emit(
            SessionAttached(
                session=self.name or "",
                config=config,
                source=self._recorded_source(creature),
                pwd=str(creature.working_dir),
                model=creature.llm_name,
                resumed_from=self._previous_last_event if resumed is not None else 0,
                interrupted_calls=resumed.interrupted_calls if resumed else (),
                interrupted_jobs=resumed.interrupted_jobs if resumed else (),
            )
        )
        if list(creature.history) != self.state.messages:
            reason = "resume" if resumed is not None else "attach"
            await creature.emit(HistoryReplaced(messages=tuple(creature.history), reason=reason))
        creature.start_job(self._flush_when_due, name="session flush", kind="task")
        if resumed is not None and creature.runner.has("kt_session_restore"):
            from kt_sessions.reader import SessionReader

            with SessionReader(self._path) as reader:
                await creature.runner.notify("kt_session_restore", creature=creature, reader=reader)

    # -- Inside --------------------------------------------------------------------------------

    def _claim(self, creature: Any) -> bool:
        owner = creature.stash.get(_RECORDER, None)
        if owner is not None and owner is not self:
            self._idle = True  # another recorder (registered later) records this creature
            return False
        if self._path is None:
            self._path = new_session_path(creature.name, self._session_dir)
        if self._store is None or self._store.closed:
            self._idle = True  # if the file cannot be opened, say so once, not on every event
            self._store = SessionStore.open(
                self._path, durability=self._durability, creature=creature.name
            )
            self._idle = False
            self._path = self._store.path  # a migrated file is written beside the old one
        else:
            self._store.claim(creature.name)
        creature.stash[_RECORDER] = self
        store = self._store
        store.users += 1
        if store.fresh:  # a file this store just made: no events, nothing to read
            from kt_sessions.state import CreatureState

            last = 0
            self.state = CreatureState(creature.name)
        else:
            last = store.last_event_id(creature.name)
            preloaded = self.preloaded
            if preloaded is not None and preloaded.last_event_id == last:
                self.state = preloaded
            else:
                from kt_sessions.replay import load_state

                self.state = load_state(store.db, creature.name)
        self.preloaded = None
        self._previous_last_event = last
        self.creature = creature
        return True

    def _recorded_source(self, creature: Any) -> Any:
        source = _source_of(self._source)
        if source is None and self._source is None and creature.config.files:
            source = str(creature.config.files[-1])
        return source

    async def _flush_when_due(self) -> None:
        """Write buffered streamed text at most :data:`DELTA_SECONDS` after it arrived."""
        import trio

        while True:
            self._wake = trio.Event()
            await self._wake.wait()
            await trio.sleep(DELTA_SECONDS)
            if self._store is not None and not self._store.closed:
                self._store.flush()

    def _snapshot(self) -> None:
        assert self._store is not None and self.state is not None
        self._store.save_snapshot(
            self.state.creature, self.state.to_json(), self.state.last_event_id
        )
        self._since_snapshot = 0

    def _finish(self) -> None:
        store = self._store
        assert store is not None
        self._snapshot()
        store.users -= 1
        store.release(self.state.creature)
        if store.users <= 0:
            store.close()
        self.creature = None
        self._wake = None


def _unstructure_config(config: Any) -> dict[str, Any]:
    return _config_converter().unstructure(config)


@functools.cache
def _config_converter() -> Any:
    """The converter that records configs: made once (making one costs milliseconds)."""
    import cattrs

    converter = cattrs.Converter()
    converter.register_unstructure_hook(Path, str)
    return converter


def open_recorder(
    path: Any = None,
    *,
    name: str | None = None,
    session_dir: str | os.PathLike[str] | None = None,
    source: Any = None,
    **options: Any,
) -> SessionRecorder:
    """The ``kt_sessions`` store factory (what ``Agent.build(session=...)`` calls).

    Args:
        path: ``None`` (new file), a path, a :class:`SessionRecorder` not yet in use (taken
            as is), or one already recording another creature (its file is shared).
        name: The creature's name.
        session_dir: Folder for a new file.
        source: What the creature is built from.
        **options: :class:`SessionRecorder` options (``durability``).

    Returns:
        The recorder to register for the creature.
    """
    if path is not None and not isinstance(path, SessionRecorder):
        _check_writable(Path(path).expanduser())
    if isinstance(path, SessionRecorder):
        if path.creature is None and not path._idle and path.state is None:
            if path._source is None:
                path._source = source
            if path._path is None and name:
                path._path = new_session_path(name, session_dir or path._session_dir)
            return path
        return SessionRecorder(store=path.store, source=source, path=path.path, **options)
    return SessionRecorder(path, name=name, session_dir=session_dir, source=source, **options)


def _check_writable(path: Path) -> None:
    """Refuse at build time a file that is not a session or that a live process writes.

    Raises:
        SessionFormatError: not a session file, or too new.
        SessionBusyError: another live process writes it.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return
    from kt_sessions import db as _db
    from kt_sessions.errors import SessionFormatError
    from kt_sessions.migrate import version_of
    from kt_sessions.store import check_not_busy

    version = version_of(path)
    if version is None:
        raise SessionFormatError(f"{path} is not a kt session file; pass a new path or a session")
    if version > _db.SCHEMA_VERSION:
        raise SessionFormatError(
            f"{path} was written by a newer kt_sessions (schema {version}); upgrade kt-terrarium"
        )
    db = _db.open_untouched(path)
    try:
        meta = _db.read_meta(db)
    finally:
        db.close()
    check_not_busy(path, meta.get("status"), meta.get("owner"))
