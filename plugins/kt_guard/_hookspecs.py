"""The session hook kt_guard implements, declared here when no other plugin declared it.

``kt_sessions`` declares ``kt_session_restore`` and calls it when it resumes a creature.
kt_guard declares the same specification when it is loaded without ``kt_sessions`` (each
plugin adds it only if it is missing), so its implementation is always checked against a
spec, whichever plugins a kernel holds.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("kt")


@hookspec
def kt_session_restore(creature: Any, reader: Any) -> None:
    """Rebuild your plugin's state for a creature resumed from a session.

    Called once by the session store when a resumed creature starts, after its conversation
    is restored and before its first turn. Read your own events back with
    ``reader.events(type=..., creature=...)``; each logged event has a ``wire`` dict.

    Args:
        creature: The resumed agent (started).
        reader: A reader of its session.

    Use in creature plugins:
        Called for that creature.
    """
