"""Studio's errors; the HTTP API maps each to a status code (see ``kt_web.errors``).

::

    KTError
    └── StudioError
        ├── StudioInputError         a bad argument; names the field (HTTP 400)
        ├── SessionNotFoundError     no live or saved session by that id or name (HTTP 404)
        ├── TriggerNotFoundError     a creature has no trigger by that id (HTTP 404)
        ├── StudioConflictError      the operation clashes with the current state (HTTP 409)
        └── TurnFailedError          a turn ended in error or timeout (HTTP 422)
"""

from __future__ import annotations

from typing import Any

from kt.errors import KTError

__all__ = [
    "SessionNotFoundError",
    "StudioConflictError",
    "StudioError",
    "StudioInputError",
    "TriggerNotFoundError",
    "TurnFailedError",
]


class StudioError(KTError):
    """Base class of Studio's errors."""


class StudioInputError(StudioError, ValueError):
    """An argument is missing or invalid.

    Args:
        message: What is wrong and how to fix it.
        field: The argument (or body field) at fault.
    """

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class SessionNotFoundError(StudioError, LookupError):
    """No live session has that id, or no saved session that name."""


class TriggerNotFoundError(StudioError, LookupError):
    """A creature has no trigger by that id."""


class StudioConflictError(StudioError):
    """The operation is refused in the current state (a turn is running, a name is taken)."""


class TurnFailedError(StudioError):
    """A turn ended with status ``error`` or ``timeout``; ``reply`` holds what it produced.

    Args:
        message: The turn's error, as ``Type: message``.
        reply: The :class:`~kt_studio.values.ChatReply` of the failed turn.
        error_type: The class name of the turn's error.
    """

    def __init__(self, message: str, *, reply: Any, error_type: str) -> None:
        super().__init__(message)
        self.reply = reply
        self.error_type = error_type
