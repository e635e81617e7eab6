"""kt's log file: ``$KT_HOME/logs/kt.log``, rotated, at the level ``--log-level`` chooses.

The ``kt`` command (its entry point, not a program calling :data:`kt_cli.main.cli` itself)
sends every Python log record of the process to the file: the kernel's (a plugin that clashed
or failed to load), the plugins' own, and the creature's events (``kt.events``, written by the
``kt_cli`` plugin's ``kt_event`` hook: turns, model calls, tool calls, warnings and errors;
never the text of messages, never a key). The file is private (mode 0600) and is rotated at
:data:`MAX_BYTES`, keeping :data:`BACKUPS` older files (``kt.log.1`` ... ``kt.log.3``).

Records of warnings and errors, but the creature's events (the terminal shows those its own
way), are also written to standard error, as before there was a file.

The level comes from ``--log-level`` (before or after the command name) or ``KT_LOG_LEVEL``,
default ``info``. The file is created only when the first record is written, so commands that
log nothing (``kt list``, ``kt --help``) leave no trace. ``logging`` is imported only when the
log is set up, never for ``kt --help``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["BACKUPS", "LEVELS", "MAX_BYTES", "configure", "log_file", "set_level"]

LEVELS = ("debug", "info", "warning", "error")
"""What ``--log-level`` accepts."""
DEFAULT_LEVEL = "info"
MAX_BYTES = 1_000_000
"""The log file is rotated when it would grow past this size."""
BACKUPS = 3
"""Rotated files kept."""
EVENTS_LOGGER = "kt.events"
"""The logger the creature's events are written to (see :mod:`kt_cli.plugin`)."""

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def log_file(home: Path) -> Path:
    """The log file of the kt home *home*."""
    return home / "logs" / "kt.log"


def level_from_env(default: str = DEFAULT_LEVEL) -> str:
    """``KT_LOG_LEVEL`` if it names a level, else *default*."""
    value = os.environ.get("KT_LOG_LEVEL", "").strip().lower()
    return value if value in LEVELS else default


def _private_rotating_file(path: Path) -> Any:
    """A rotating file handler whose files only their owner can read.

    They hold tool names, errors and paths of the user's work.
    """
    from logging.handlers import RotatingFileHandler

    class PrivateRotatingFile(RotatingFileHandler):
        def _open(self):  # type: ignore[no-untyped-def]
            Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            return open(fd, "a", encoding=self.encoding, errors=self.errors)  # noqa: SIM115

    return PrivateRotatingFile(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
    )


def _not_events(record: Any) -> bool:
    """Keep the creature's events off stderr: the terminal shows them its own way."""
    return not record.name.startswith(EVENTS_LOGGER)


_handler: Any = None


def configure(home: Path, level: str) -> Path:
    """Send the process's log records to the log file of *home*, at *level*; idempotent.

    Returns:
        The log file's path.
    """
    import logging

    global _handler
    path = log_file(home)
    root = logging.getLogger()
    if _handler is None:
        _handler = _private_rotating_file(path)
        _handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(_handler)
        errors = logging.StreamHandler()
        errors.setLevel(logging.WARNING)
        errors.setFormatter(logging.Formatter("kt: %(levelname)s: %(message)s"))
        errors.addFilter(_not_events)
        root.addHandler(errors)
    set_level(level)
    return path


def set_level(level: str) -> None:
    """Log records of *level* and above (a name of :data:`LEVELS`), once :func:`configure` ran.

    Before that (a program calling the command group itself), the process's logging is left as
    its owner set it.
    """
    if _handler is not None:
        import logging

        logging.getLogger().setLevel(level.upper())
