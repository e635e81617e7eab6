"""A real redis-server per test, on a random loopback port, with AOF on (never a system one)."""

from __future__ import annotations

import pytest
import trio
from lab_support import REDIS_SERVER, RedisServer, Workers


@pytest.fixture
def redis_server(tmp_path):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    pytest.importorskip(
        "redis", reason="the lab extra is not installed (pip install kt-terrarium[lab])"
    )
    server = RedisServer(tmp_path / "redis")
    server.folder.mkdir()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def workers(redis_server, tmp_path):
    """`kt worker` subprocesses on the test's Redis (start them with ``lab_support.start``)."""
    started = Workers(redis_server.url, tmp_path)
    yield started
    await trio.to_thread.run_sync(started.stop_all)
