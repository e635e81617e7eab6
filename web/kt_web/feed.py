"""Bounded feeds from a producer that must never wait to a reader that may fall behind.

The engine's events and the server's log records are produced by code that must never block
on a WebSocket client. Each client reads from a :class:`queue.Queue` of bounded size; the
producer puts without waiting. When the queue is full the reader is too slow: the producer
stops feeding it and puts :data:`OVERFLOW` in its queue (dropping the oldest entry to make
room), and the socket closes with 1013. :data:`CLOSED` ends a feed normally.

:class:`EventFeed` pumps one of Studio's attach streams (a trio channel on the engine's loop)
into such a queue, as a portal service on the engine's loop.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

__all__ = ["CLOSED", "OVERFLOW", "EventFeed", "force"]

OVERFLOW = object()  # the reader fell too far behind and was dropped
CLOSED = object()  # the feed ended


def force(feed: queue.Queue[Any], item: object) -> None:
    """Put *item* in *feed* without waiting, dropping its oldest entry when it is full."""
    try:
        feed.put_nowait(item)
        return
    except queue.Full:
        pass
    try:
        feed.get_nowait()
    except queue.Empty:
        pass
    try:
        feed.put_nowait(item)
    except queue.Full:
        pass


class EventFeed:
    """The events of one attach stream, for one reader thread, at most *backlog* behind.

    Args:
        host: The :class:`~kt_web.host.StudioHost` whose engine produces the events.
        events: The attach stream (a trio receive channel); the feed closes it when it ends.
        backlog: Events the reader may fall behind before it is dropped.
        on_overflow: Called (on the engine's loop, so it must not block) when that happens.
    """

    def __init__(
        self,
        host: Any,
        events: Any,
        *,
        backlog: int,
        on_overflow: Callable[[], None] = lambda: None,
    ) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(backlog)
        self.overflowed = False
        self._on_overflow = on_overflow
        self._service = host.portal.start_service(self._pump, events, name="event feed")

    async def _pump(self, events: Any, *, task_status: Any) -> None:
        task_status.started()
        try:
            async with events:  # leaving closes the subscription: the engine stops feeding it
                async for event in events:
                    try:
                        self.queue.put_nowait(event)
                    except queue.Full:
                        self.overflowed = True
                        force(self.queue, OVERFLOW)
                        self._on_overflow()
                        return
        finally:
            if not self.overflowed:
                force(self.queue, CLOSED)

    def get(self) -> Any:
        """The next event, :data:`OVERFLOW` or :data:`CLOSED` (blocks until there is one)."""
        return self.queue.get()

    def stop(self) -> None:
        """End the feed (the reader gets :data:`CLOSED`); safe after the portal closed."""
        try:
            self._service.stop()
        except Exception:  # the portal is closing too: the stream ends with it
            force(self.queue, CLOSED)
