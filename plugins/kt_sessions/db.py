"""The session file's schema: peewee models over one SQLite database in WAL mode.

The ``event`` table is the append-only log and the only source of truth. Every other table is
derived from it and can be rebuilt from it (that is how older files are migrated):

======================  ====================================================================
table                   holds
======================  ====================================================================
``meta``                key → JSON: schema version, session id and name, status, owner,
                        lineage, memory index settings
``event``               every event of every creature, ``id`` monotonic (the log)
``creature``            per creature: resolved config, config source, plugins, tools, model
``snapshot``            per creature: a cache of the replayed state, with the last event id
                        it covers
``turn``                per turn: input, status, final text, usage, timing
``usage``               per creature: cumulative token usage
``job``                 background jobs (tool calls run in the background) and their status
``subagent_run``        sub-agent runs (from ``subagent_started`` / ``subagent_completed``)
``scratchpad``          scratchpad values (from ``scratchpad_set`` / ``scratchpad_delete``)
``trigger``             runtime triggers (from ``trigger_added`` / ``trigger_removed``)
``channel_message``     channel messages (events of type ``channel_message``)
``block``, ``block_fts``  memory: one block per message text, and its FTS5 index
``vector``              memory: one embedding per block (see ``meta`` for model and size)
======================  ====================================================================

Each store builds its own model classes bound to its own database (:func:`models_for`), so
several files can be open in one process. Hot-path statements are rendered from the models once
and then executed as plain SQL: a peewee query object per streamed chunk would cost several
times the insert itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import peewee as pw

__all__ = [
    "DERIVED_TABLES",
    "SCHEMA_VERSION",
    "create_schema",
    "models_for",
    "open_database",
    "schema_version",
]

SCHEMA_VERSION = 2
"""Version 2: the log plus derived tables and memory. Version 1 (early development builds)
had only ``meta`` and ``event``; :mod:`kt_sessions.migrate` upgrades such files."""

FTS_TABLE = "block_fts"


def open_database(
    path: str | os.PathLike[str], *, readonly: bool = False, durability: str = "normal"
) -> pw.SqliteDatabase:
    """Open (or create) a session database in WAL mode.

    Args:
        path: The file.
        readonly: Refuse writes on this connection (``query_only``): readers and listings
            never touch a file another process is writing.
        durability: ``normal`` (a committed event survives the process being killed at any
            moment; the OS writes it to disk later) or ``full`` (also fsync on every commit, so
            it survives a power cut, at a cost of a few milliseconds per event).

    Returns:
        The connected database.
    """
    pragmas: list[tuple[str, Any]] = [("busy_timeout", 10000)]  # wait, never fail, on a lock
    if readonly:
        pragmas.append(("query_only", 1))  # and leave the journal mode as the writer set it
    else:
        pragmas += [
            ("journal_mode", "wal"),
            ("synchronous", "full" if durability == "full" else "normal"),
            ("foreign_keys", 0),
        ]
    db = pw.SqliteDatabase(str(Path(path)), pragmas=pragmas, autoconnect=True)
    db.connect(reuse_if_open=True)
    return db


def models_for(db: pw.Database) -> SimpleNamespace:
    """Model classes bound to *db* (one set per open file)."""

    class Base(pw.Model):
        class Meta:
            database = db

    class Meta(Base):
        key = pw.TextField(primary_key=True)
        value = pw.TextField()

        class Meta:
            table_name = "meta"

    class Event(Base):
        id = pw.AutoField()
        creature = pw.TextField()
        type = pw.TextField()
        turn_index = pw.IntegerField()
        timestamp = pw.FloatField()
        data = pw.TextField()

        class Meta:
            table_name = "event"
            indexes = ((("creature", "id"), False), (("type", "id"), False))

    class Creature(Base):
        name = pw.TextField(primary_key=True)
        config = pw.TextField(default="{}")  # the resolved CreatureConfig, unstructured
        source = pw.TextField(default="null")  # what Agent.build got: a path or a dict
        pwd = pw.TextField(default="")
        model = pw.TextField(default="")
        plugins = pw.TextField(default="[]")
        tools = pw.TextField(default="[]")
        first_event_id = pw.IntegerField(default=0)
        started_at = pw.FloatField(default=0.0)

        class Meta:
            table_name = "creature"

    class Snapshot(Base):
        creature = pw.TextField(primary_key=True)
        last_event_id = pw.IntegerField()
        state = pw.TextField()
        created_at = pw.FloatField()

        class Meta:
            table_name = "snapshot"

    class Turn(Base):
        id = pw.AutoField()
        creature = pw.TextField()
        turn_index = pw.IntegerField()
        source = pw.TextField(default="user")
        input = pw.TextField(default="")
        status = pw.TextField(default="running")
        text = pw.TextField(default="")
        usage = pw.TextField(default="{}")
        tool_calls = pw.IntegerField(default=0)
        started_at = pw.FloatField(default=0.0)
        ended_at = pw.FloatField(null=True)
        first_event_id = pw.IntegerField(default=0)
        last_event_id = pw.IntegerField(default=0)

        class Meta:
            table_name = "turn"
            indexes = ((("creature", "turn_index"), False),)

    class Usage(Base):
        creature = pw.TextField(primary_key=True)
        totals = pw.TextField(default="{}")  # kt.Usage fields -> cumulative counts

        class Meta:
            table_name = "usage"

    class Job(Base):
        id = pw.AutoField()
        creature = pw.TextField()
        job_id = pw.TextField()
        name = pw.TextField(default="")
        kind = pw.TextField(default="tool")
        status = pw.TextField(default="running")
        turn_index = pw.IntegerField(default=0)
        output = pw.TextField(default="")
        error = pw.TextField(null=True)
        started_at = pw.FloatField(default=0.0)
        ended_at = pw.FloatField(null=True)

        class Meta:
            table_name = "job"
            indexes = ((("creature", "job_id"), True),)

    class SubAgentRun(Base):
        id = pw.AutoField()
        creature = pw.TextField()
        call_id = pw.TextField()
        name = pw.TextField(default="")
        task = pw.TextField(default="")
        status = pw.TextField(default="running")
        output = pw.TextField(default="")
        error = pw.TextField(null=True)
        turns = pw.IntegerField(default=0)
        usage = pw.TextField(default="{}")
        started_at = pw.FloatField(default=0.0)
        ended_at = pw.FloatField(null=True)

        class Meta:
            table_name = "subagent_run"
            indexes = ((("creature", "call_id"), True),)

    class Scratchpad(Base):
        id = pw.AutoField()
        creature = pw.TextField()
        key = pw.TextField()
        value = pw.TextField(default="")
        event_id = pw.IntegerField(default=0)

        class Meta:
            table_name = "scratchpad"
            indexes = ((("creature", "key"), True),)

    class Trigger(Base):
        id = pw.AutoField()
        creature = pw.TextField()
        trigger_id = pw.TextField()
        type = pw.TextField(default="")
        data = pw.TextField(default="{}")
        active = pw.BooleanField(default=True)
        event_id = pw.IntegerField(default=0)

        class Meta:
            table_name = "trigger"
            indexes = ((("creature", "trigger_id"), True),)

    class ChannelMessage(Base):
        id = pw.AutoField()
        event_id = pw.IntegerField()
        channel = pw.TextField()
        sender = pw.TextField(default="")
        content = pw.TextField(default="")
        timestamp = pw.FloatField(default=0.0)

        class Meta:
            table_name = "channel_message"
            indexes = ((("channel", "id"), False),)

    class Block(Base):
        id = pw.AutoField()
        event_id = pw.IntegerField()
        creature = pw.TextField()
        turn_index = pw.IntegerField()
        kind = pw.TextField()
        tool_name = pw.TextField(default="")
        timestamp = pw.FloatField()
        content = pw.TextField()

        class Meta:
            table_name = "block"
            indexes = ((("creature", "id"), False),)

    class Vector(Base):
        block_id = pw.IntegerField(primary_key=True)
        embedding = pw.BlobField()

        class Meta:
            table_name = "vector"

    return SimpleNamespace(
        Meta=Meta,
        Event=Event,
        Creature=Creature,
        Snapshot=Snapshot,
        Turn=Turn,
        Usage=Usage,
        Job=Job,
        SubAgentRun=SubAgentRun,
        Scratchpad=Scratchpad,
        Trigger=Trigger,
        ChannelMessage=ChannelMessage,
        Block=Block,
        Vector=Vector,
        all=[
            Meta,
            Event,
            Creature,
            Snapshot,
            Turn,
            Usage,
            Job,
            SubAgentRun,
            Scratchpad,
            Trigger,
            ChannelMessage,
            Block,
            Vector,
        ],
    )


DERIVED_TABLES = (
    "creature",
    "snapshot",
    "turn",
    "usage",
    "job",
    "subagent_run",
    "scratchpad",
    "trigger",
    "channel_message",
    "block",
    "vector",
)
"""Tables rebuilt from the log by a migration (``meta`` and ``event`` are copied)."""


def create_schema(db: pw.Database, models: SimpleNamespace) -> None:
    """Create every table (and the FTS5 index) that does not exist yet."""
    with db.atomic():
        db.create_tables(models.all, safe=True)
        db.execute_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
            "content, content='block', content_rowid='id', tokenize='unicode61')"
        )


def schema_version(db: pw.Database) -> int | None:
    """The file's schema version: ``None`` when it is not a session file at all."""
    tables = set(db.get_tables())
    if "event" not in tables or "meta" not in tables:
        return None
    row = db.execute_sql("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 1
