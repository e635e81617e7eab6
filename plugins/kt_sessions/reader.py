"""Reading a session file: turns, events, conversation, branches, usage and search.

A :class:`SessionReader` opens the file on its own read-only connection (WAL mode lets it
read while another process writes), so it works on finished runs, on runs still being
written, and on the file a killed process left behind. Each call reads what is committed at
that moment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
from peewee import fn

from kt import Message, Usage
from kt.events import Event as KernelEvent
from kt.events import from_wire
from kt_sessions import db as _db
from kt_sessions import events as _plugin_events  # noqa: F401  (registers our event types)
from kt_sessions.db import Creature, Event, Turn
from kt_sessions.db import Usage as UsageRow
from kt_sessions.errors import SessionError, SessionFormatError
from kt_sessions.finder import find_session
from kt_sessions.store import owner_alive
from kt_sessions.wire import row_to_wire, usage_from_wire

__all__ = ["LoggedEvent", "SessionInfo", "SessionReader", "ToolCallInfo", "TurnRecord"]


@attrs.frozen
class LoggedEvent:
    """One event as stored in the log.

    Attributes:
        id: Its id: monotonic over the whole file.
        type: The event's ``type`` name.
        creature: The creature it belongs to.
        turn_index: The turn it belongs to.
        timestamp: When it happened.
        wire: The event in the kernel's wire shape (``kt.events.to_wire``).
    """

    id: int
    type: str
    creature: str
    turn_index: int
    timestamp: float
    wire: dict[str, Any] = attrs.field(repr=False)

    @property
    def event(self) -> KernelEvent | None:
        """The event object (``kt.events.from_wire``), or ``None`` for a type not known here."""
        try:
            return from_wire(self.wire)
        except ValueError:
            return None


@attrs.frozen
class ToolCallInfo:
    """A tool call of a turn, with its result.

    Attributes:
        id: The call id.
        name: The tool name.
        args: The arguments as the model sent them.
        status: ``ok``, ``error``, ``timeout``, ``blocked``, ``interrupted``, ``cancelled``,
            ``running`` (background, or still going), or ``interrupted`` when the run ended
            before the call did.
        output: What the model saw.
        error: The error the model saw, if any.
        duration: Seconds it ran.
        background: Whether it ran in the background.
    """

    id: str
    name: str
    args: Any
    status: str
    output: str = ""
    error: str | None = None
    duration: float = 0.0
    background: bool = False


@attrs.frozen
class TurnRecord:
    """One turn as the log records it.

    Attributes:
        creature: Whose turn.
        index: The turn index (from 1, per creature).
        source: What started it (``user``, ``trigger``, ``tool_complete`` ...).
        input: The user's input text.
        text: The last model call's reply (what a chat shows last).
        output: All text streamed in the turn (for an open turn: what was streamed so far).
        tool_calls: The turn's tool calls with their results, in call order.
        usage: Tokens used by the turn's model calls.
        status: The ``TurnResult`` status; for a turn with no end recorded, ``running`` while
            its session is being written and ``interrupted`` otherwise (the run died).
        completed: Whether the turn's end was recorded.
        started_at: When it started.
        ended_at: When it ended (``None`` when not recorded).
        first_event_id: Its ``turn_started`` event.
        last_event_id: Its last event.
    """

    creature: str
    index: int
    source: str
    input: str
    text: str
    output: str
    tool_calls: tuple[ToolCallInfo, ...]
    usage: Usage
    status: str
    completed: bool
    started_at: float
    ended_at: float | None
    first_event_id: int
    last_event_id: int

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (``None`` when the end is not recorded)."""
        return None if self.ended_at is None else self.ended_at - self.started_at

    @property
    def user_text(self) -> str:
        """What the user said (the seed framework's name for :attr:`input`)."""
        return self.input

    @property
    def assistant_text(self) -> str:
        """The reply a chat shows last (the seed framework's name for :attr:`text`)."""
        return self.text


@attrs.frozen
class SessionInfo:
    """What a session listing shows about one file.

    Attributes:
        path: The file.
        name: Its name (the file name without ``.ktsession``).
        status: ``running`` (a live process writes it), ``paused`` (ended cleanly;
            resumable), ``crashed`` (the writer died), or ``unreadable``.
        creatures: The creatures recorded.
        created_at: When it was created.
        last_active: The last turn end or status change.
        turns: How many turns were recorded.
        preview: The first user input (first 80 characters).
        size: Bytes on disk (with the WAL file).
        parent: For a fork: ``{"path", "session_id", "event_id"}``; else ``None``.
        error: Why it could not be read (``status == "unreadable"``).
    """

    path: Path
    name: str
    status: str
    creatures: tuple[str, ...] = ()
    created_at: float = 0.0
    last_active: float = 0.0
    turns: int = 0
    preview: str = ""
    size: int = 0
    parent: dict[str, Any] | None = None
    error: str | None = None


def file_size(path: Path) -> int:
    """Bytes of a session file with its ``-wal`` sidecar."""
    total = 0
    for candidate in (path, Path(f"{path}-wal")):
        try:
            total += candidate.stat().st_size
        except OSError:
            pass
    return total


class SessionReader:
    """Read one session file (see the module docs). Use as a context manager, or ``close()``.

    Args:
        path: The session file, or a session name or prefix looked up in *session_dir*.
        session_dir: Where names are looked up (default ``~/.kt/sessions``).
        kernel: The plugin set for embedding providers (search); optional.

    Raises:
        SessionNotFoundError: no file or session matches *path*.
        SessionFormatError: the file is not a session file, or is too new.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        session_dir: str | os.PathLike[str] | None = None,
        kernel: Any = None,
    ) -> None:
        file = Path(path).expanduser()
        if not file.is_file():
            file = find_session(os.fspath(path), session_dir=session_dir)
        from kt_sessions.migrate import current_file, version_of

        version = version_of(file)
        if version is None:
            raise SessionFormatError(f"{file} is not a kt session file")
        if version > _db.SCHEMA_VERSION:
            raise SessionFormatError(
                f"{file} was written by a newer kt_sessions (schema {version}); upgrade "
                "kt-terrarium to read it"
            )
        if version < _db.SCHEMA_VERSION:
            file = current_file(file)  # upgraded into a sibling file; the original is kept
        self.path = file
        self.kernel = kernel
        self.db = _db.open_database(file, readonly=True)
        self._memory: Any = None

    def close(self) -> None:
        """Close the file."""
        self.db.close()

    def __enter__(self) -> SessionReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- Facts ---------------------------------------------------------------------------------

    @property
    def meta(self) -> dict[str, Any]:
        """Every meta value (schema version, session id, name, status, owner, lineage ...)."""
        return _db.read_meta(self.db)

    @property
    def name(self) -> str:
        """The session's name."""
        return self.path.name.removesuffix(".ktsession")

    @property
    def status(self) -> str:
        """``running``, ``paused`` or ``crashed`` (see :class:`SessionInfo`)."""
        meta = self.meta
        if meta.get("status") != "running":
            return meta.get("status", "paused")
        return "running" if owner_alive(meta.get("owner")) else "crashed"

    @property
    def creatures(self) -> list[str]:
        """The creatures recorded, in the order they first appeared."""
        query = Event.select(Event.creature).group_by(Event.creature).order_by(fn.MIN(Event.id))
        return [name for (name,) in query.tuples().execute(self.db)]

    def creature_record(self, creature: str | None = None) -> dict[str, Any]:
        """How *creature* was built: ``config`` (resolved), ``source``, ``pwd``, ``model``."""
        name = self._creature(creature)
        fields = (
            Creature.config,
            Creature.source,
            Creature.pwd,
            Creature.model,
            Creature.plugins,
            Creature.tools,
        )
        row = Creature.select(*fields).where(Creature.name == name).dicts().first(self.db)
        if row is None:
            row = {"config": {}, "source": None, "pwd": "", "model": "", "plugins": [], "tools": []}
        return row

    def info(self) -> SessionInfo:
        """This session as listings show it."""
        meta = self.meta
        first_input = Turn.select(Turn.input).where(Turn.source == "user").order_by(Turn.id)
        first = first_input.scalar(self.db)
        turns = Turn.select(fn.COUNT(Turn.id)).scalar(self.db)
        return SessionInfo(
            path=self.path,
            name=self.name,
            status=self.status,
            creatures=tuple(meta.get("creatures") or self.creatures),
            created_at=meta.get("created_at", 0.0),
            last_active=meta.get("last_active", 0.0),
            turns=turns,
            preview=(first or "").replace("\n", " ")[:80],
            size=file_size(self.path),
            parent=meta.get("parent"),
        )

    def _creature(self, creature: str | None) -> str:
        if creature is not None:
            return creature
        names = self.meta.get("creatures") or self.creatures
        if not names:
            raise SessionError(f"session {self.name} has no recorded creature yet")
        return names[0]

    # -- Events --------------------------------------------------------------------------------

    def events(
        self,
        type: str | Iterable[str] | None = None,
        *,
        creature: str | None = None,
        after: int = 0,
        until: int | None = None,
    ) -> Iterator[LoggedEvent]:
        """The logged events in order, optionally filtered.

        Args:
            type: One ``type`` name or several (``"tool_call_completed"``).
            creature: Only this creature's events.
            after: Only events with a greater id (to follow a live session).
            until: Only events with an id up to this one.
        """
        where = Event.id > after
        if until is not None:
            where &= Event.id <= until
        if creature is not None:
            where &= Event.creature == creature
        if type is not None:
            where &= Event.type.in_([type] if isinstance(type, str) else list(type))
        query = Event.select(
            Event.id, Event.type, Event.creature, Event.turn_index, Event.timestamp, Event.data
        )
        rows = list(query.where(where).order_by(Event.id).tuples().iterator(self.db))
        for event_id, type_, name, turn_index, timestamp, data in rows:
            yield LoggedEvent(
                event_id,
                type_,
                name,
                turn_index,
                timestamp,
                row_to_wire(type_, name, turn_index, timestamp, data),
            )

    def last_event_id(self) -> int:
        """The id of the newest event (0 for none)."""
        return Event.select(fn.MAX(Event.id)).scalar(self.db) or 0

    # -- Turns ---------------------------------------------------------------------------------

    def turns(self, creature: str | None = None) -> list[TurnRecord]:
        """Every recorded turn, in order (all creatures unless *creature* is given).

        Turns of every branch are listed; :meth:`branches` tells which are live.
        """
        types = (
            "creature_started",
            "turn_started",
            "turn_completed",
            "text_delta",
            "tool_call_started",
            "tool_call_completed",
            "llm_call_completed",
        )
        running = self.status == "running"
        open_turns: dict[tuple[str, int], dict[str, Any]] = {}
        done: list[dict[str, Any]] = []
        calls: dict[tuple[str, str], dict[str, Any]] = {}
        for logged in self.events(types, creature=creature):
            key = (logged.creature, logged.turn_index)
            wire = logged.wire
            if logged.type == "creature_started":  # a new run: turns still open died with the old
                for turn_key in [k for k in open_turns if k[0] == logged.creature]:
                    open_turns.pop(turn_key)["dead"] = True
                continue
            if logged.type == "turn_started":
                turn = {
                    "creature": logged.creature,
                    "index": logged.turn_index,
                    "source": wire.get("source", "user"),
                    "input": wire.get("input", ""),
                    "text": [],
                    "calls": [],
                    "usage": Usage(),
                    "result": None,
                    "started_at": logged.timestamp,
                    "first": logged.id,
                    "last": logged.id,
                    "dead": False,
                }
                open_turns[key] = turn
                done.append(turn)
                continue
            turn = open_turns.get(key)
            if turn is None:
                continue
            turn["last"] = max(turn["last"], logged.id)
            if logged.type == "text_delta":
                turn["text"].append(wire.get("text", ""))
            elif logged.type == "llm_call_completed":
                turn["usage"] = turn["usage"] + usage_from_wire(wire.get("usage", {}))
            elif logged.type == "tool_call_started":
                call = {"id": wire["call_id"], "name": wire["name"], "args": wire.get("args")}
                calls[(logged.creature, wire["call_id"])] = call
                turn["calls"].append(call)
            elif logged.type == "tool_call_completed":
                call = calls.get((logged.creature, wire["call_id"]))
                if call is not None:
                    call["done"] = wire
            elif logged.type == "turn_completed":
                turn["result"] = wire["result"]
        return [_turn_record(turn, running) for turn in done]

    # -- Conversation and branches -------------------------------------------------------------

    def state(self, creature: str | None = None, *, up_to: int | None = None) -> Any:
        """The replayed :class:`~kt_sessions.state.CreatureState` of *creature*."""
        from kt_sessions.replay import load_state

        return load_state(self.db, self._creature(creature), up_to=up_to)

    def conversation(
        self, creature: str | None = None, *, branch: Iterable[int] | None = None
    ) -> list[Message]:
        """The conversation (history, without the system prompt) of *creature*.

        Args:
            creature: Whose (default: the first creature).
            branch: A branch path (see :meth:`branches`); default: the live one, which is
                the newest branch unless another was selected.

        For a run that ended without closing its last turn (a crash), the turn is closed as
        resume would: partial reply kept and marked, missing tool results "Interrupted".

        Raises:
            SessionError: *branch* does not exist.
        """
        state = self.state(creature)
        if branch is not None:
            messages = state.branch_messages(tuple(branch))
            if messages is None:
                raise SessionError(
                    f"no branch {tuple(branch)} in session {self.name}; branches() lists them"
                )
            return messages
        if self.status == "running":
            return list(state.messages)
        return state.closed().messages

    def branches(self, creature: str | None = None) -> list[Any]:
        """Every branch of every user turn (:class:`~kt_sessions.state.Branch`), by path."""
        return self.state(creature).branches()

    def usage(self, creature: str | None = None) -> Usage:
        """Cumulative token usage of *creature* (default: all creatures together)."""
        query = UsageRow.select(UsageRow.totals)
        if creature is not None:
            query = query.where(UsageRow.creature == creature)
        total = Usage()
        for (totals,) in query.tuples().execute(self.db):
            total = total + usage_from_wire(totals)
        return total

    # -- Memory --------------------------------------------------------------------------------

    @property
    def memory(self) -> Any:
        """The session's :class:`~kt_sessions.memory.MemoryIndex` (read-only connection)."""
        if self._memory is None:
            from kt_sessions.memory import MemoryIndex

            self._memory = MemoryIndex(self.db, kernel=self.kernel)
        return self._memory

    def search(
        self,
        query: str,
        *,
        mode: str = "auto",
        k: int = 10,
        creature: str | None = None,
        embedder: Any = None,
    ) -> list[Any]:
        """Search the session's memory; see :meth:`kt_sessions.memory.MemoryIndex.search`."""
        return self.memory.search(query, mode=mode, k=k, creature=creature, embedder=embedder)


def _turn_record(turn: dict[str, Any], running: bool) -> TurnRecord:
    result = turn["result"]
    running = running and not turn["dead"]
    input_ = turn["input"]
    if not isinstance(input_, str):
        from kt_sessions.store import wire_text

        input_ = wire_text(input_)
    calls = []
    for call in turn["calls"]:
        done = call.get("done")
        if done is None:
            status = "running" if running and result is None else "interrupted"
            calls.append(ToolCallInfo(call["id"], call["name"], call["args"], status))
        else:
            calls.append(
                ToolCallInfo(
                    call["id"],
                    call["name"],
                    call["args"],
                    done["status"],
                    done.get("output", ""),
                    done.get("error"),
                    done.get("duration", 0.0),
                    bool(done.get("background")),
                )
            )
    streamed = "".join(turn["text"])
    if result is not None:
        return TurnRecord(
            creature=turn["creature"],
            index=turn["index"],
            source=turn["source"],
            input=input_,
            text=result.get("text", ""),
            output=result.get("output", streamed),
            tool_calls=tuple(calls),
            usage=usage_from_wire(result.get("usage", {})),
            status=result["status"],
            completed=True,
            started_at=turn["started_at"],
            ended_at=result.get("ended_at"),
            first_event_id=turn["first"],
            last_event_id=turn["last"],
        )
    return TurnRecord(
        creature=turn["creature"],
        index=turn["index"],
        source=turn["source"],
        input=input_,
        text=streamed.strip(),
        output=streamed,
        tool_calls=tuple(calls),
        usage=turn["usage"],
        status="running" if running else "interrupted",
        completed=False,
        started_at=turn["started_at"],
        ended_at=None,
        first_event_id=turn["first"],
        last_event_id=turn["last"],
    )
