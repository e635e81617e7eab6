"""``studio.attach``: live event streams of a session, a creature, a channel, or every graph.

Each stream is a trio receive channel from the engine's event bus: subscribing never consumes a
channel message (a queue channel's message still reaches its listener) and never slows the
engine down (the bus never blocks). The reader closes the channel when done. Streams are
unbounded on the engine's side; a reader that falls behind is cut off by the layer that
serves it (see ``kt_web``'s overflow policy), never the other way round.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Attach"]


class Attach:
    """Event streams (``studio.attach``).

    Args:
        engine: The running engine.
        sessions: The live sessions (to find a session's graphs and creatures).
    """

    def __init__(self, engine: Any, sessions: Any) -> None:
        self._engine = engine
        self._sessions = sessions

    def creature(self, session_id: str, creature: str) -> Any:
        """Every event of one creature (turns, text deltas, tools, sub-agents, usage)."""
        creature_id = self._sessions.creature_id(session_id, creature)
        return self._engine.subscribe(creatures=[creature_id], creature_events=True)

    def observer(self, session_id: str) -> Any:
        """Every channel message of the session's graphs (as they are now), consuming none."""
        graphs = self._sessions.get(session_id).graph_ids
        return self._engine.subscribe(types=["channel_message"], graphs=graphs)

    def channel(self, session_id: str, channel: str) -> Any:
        """The messages of one channel of the session."""
        graphs = self._sessions.get(session_id).graph_ids
        return self._engine.subscribe(types=["channel_message"], graphs=graphs, channels=[channel])

    def session(self, session_id: str) -> Any:
        """Everything of the session's graphs: engine events and its creatures' events."""
        graphs = self._sessions.get(session_id).graph_ids
        return self._engine.subscribe(graphs=graphs, creature_events=True)

    def runtime(self) -> Any:
        """The engine's own events for every graph: creatures, channels, edges, wires, topology."""
        return self._engine.subscribe()
