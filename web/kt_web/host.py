"""Studio on its own trio thread; request threads call in through ``kt_portal.Portal``.

Flask handlers are synchronous and run on the server's threads. The engine is trio, so it runs
in one thread of its own (the portal's loop), held open there by a portal service
(``Portal.start_service``), and every handler reaches it with :meth:`StudioHost.run`, which
blocks only the calling request thread. Saved-session reads,
settings and the catalog never go through the loop: they touch files, not the engine.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["StudioHost"]


class StudioHost:
    """Runs one Studio on a portal and lets any thread call into it.

    Args:
        make_studio: Builds the (not yet entered) Studio; called on the engine's loop.
        resume_file: Where the sessions live at shutdown are listed, for one-click resume at
            the next start (``None``: not kept).
    """

    def __init__(self, make_studio: Callable[[], Any], *, resume_file: Path | None = None) -> None:
        self._make_studio = make_studio
        self.resume_file = resume_file
        self.studio: Any = None
        self.portal: Any = None
        self._service: Any = None

    @property
    def ready(self) -> bool:
        """Whether Studio accepts calls."""
        return self._service is not None and self._service.running and self.studio is not None

    def start(self) -> StudioHost:
        """Start the portal and Studio; return once Studio runs.

        Raises:
            Exception: what building or entering Studio raised.
        """
        from kt_portal import Portal

        self.portal = Portal().start()
        try:
            self._service = self.portal.start_service(self._serve, name="studio")
        except BaseException:
            self.portal.close()
            raise
        return self

    async def _serve(self, *, task_status: Any) -> None:
        """Keep Studio entered on the portal's loop until the service is stopped.

        Stopping the service cancels this task; Studio is shut down then, not cancelled with
        it (a shielded scope): its engine stops each creature in turn, and a lab host leaves
        its remote creatures running instead of cutting their links mid-way.
        """
        import trio

        stopping = trio.Event()

        async def until_stopped() -> None:
            try:
                await trio.sleep_forever()
            finally:
                stopping.set()

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(until_stopped)
                try:
                    with trio.CancelScope(shield=True):
                        async with self._make_studio() as studio:
                            self.studio = studio
                            task_status.started(studio)
                            try:
                                await stopping.wait()
                            finally:  # stopping: list what is live before Studio stops it
                                self._keep_for_resume(studio.sessions.list())
                finally:
                    nursery.cancel_scope.cancel()  # (entering Studio failed: stop waiting)
        finally:
            self.studio = None

    def _keep_for_resume(self, live: list[Any]) -> None:
        """Write the session files of the sessions live now: they stay resumable.

        Sessions whose creatures all run on where they are (a lab host leaves its remote
        creatures running) are left out: the next start takes them back live
        (``engine.adopt``), so resuming their files would build them a second time.
        """
        if self.resume_file is None:
            return
        kept = [s for s in live if not self._left_running(s)]
        names = [Path(p).name.removesuffix(".ktsession") for s in kept for p in s.store_paths]
        self.resume_file.parent.mkdir(parents=True, exist_ok=True)
        self.resume_file.write_text(json.dumps({"sessions": names}), encoding="utf-8")

    def _left_running(self, session: Any) -> bool:
        """Whether every creature of *session* runs on elsewhere when Studio stops."""
        engine = self.studio.engine
        ids = [creature.id for creature in session.creatures]
        return (
            bool(ids)
            and engine.leave_remote
            and all(c in engine and engine[c].transport is not None for c in ids)
        )

    def resumable(self) -> list[str]:
        """Names of the saved sessions that were live when the server last stopped."""
        if self.resume_file is None or not self.resume_file.is_file():
            return []
        try:
            return list(json.loads(self.resume_file.read_text(encoding="utf-8"))["sessions"])
        except (ValueError, KeyError, TypeError):
            return []

    def close(self) -> None:
        """Leave Studio (its creatures stop; their sessions stay resumable) and the portal."""
        if self.portal is None:
            return
        try:
            if self._service is not None:
                self._service.stop()
        finally:
            self.portal.close()

    def run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run *fn* (a sync or async function) on the engine's loop and return its result.

        Raises:
            Exception: what *fn* raised, in the calling thread.
        """
        return self.portal.call(_call, fn, args, kwargs)


async def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call *fn* on the loop and await what it returns when that is awaitable.

    Asking the result, not the function, covers async methods that a decorator hides from
    ``inspect.iscoroutinefunction`` (trio wraps some of its channel methods so).
    """
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result
