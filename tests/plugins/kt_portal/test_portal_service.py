"""``Portal.start_service``: the long-lived tasks the server keeps on the engine's loop.

The server holds Studio open with one (:mod:`kt_web.host`) and pumps each socket's events with
others (:mod:`kt_web.feed`).
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from kt.errors import AgentStoppedError
from kt_portal import Portal


async def echo_service(values, *, task_status):
    """Ready with a channel; then moves values from it into *values* until cancelled."""
    send, receive = trio.open_memory_channel(10)
    task_status.started(send)
    async for value in receive:
        values.append(value)


async def set_event(event):
    event.set()


def test_a_service_runs_from_ready_until_stopped():
    values = []
    with Portal() as portal:
        service = portal.start_service(echo_service, values, name="echo")
        assert service.running and service.name == "echo"
        portal.call(service.value.send, "one")
        portal.call(trio.testing.wait_all_tasks_blocked)
        assert values == ["one"]
        service.stop()
        assert not service.running
        service.stop()  # idempotent
        assert portal.call(trio.sleep, 0) is None  # the portal goes on


def test_an_error_before_ready_reaches_the_caller():
    async def broken(*, task_status):
        raise ValueError("no port to bind")

    async def never_ready(*, task_status):
        return None

    with Portal() as portal:
        with pytest.raises(ValueError, match="no port to bind"):
            portal.start_service(broken)
        with pytest.raises(RuntimeError):
            portal.start_service(never_ready)
        assert portal.call(trio.sleep, 0) is None


def test_an_error_after_ready_is_kept_for_stop_and_spares_the_portal():
    async def failing_later(*, task_status):
        fail = trio.Event()
        task_status.started(fail)
        await fail.wait()
        raise OSError("the disk is full")

    with Portal() as portal:
        service = portal.start_service(failing_later)
        portal.call(set_event, service.value)
        portal.call(trio.testing.wait_all_tasks_blocked)
        assert not service.running
        with pytest.raises(OSError, match="the disk is full"):
            service.stop()
        service.stop()  # raised once
        other = portal.start_service(echo_service, [])
        assert other.running


def test_closing_the_portal_cancels_its_services():
    cancelled = []

    async def holding(*, task_status):
        task_status.started()
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.append(True)
            raise

    portal = Portal().start()
    service = portal.start_service(holding)
    portal.close()
    assert cancelled == [True] and not service.running
    service.stop()  # after the portal closed: nothing to do
    with pytest.raises(AgentStoppedError):
        portal.start_service(holding)
