"""Jobs: the creature's background work (background tool calls, triggers, plugin tasks).

Every job runs in the agent's nursery inside its own cancel scope and is listed in
``agent.jobs`` by id while it runs and after it ends, so a tool such as ``stop_task``, a UI or
a test can see and cancel it. Interrupting a turn never cancels jobs; stopping the agent does.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import attrs
import trio

__all__ = ["Job", "JobStatus"]

JobStatus = Literal["running", "done", "error", "cancelled"]


@attrs.define(eq=False)
class Job:
    """One piece of background work.

    Attributes:
        id: Unique within the agent (a background tool call keeps its call id).
        kind: ``tool``, ``trigger``, ``subagent`` or ``task``.
        name: What runs (tool name, trigger type, ...).
        status: ``running``, then ``done``, ``error`` (``error`` holds why) or ``cancelled``.
        started_at: Wall-clock start.
        ended_at: Wall-clock end, once it ended.
        error: ``"Type: message"`` for ``error`` jobs.
    """

    id: str
    kind: str
    name: str
    status: JobStatus = "running"
    started_at: float = attrs.Factory(time.time)
    ended_at: float | None = None
    error: str | None = None
    scope: trio.CancelScope = attrs.Factory(trio.CancelScope)

    def cancel(self) -> bool:
        """Cancel the job at its next checkpoint; ``False`` if it already ended."""
        if self.status != "running":
            return False
        self.scope.cancel()
        return True

    async def _run(self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], **kw: Any):
        try:
            with self.scope:
                await fn(*args, **kw)
        except Exception as exc:  # recorded on the job; a job never takes the agent down
            self.status, self.error = "error", f"{type(exc).__name__}: {exc}"
        else:
            self.status = "cancelled" if self.scope.cancelled_caught else "done"
        finally:
            if self.status == "running":  # the agent itself is being cancelled
                self.status = "cancelled"
            self.ended_at = time.time()
