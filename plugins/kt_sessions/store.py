"""Writing a session file: the append-only log and the tables derived from it.

One :class:`SessionStore` per open file and process; every creature recorded into the file
shares it. Writes happen on the caller's thread (the creature's trio thread) and are short:
an insert or two and a commit in WAL mode.

Durability rule: :meth:`SessionStore.append` commits before it returns, and the recorder calls
it from ``kt_event``, which the kernel awaits before any reader sees the event, so nothing is
reported done that is not on disk. Streamed text (``text_delta``) is the exception: it is
buffered and written in batches (:data:`DELTA_BATCH` chunks, or :data:`DELTA_SECONDS` seconds
after the first buffered one, or with the next other event, whichever comes first), so a killed
process loses at most the last second of a reply that was still streaming.

Memory blocks (the texts full-text search finds) are written with their event; their FTS5 index
entries are written with the turn's ``turn_completed`` event, or with the first event
:data:`INDEX_SECONDS` after the oldest block still unindexed (a long turn of tool calls), or by
:meth:`SessionStore.flush`. FTS5 writes an index segment per transaction that changes it:
indexing each message in its own event's transaction made recording a turn 15 % slower.
A search from another connection finds what was said up to the last completed turn; the
``search_memory`` tool flushes first, so a creature finds its own turn too. Blocks of a turn a
killed process never completed are indexed when the file is next opened for writing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from peewee import fn

from kt.events import Event as KernelEvent
from kt.events import TextDelta, to_wire
from kt_sessions import db as _db
from kt_sessions.db import (
    Block,
    BlockFTS,
    ChannelMessage,
    Creature,
    Event,
    Job,
    Prepared,
    Scratchpad,
    SessionMeta,
    Snapshot,
    SubAgentRun,
    Trigger,
    Turn,
    Usage,
    param,
    write_transaction,
)
from kt_sessions.errors import SessionBusyError, SessionFormatError
from kt_sessions.finder import SUFFIX
from kt_sessions.wire import BASE_FIELDS, dumps, event_fields, row_to_wire

__all__ = [
    "DELTA_BATCH",
    "DELTA_SECONDS",
    "INDEX_SECONDS",
    "SUFFIX",
    "SessionStore",
    "check_not_busy",
    "owner_alive",
    "wire_text",
]

DELTA_BATCH = 32
DELTA_SECONDS = 1.0
INDEX_SECONDS = 1.0
_BLOCK_CHARS = 4000  # longer texts are split into several memory blocks
_TOOL_ARGS_CHARS = 1000
# Memory searches and their results would only find themselves next time.
_NOT_INDEXED_TOOLS = frozenset({"search_memory"})
# FTS5 keeps one row per indexed row in its ``_docsize`` table: the highest is the last block
# indexed, as blocks are indexed in id order.
_LAST_INDEXED_BLOCK = f'SELECT MAX(id) FROM "{BlockFTS._meta.table_name}_docsize"'
_BLOCKS_AFTER = f'SELECT id, content FROM "{Block._meta.table_name}" WHERE id > ? ORDER BY id'


def owner_alive(owner: Mapping[str, Any] | None) -> bool:
    """Whether the process recorded as *owner* of a session still runs (on this host)."""
    if not owner:
        return False
    if owner.get("host") != socket.gethostname():
        return True  # cannot tell for another machine: assume it is alive
    pid = int(owner.get("pid", 0))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_not_busy(path: Path, status: Any, owner: Mapping[str, Any] | None) -> None:
    """Refuse a session another live process is writing (this process may share it).

    Raises:
        SessionBusyError: naming the process and what to do.
    """
    if status == "running" and owner and owner.get("pid") != os.getpid() and owner_alive(owner):
        raise SessionBusyError(
            f"session {path.name} is being written by process {owner.get('pid')} on "
            f"{owner.get('host')}; stop that run first, or fork the session "
            "(kt_sessions.fork) to continue it separately"
        )


def wire_text(content: Any) -> str:
    """The text of wire-shaped message content (a string, or a list of part dicts)."""
    if isinstance(content, str):
        return content
    return "".join(
        p.get("text", "") if p.get("type") == "text" else "[image]" for p in content or ()
    )


@contextlib.contextmanager
def _unsynced_log_header(db: Any, durability: str) -> Iterator[None]:
    """Let the first transaction of a new file create its write-ahead log without an fsync.

    SQLite syncs the header of a write-ahead log when it starts one (and, for a new log file,
    the folder), which made the fsync latency of a busy disk, up to ten milliseconds, the cost
    of opening a new session. That sync protects the frames of an older log still in the file
    from being replayed after a power cut; a new file's log has none. With ``normal``
    durability no commit is synced either (a power cut may lose the last ones; a killed
    process loses nothing), so nothing is given up. ``full`` keeps every sync.
    """
    if durability != "normal":
        yield
        return
    connection = db.connection()
    connection.execute("PRAGMA synchronous=OFF")
    try:
        yield
    finally:
        connection.execute("PRAGMA synchronous=NORMAL")


class SessionStore:
    """An open session file, for writing.

    Use :meth:`open`. Every method commits before it returns, except :meth:`append_delta`
    (batched; see the module docs).

    Attributes:
        path: The file.
        db: The peewee database (the models of :mod:`kt_sessions.db` run on it).
        fresh: The store created the file and nothing was logged into it yet: every creature's
            state is empty, with no need to read it.
    """

    def __init__(self, path: Path, db: Any, *, fresh: bool = False) -> None:
        self.path = path
        self.db = db
        self.fresh = fresh
        self._unindexed: list[dict[str, Any]] = []  # blocks written, not yet in the FTS index
        self._unindexed_since = 0.0  # time.monotonic() of the oldest of them
        self._pending: list[dict[str, Any]] = []
        self.pending_since: float | None = None  # time.monotonic() of the oldest buffered delta
        self.users = 0  # recorders sharing this store; the last one to leave closes it
        self.closed = False
        self._hot = _statements()

    # -- Opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        durability: str = "normal",
        meta: Mapping[str, Any] | None = None,
        creature: str | None = None,
    ) -> SessionStore:
        """Open *path* for writing, creating it (and its folder) when it does not exist.

        A file written by an older version of the plugin is first migrated into a new sibling
        file (see :mod:`kt_sessions.migrate`); the original is left untouched, and the store
        writes to the new file.

        Args:
            path: The session file.
            durability: ``normal`` or ``full`` (see :func:`kt_sessions.db.open_database`).
            meta: Meta values for a new file (name, lineage ...).
            creature: Claim the file for this creature (:meth:`claim`), in the transaction
                that writes a new file's meta.

        Raises:
            SessionFormatError: the file is not a session, or is newer than this plugin.
            SessionBusyError: another live process is writing it.
        """
        path = Path(path)
        if path.exists():
            from kt_sessions.migrate import current_file

            path = current_file(path)
        new = not path.exists() or path.stat().st_size == 0
        if new:
            _db.write_empty_session(path)
        db = _db.open_database(path, durability=durability)
        if not new:
            version = _db.schema_version(db)
            if version is None:
                db.close()
                raise SessionFormatError(
                    f"{path} is not a kt session file; pass a *{SUFFIX} file or a new path"
                )
            if version > _db.SCHEMA_VERSION:
                db.close()
                raise SessionFormatError(
                    f"{path} was written by a newer kt_sessions (schema {version}, this one "
                    f"reads up to {_db.SCHEMA_VERSION}); upgrade kt-terrarium"
                )
            _db.create_schema(db)  # tables a file of this schema version may lack
        store = cls(path, db, fresh=new)
        if new:
            now = time.time()
            values = {
                "schema_version": _db.SCHEMA_VERSION,
                "session_id": uuid.uuid4().hex,
                "name": path.name.removesuffix(SUFFIX),
                "created_at": now,
                "last_active": now,
                "status": "paused",
                "owner": None,
                "config_type": "agent",
                "creatures": [],
            }
            values.update(meta or {})
            with _unsynced_log_header(db, durability), write_transaction(db):
                store._write_meta(values)
                if creature is not None:
                    store._write_meta(store._claim_values(creature))
            return store
        status, owner = store.get_meta("status"), store.get_meta("owner")
        try:
            check_not_busy(path, status, owner)
        except SessionBusyError:
            db.close()
            raise
        if not (status == "running" and owner_alive(owner)):  # else its writer indexes them
            store._index_leftover_blocks()
        if creature is not None:
            store.claim(creature)
        return store

    # -- Meta ----------------------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        """One meta value (JSON-decoded), or *default*."""
        row = self._hot.get_meta.run(self.db, key=key).fetchone()
        return default if row is None else SessionMeta.value.python_value(row[0])

    def set_meta(self, **values: Any) -> None:
        """Set meta values (JSON-encoded) in one transaction."""
        with write_transaction(self.db):
            self._write_meta(values)

    def _write_meta(self, values: Mapping[str, Any]) -> None:
        rows = [{"key": key, "value": value} for key, value in values.items()]
        self._hot.set_meta.run_many(self.db, rows)

    def claim(self, creature: str) -> None:
        """Record that this process now writes the session and records *creature* in it.

        What :meth:`mark_running` and :meth:`add_creature` do, in one transaction.
        """
        with write_transaction(self.db):
            self._write_meta(self._claim_values(creature))

    def _claim_values(self, creature: str) -> dict[str, Any]:
        values = self._running_values(creature)
        creatures = self.get_meta("creatures", [])
        if creature not in creatures:
            values["creatures"] = [*creatures, creature]
        return values

    def mark_running(self, creature: str) -> None:
        """Record that this process now writes the session, and records *creature*."""
        with write_transaction(self.db):
            self._write_meta(self._running_values(creature))

    def _running_values(self, creature: str) -> dict[str, Any]:
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        recording = self.get_meta("recording", {}) or {}
        recording[creature] = owner
        return {
            "status": "running",
            "owner": owner,
            "recording": recording,
            "last_active": time.time(),
        }

    def release(self, creature: str) -> None:
        """*creature* stopped recording; the last one out marks the session ``paused``."""
        with write_transaction(self.db):
            recording = self.get_meta("recording", {}) or {}
            recording.pop(creature, None)
            values = {"recording": recording, "last_active": time.time()}
            if self.users <= 0:
                values |= {"status": "paused", "owner": None}
            self._write_meta(values)

    def add_creature(self, name: str) -> None:
        """List *name* among the session's creatures (meta ``creatures``)."""
        with write_transaction(self.db):
            creatures = self.get_meta("creatures", [])
            if name not in creatures:
                self._write_meta({"creatures": [*creatures, name]})

    # -- The log -------------------------------------------------------------------------------

    def append_delta(self, event: TextDelta) -> None:
        """Buffer a streamed text chunk; it is written with the next batch (module docs)."""
        if self.pending_since is None:
            self.pending_since = time.monotonic()
        self._pending.append(
            {
                "creature": event.creature,
                "type": event.type,
                "turn_index": event.turn_index,
                "timestamp": event.timestamp,
                "data": event_fields(event),
            }
        )
        if len(self._pending) >= DELTA_BATCH:
            self.flush()

    def flush(self) -> None:
        """Write and commit the buffered text chunks, and index the blocks not yet indexed."""
        if self._pending or self._unindexed:
            kept = self._keep()
            try:
                with write_transaction(self.db):
                    self._write_pending()
                    self._index_blocks()
            except BaseException:
                self._restore(kept)
                raise

    def _write_pending(self) -> None:
        if self._pending:
            self.fresh = False
            rows, self._pending = self._pending, []
            self.pending_since = None
            self._hot.insert_event.run_many(self.db, rows)

    def append(self, event: KernelEvent) -> int:
        """Write *event* (after any buffered chunks) and what derives from it; commit.

        Returns:
            The event's id in the log.
        """
        wire = to_wire(event)
        return self._append(wire, {k: v for k, v in wire.items() if k not in BASE_FIELDS})

    def append_wire(self, wire: Mapping[str, Any]) -> int | None:
        """Write an event given in its wire shape (extra keys are kept); commit.

        Streamed text (``text_delta``) is buffered like :meth:`append_delta`, and written
        with the next other event, at the 32nd chunk, or once the oldest is a second old.

        Returns:
            The event's id, or ``None`` for a buffered chunk.
        """
        data = {k: v for k, v in wire.items() if k not in BASE_FIELDS}
        if wire["type"] != "text_delta":
            return self._append(wire, data)
        if self.pending_since is None:
            self.pending_since = time.monotonic()
        self._pending.append({**{k: wire[k] for k in BASE_FIELDS}, "data": data})
        if len(self._pending) >= DELTA_BATCH or (
            time.monotonic() - self.pending_since >= DELTA_SECONDS
        ):
            self.flush()
        return None

    def _append(self, wire: Mapping[str, Any], data: Mapping[str, Any]) -> int:
        self.fresh = False
        kept = self._keep()
        try:
            with write_transaction(self.db):
                self._write_pending()
                event_id = self._hot.insert_event.run(
                    self.db,
                    creature=wire["creature"],
                    type=wire["type"],
                    turn_index=wire["turn_index"],
                    timestamp=wire["timestamp"],
                    data=data,
                ).lastrowid
                self._derive_tables(wire, event_id)
                if self._unindexed and (
                    wire["type"] == "turn_completed"
                    or time.monotonic() - self._unindexed_since >= INDEX_SECONDS
                ):
                    self._index_blocks()
        except BaseException:
            self._restore(kept)
            raise
        return event_id

    def _keep(self) -> tuple[Any, ...]:
        """What is still to be written, to :meth:`_restore` if a transaction is rolled back."""
        return self._pending, self.pending_since, self._unindexed[:]

    def _restore(self, kept: tuple[Any, ...]) -> None:
        # A rolled-back transaction wrote nothing: its blocks are gone (their ids are given to
        # the next ones, which must not inherit their index entries), the rest is still to do.
        self._pending, self.pending_since, self._unindexed = kept

    def last_event_id(self, creature: str | None = None) -> int:
        """The highest event id (of *creature*), 0 for none."""
        query = Event.select(fn.MAX(Event.id))
        if creature is not None:
            query = query.where(Event.creature == creature)
        return query.scalar(self.db) or 0

    def wire_events(self) -> list[dict[str, Any]]:
        """Every event written so far (buffered text first written), oldest first, as wire."""
        self.flush()
        query = Event.select(
            Event.type, Event.creature, Event.turn_index, Event.timestamp, Event.data
        ).order_by(Event.id)
        return [row_to_wire(*row) for row in query.tuples().iterator(self.db)]

    # -- Derived tables ------------------------------------------------------------------------

    def derive(self, wire: Mapping[str, Any], event_id: int) -> None:
        """Update the derived tables for one event (inside the caller's transaction).

        Works on the wire shape, so a migration can rebuild every table from stored rows
        without knowing the event classes (plugin events included). Its memory blocks are
        indexed at once (recording defers that to the end of the turn: :meth:`append`).
        """
        self._derive_tables(wire, event_id)
        self._index_blocks()

    def _derive_tables(self, wire: Mapping[str, Any], event_id: int) -> None:
        handler = _DERIVATIONS.get(wire["type"])
        if handler is not None:
            handler(self, wire, event_id)

    def _creature_started(self, wire: Mapping[str, Any], event_id: int) -> None:
        self._hot.creature_started.run(
            self.db,
            name=wire["creature"],
            config=wire.get("config", {}),
            plugins=wire.get("plugins", []),
            tools=wire.get("tools", []),
            first_event_id=event_id,
            started_at=wire["timestamp"],
        )

    def _turn_started(self, wire: Mapping[str, Any], event_id: int) -> None:
        self._hot.insert_turn.run(
            self.db,
            creature=wire["creature"],
            turn_index=wire["turn_index"],
            source=wire.get("source", "user"),
            input=wire_text(wire.get("input", "")),
            started_at=wire["timestamp"],
            first_event_id=event_id,
            last_event_id=event_id,
        )

    def _turn_completed(self, wire: Mapping[str, Any], event_id: int) -> None:
        result = wire["result"]
        self._hot.complete_turn.run(
            self.db,
            status=result["status"],
            text=result.get("text", ""),
            usage=result.get("usage", {}),
            tool_calls=len(result.get("tool_calls", ())),
            ended_at=result.get("ended_at") or wire["timestamp"],
            last_event_id=event_id,
            creature=wire["creature"],
            turn_index=wire["turn_index"],
        )
        self._hot.set_meta.run(self.db, key="last_active", value=wire["timestamp"])

    def _llm_call_completed(self, wire: Mapping[str, Any], event_id: int) -> None:
        # Usage is summed per model call, so a call of a turn that never completed (a crash)
        # still counts, as it was billed.
        usage = wire.get("usage") or {}
        if not any(usage.values()):
            return
        row = self._hot.usage_totals.run(self.db, creature=wire["creature"]).fetchone()
        totals = Usage.totals.python_value(row[0]) if row else {}
        for field, count in usage.items():
            if isinstance(count, int | float):
                totals[field] = totals.get(field, 0) + count
        self._hot.set_usage.run(self.db, creature=wire["creature"], totals=totals)

    def _message_appended(self, wire: Mapping[str, Any], event_id: int) -> None:
        message = wire["message"]
        role = message["role"]
        text = wire_text(message.get("content", ""))
        tool_name = ""
        if role == "user":
            kind = "tool" if text.startswith("[Tool results]") else "user"
        elif role == "tool":
            kind, tool_name = "tool", message.get("name") or ""
            if tool_name in _NOT_INDEXED_TOOLS:
                return
            text = f"[result:{tool_name}] {text}" if text else ""
        elif role == "assistant":
            kind = "summary" if message.get("meta", {}).get("summary") else "assistant"
            calls = [
                f"[tool:{c['name']}] {dumps(c.get('args', {}))[:_TOOL_ARGS_CHARS]}"
                for c in message.get("tool_calls", ())
                if c["name"] not in _NOT_INDEXED_TOOLS
            ]
            text = "\n".join(filter(None, [text, *calls]))
        else:
            kind = role
        self._add_blocks(wire, event_id, kind, tool_name, text)

    def add_blocks(
        self, wire: Mapping[str, Any], event_id: int, kind: str, tool_name: str, text: str
    ) -> None:
        """Index *text* for memory search: one block per :data:`_BLOCK_CHARS` characters."""
        self._add_blocks(wire, event_id, kind, tool_name, text)
        self._index_blocks()

    def _add_blocks(
        self, wire: Mapping[str, Any], event_id: int, kind: str, tool_name: str, text: str
    ) -> None:
        """Write *text*'s blocks; they join the full-text index with :meth:`_index_blocks`."""
        text = text.strip()
        for start in range(0, len(text), _BLOCK_CHARS):
            piece = text[start : start + _BLOCK_CHARS]
            block_id = self._hot.insert_block.run(
                self.db,
                event_id=event_id,
                creature=wire["creature"],
                turn_index=wire["turn_index"],
                kind=kind,
                tool_name=tool_name,
                timestamp=wire["timestamp"],
                content=piece,
            ).lastrowid
            if not self._unindexed:
                self._unindexed_since = time.monotonic()
            self._unindexed.append({"rowid": block_id, "content": piece})

    def _index_blocks(self) -> None:
        """Add the blocks written since the last call to the full-text index (same transaction).

        FTS5 writes a new index segment with every transaction that changes it, so blocks are
        indexed once per turn rather than in each message's own transaction (module docs).
        """
        if self._unindexed:
            rows, self._unindexed = self._unindexed, []
            self._hot.index_block.run_many(self.db, rows)

    def _index_leftover_blocks(self) -> None:
        """Index blocks a process wrote but did not index before it ended (killed mid-turn)."""
        indexed = self.db.execute_sql(_LAST_INDEXED_BLOCK).fetchone()[0] or 0
        rows = self.db.execute_sql(_BLOCKS_AFTER, (indexed,)).fetchall()
        if rows:
            with write_transaction(self.db):
                self._hot.index_block.run_many(
                    self.db, [{"rowid": rowid, "content": content} for rowid, content in rows]
                )

    def _tool_call_completed(self, wire: Mapping[str, Any], event_id: int) -> None:
        if not wire.get("background"):
            return
        status = wire["status"]
        output = (wire.get("output") or "")[:2000]
        values = {Job.status: status, Job.output: output, Job.error: wire.get("error")}
        if status != "running":
            values[Job.ended_at] = wire["timestamp"]
        Job.insert(
            creature=wire["creature"],
            job_id=wire["call_id"],
            name=wire["name"],
            kind="tool",
            status=status,
            turn_index=wire["turn_index"],
            output=output,
            error=wire.get("error"),
            started_at=wire["timestamp"],
        ).on_conflict(conflict_target=[Job.creature, Job.job_id], update=values).execute(self.db)

    def _subagent_started(self, wire: Mapping[str, Any], event_id: int) -> None:
        SubAgentRun.insert(
            creature=wire["creature"],
            call_id=wire["call_id"],
            name=wire["name"],
            task=wire.get("task", ""),
            started_at=wire["timestamp"],
        ).on_conflict_ignore().execute(self.db)

    def _subagent_completed(self, wire: Mapping[str, Any], event_id: int) -> None:
        values = {
            SubAgentRun.status: wire["status"],
            SubAgentRun.output: wire.get("output", ""),
            SubAgentRun.error: wire.get("error"),
            SubAgentRun.turns: wire.get("turns", 0),
            SubAgentRun.usage: wire.get("usage", {}),
            SubAgentRun.ended_at: wire["timestamp"],
        }
        SubAgentRun.insert(
            {
                SubAgentRun.creature: wire["creature"],
                SubAgentRun.call_id: wire["call_id"],
                SubAgentRun.name: wire["name"],
                **values,
            }
        ).on_conflict(
            conflict_target=[SubAgentRun.creature, SubAgentRun.call_id], update=values
        ).execute(self.db)
        self._add_blocks(wire, event_id, "subagent", wire["name"], wire.get("output", ""))

    def _session_attached(self, wire: Mapping[str, Any], event_id: int) -> None:
        self._hot.session_attached.run(
            self.db,
            name=wire["creature"],
            config=wire.get("config", {}),
            source=wire.get("source"),
            pwd=wire.get("pwd", ""),
            model=wire.get("model", ""),
        )

    def _compaction_completed(self, wire: Mapping[str, Any], event_id: int) -> None:
        self._add_blocks(wire, event_id, "summary", "", wire.get("summary", ""))

    def _scratchpad(self, wire: Mapping[str, Any], event_id: int) -> None:
        key = str(wire.get("key", ""))
        action = wire.get("action", "set")  # scratchpad_write says what it did
        if action == "clear":
            Scratchpad.delete().where(Scratchpad.creature == wire["creature"]).execute(self.db)
            return
        if wire["type"] == "scratchpad_delete" or action == "delete":
            Scratchpad.delete().where(
                (Scratchpad.creature == wire["creature"]) & (Scratchpad.key == key)
            ).execute(self.db)
            return
        value = wire.get("value", "")
        value = value if isinstance(value, str) else dumps(value)
        Scratchpad.insert(
            creature=wire["creature"], key=key, value=value, event_id=event_id
        ).on_conflict(
            conflict_target=[Scratchpad.creature, Scratchpad.key],
            update={Scratchpad.value: value, Scratchpad.event_id: event_id},
        ).execute(self.db)

    def _trigger(self, wire: Mapping[str, Any], event_id: int) -> None:
        active = wire["type"] == "trigger_added"
        data = wire.get("data", {})
        Trigger.insert(
            creature=wire["creature"],
            trigger_id=str(wire.get("trigger_id", "")),
            type=str(wire.get("trigger_type", wire.get("kind", ""))),
            data=data,
            active=active,
            event_id=event_id,
        ).on_conflict(
            conflict_target=[Trigger.creature, Trigger.trigger_id],
            update={Trigger.active: active, Trigger.event_id: event_id}
            | ({Trigger.data: data} if active else {}),
        ).execute(self.db)

    def _channel_message(self, wire: Mapping[str, Any], event_id: int) -> None:
        content = wire.get("content", "")
        content = content if isinstance(content, str) else wire_text(content)
        ChannelMessage.insert(
            event_id=event_id,
            channel=str(wire.get("channel", "")),
            sender=str(wire.get("sender", wire["creature"])),
            content=content,
            timestamp=wire["timestamp"],
        ).execute(self.db)
        if content:
            self._add_blocks(wire, event_id, "channel", str(wire.get("channel", "")), content)

    # -- Snapshots and creatures ---------------------------------------------------------------

    def save_snapshot(self, creature: str, state: Mapping[str, Any], last_event_id: int) -> None:
        """Store the replayed state of *creature* as covering events up to *last_event_id*."""
        self.flush()
        Snapshot.replace(
            creature=creature, last_event_id=last_event_id, state=state, created_at=time.time()
        ).execute(self.db)

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        self.db.close()


class _Statements:
    """The statements run for every event, and to open a file: built once per process.

    Each is an ordinary peewee query over :mod:`kt_sessions.db`'s models, rendered once
    (:class:`kt_sessions.db.Prepared`) and run on each store's database: rebuilding them per
    event would triple the cost of recording, and per store they cost a new session a
    millisecond (``docs/concepts/decisions.md``, "Sessions").
    """

    def __init__(self) -> None:
        def columns(model: Any, *names: str) -> list[Any]:
            return [getattr(model, name) for name in names]

        self.insert_event = Prepared.insert(Event)
        self.insert_turn = Prepared.insert(Turn)
        fields = columns(Turn, "status", "text", "usage", "tool_calls", "ended_at", "last_event_id")
        where = [Turn.creature, Turn.turn_index]
        self.complete_turn = Prepared(
            Turn.update({field: param(field) for field in fields}).where(
                (Turn.creature == param(Turn.creature))
                & (Turn.turn_index == param(Turn.turn_index))
            ),
            [*fields, *where],
        )
        self.set_meta = Prepared.insert(SessionMeta, replace=True)
        self.get_meta = Prepared(
            SessionMeta.select(SessionMeta.value).where(SessionMeta.key == param(SessionMeta.key)),
            [SessionMeta.key],
        )
        self.usage_totals = Prepared(
            Usage.select(Usage.totals).where(Usage.creature == param(Usage.creature)),
            [Usage.creature],
        )
        self.set_usage = Prepared.insert(Usage, replace=True)
        self.insert_block = Prepared.insert(Block)
        index_fields = [BlockFTS.rowid, BlockFTS.content]
        self.index_block = Prepared(
            BlockFTS.insert({field: param(field) for field in index_fields}), index_fields
        )
        self.creature_started = Prepared.upsert(
            Creature, key=[Creature.name], update=columns(Creature, "plugins", "tools")
        )
        self.session_attached = Prepared.upsert(
            Creature,
            key=[Creature.name],
            update=columns(Creature, "config", "source", "pwd", "model"),
        )


@functools.cache
def _statements() -> _Statements:
    """The process's :class:`_Statements`, built on first use."""
    return _Statements()


_DERIVATIONS = {
    "creature_started": SessionStore._creature_started,
    "turn_started": SessionStore._turn_started,
    "turn_completed": SessionStore._turn_completed,
    "message_appended": SessionStore._message_appended,
    "llm_call_completed": SessionStore._llm_call_completed,
    "tool_call_completed": SessionStore._tool_call_completed,
    "subagent_started": SessionStore._subagent_started,
    "subagent_completed": SessionStore._subagent_completed,
    "compaction_completed": SessionStore._compaction_completed,
    "session_attached": SessionStore._session_attached,
    "scratchpad_write": SessionStore._scratchpad,  # what kt_tools' scratchpad publishes
    "scratchpad_set": SessionStore._scratchpad,
    "scratchpad_delete": SessionStore._scratchpad,
    "trigger_added": SessionStore._trigger,
    "trigger_removed": SessionStore._trigger,
    "channel_message": SessionStore._channel_message,
}
