"""``kt_portal``: calling KT Terrarium from synchronous code (scripts, Flask handlers, notebooks).

* :func:`run_sync` runs one coroutine function to completion under trio and returns its result.
* :class:`Portal` keeps one trio loop alive in a background thread; :class:`SyncAgent` is an
  agent built through it, with blocking ``run`` / ``stream`` methods.

See :mod:`kt_portal.portal` and ``docs/guides/sync-callers.md``. The kernel's API is ``async``;
this plugin is a library layer over it, loaded on first use of one of its names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kt_portal.portal import Portal, Service, SyncAgent, run_sync  # noqa: F401

__all__ = ["Portal", "Service", "SyncAgent", "run_sync"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'kt_portal' has no attribute {name!r}")
    value = getattr(importlib.import_module("kt_portal.portal"), name)
    globals()[name] = value
    return value
