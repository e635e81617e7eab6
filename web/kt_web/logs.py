"""The server's log, kept in memory for ``/ws/logs``: recent records and live subscribers.

:class:`LogHub` is a ``logging`` handler on the root logger. It keeps the last
:data:`BACKLOG` records and hands every new one to each subscriber's bounded queue. A
subscriber that falls :data:`QUEUE_LIMIT` records behind is dropped (its socket closes with
1013), so a slow log reader never slows down whatever is logging.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from kt_web.feed import CLOSED, OVERFLOW, force

__all__ = ["BACKLOG", "CLOSED", "OVERFLOW", "QUEUE_LIMIT", "LogHub", "close"]

BACKLOG = 500
QUEUE_LIMIT = 1000


class LogHub(logging.Handler):
    """Recent log records and live subscribers."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=BACKLOG)
        self._subscribers: dict[queue.Queue[Any], Callable[[], None]] = {}
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        """Keep *record* and hand it to every subscriber (never blocks)."""
        entry = {
            "type": "log",
            "time": record.created,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        with self._guard:
            self._recent.append(entry)
            subscribers = list(self._subscribers.items())
        for subscriber, on_overflow in subscribers:
            try:
                subscriber.put_nowait(entry)
            except queue.Full:
                self.unsubscribe(subscriber)
                force(subscriber, OVERFLOW)
                on_overflow()

    def subscribe(
        self, on_overflow: Callable[[], None] = lambda: None
    ) -> tuple[list[dict[str, Any]], queue.Queue[Any]]:
        """The recent records and a queue that receives every new one.

        Args:
            on_overflow: Called (by the logging thread: it must not block) when the
                subscriber falls :data:`QUEUE_LIMIT` records behind and is dropped.
        """
        subscriber: queue.Queue[Any] = queue.Queue(QUEUE_LIMIT)
        with self._guard:
            self._subscribers[subscriber] = on_overflow
            return list(self._recent), subscriber

    def unsubscribe(self, subscriber: queue.Queue[Any]) -> None:
        """Stop feeding *subscriber*."""
        with self._guard:
            self._subscribers.pop(subscriber, None)

    def install(self) -> LogHub:
        """Attach to the root logger, and let ``kt*`` loggers report at INFO."""
        logging.getLogger().addHandler(self)
        logging.getLogger("kt_web").setLevel(logging.INFO)
        return self


def close(subscriber: queue.Queue[Any]) -> None:
    """End a subscriber's stream (its reader gets :data:`CLOSED`)."""
    force(subscriber, CLOSED)
