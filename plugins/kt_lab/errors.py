"""The Laboratory's errors, all under :class:`kt_terrarium.TransportError` (a ``KTError``)."""

from __future__ import annotations

from kt_terrarium.errors import TransportError

__all__ = ["FencedError", "LabConfigError", "LabError", "LabUnavailableError"]


class LabError(TransportError):
    """Base of the Laboratory's errors."""


class LabConfigError(LabError, ValueError):
    """A Laboratory setting that cannot work (a URL, a node name, a label, a capacity)."""


class LabUnavailableError(LabError, ConnectionError):
    """Redis cannot be reached, or is too old for the Laboratory (it needs Redis 7 or newer)."""


class FencedError(LabError):
    """This worker lost a creature's lease: another owner holds it, so nothing more is written."""
