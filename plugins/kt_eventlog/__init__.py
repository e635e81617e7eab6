"""An event log: every event of a creature as one JSON line, for tools that read logs.

:class:`EventLog` is a creature plugin. Each event the creature publishes is written as it
happens, in the wire form of :func:`kt.events.to_wire` (what ``kt.events.from_wire`` reads
back), one JSON object per line, to a file of its own:

    {"type": "tool_call_completed", "creature": "swe", "turn_index": 3, ...}

The default file is ``$KT_HOME/logs/events/CREATURE-YYYYmmdd-HHMMSS.jsonl``, created with mode
0600 in a 0700 folder (tool output may hold private data). Streamed text arrives as many
``text_delta`` events; they are left out unless ``text_deltas = true`` (the completed turn
carries the text).

A session file (``kt_sessions``) is the record to resume from; this log is for shipping
activity elsewhere (``jq``, a log collector) without opening SQLite.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import kt
from kt.events import Event, to_wire

__all__ = ["EventLog"]


class EventLog:
    """A creature plugin appending the creature's events to a JSON-lines file.

    Args:
        path: The file; ``{creature}`` and ``{started}`` are replaced by the creature's name
            and the start time (``YYYYmmdd-HHMMSS``). Relative paths are relative to the
            creature's working dir. Default: under ``$KT_HOME/logs/events/``.
        types: Log only these event types (``["turn_completed", "tool_call_completed"]``).
        text_deltas: Log streamed ``text_delta`` events too.
    """

    def __init__(
        self, path: str | None = None, types: Iterable[str] | None = None, text_deltas: bool = False
    ) -> None:
        self.pattern = path
        self.types = None if types is None else frozenset(types)
        self.text_deltas = text_deltas
        self.path: Path | None = None
        self._file: IO[str] | None = None

    def _open(self, creature: Any) -> IO[str]:
        started = time.strftime("%Y%m%d-%H%M%S")
        if self.pattern is None:
            folder = kt.home.kt_home(creature.kernel.env) / "logs" / "events"
            path = folder / f"{creature.name}-{started}.jsonl"
        else:
            raw = Path(self.pattern.format(creature=creature.name, started=started)).expanduser()
            path = raw if raw.is_absolute() else creature.working_dir / raw
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.path = path
        return open(descriptor, "a", encoding="utf-8", buffering=1)  # line-buffered  # noqa: SIM115

    def wants(self, event: Event) -> bool:
        """Whether *event* goes in the log."""
        if event.type == "text_delta" and not self.text_deltas:
            return False
        return self.types is None or event.type in self.types

    @kt.hookimpl
    def kt_event(self, event: Event, creature: Any) -> None:
        """Append *event* to the log (the file is opened on the first one)."""
        if not self.wants(event):
            return
        if self._file is None:
            self._file = self._open(creature)
        self._file.write(json.dumps(to_wire(event), ensure_ascii=False, default=str) + "\n")
        if event.type == "creature_stopped":
            self._file.close()
            self._file = None


@kt.hookimpl
def kt_module_aliases() -> dict[str, str]:
    return {"kt_biome.plugins.event_logger:EventLoggerPlugin": "kt_eventlog:EventLog"}
