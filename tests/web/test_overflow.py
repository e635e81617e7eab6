"""The overflow policy of the sockets: a slow client never stalls a creature or grows memory.

Each branch of the policy (:mod:`kt_web.sockets`, :mod:`kt_web.feed`, :mod:`kt_web.logs`) runs
against a real Studio on a real portal, with a stand-in for the client's socket that stops
reading on command: a client that reads nothing cannot be made from a real WebSocket client
in a test without megabytes of frames, because the kernel's socket buffers absorb them.
"""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from kt.testing import ScriptedLLM
from kt_studio import Studio
from kt_web import logs, sockets
from kt_web.host import StudioHost

REPLY = "x" * 200  # 200 text deltas of one character each


class StalledClient:
    """A server-side socket whose client reads nothing until ``release()``.

    ``send`` blocks like a send into full buffers; with ``wedged=True`` it stays blocked until
    the connection is cut (``sock.shutdown``), as a real send to a dead client does.
    """

    def __init__(self, *, wedged: bool = False) -> None:
        self.sock, self._peer = socket.socketpair()
        self.sent: list[str] = []
        self.close_code: int | None = None
        self._released = threading.Event()
        self._wedged = wedged
        self.blocked = threading.Event()  # set once a send is waiting

    def send(self, text: str) -> None:
        if self._wedged:
            self.blocked.set()
            self.sock.setblocking(True)
            while True:  # the peer never reads: this blocks until the socket is shut down
                self.sock.sendall(b"\0" * 65536)
        if not self._released.is_set():
            self.blocked.set()
            self._released.wait()
        self.sent.append(text)

    def release(self) -> None:
        self._released.set()

    def close(self, reason: int, message: str) -> None:
        self.close_code = reason


class GoneClient(StalledClient):
    """A client that went away: every send fails."""

    def send(self, text: str) -> None:
        raise ConnectionResetError("the client is gone")


@pytest.fixture
def host(tmp_path, creature_dir):
    llm = ScriptedLLM([REPLY] * 5, chunk_size=1)
    running = StudioHost(
        lambda: Studio(session_dir=tmp_path / "sessions", pwd=tmp_path, llm=llm)
    ).start()
    session = running.run(running.studio.sessions.start_creature, str(creature_dir))
    running.sid = session.session_id
    running.sid_root = session.root
    yield running
    running.close()


@pytest.fixture
def creature_dir(tmp_path):
    folder = tmp_path / "helper"
    folder.mkdir()
    (folder / "creature.toml").write_text('name = "helper"\nsystem_prompt = "You help."\n')
    return folder


def watch(host, client):
    """Attach *client* to the creature's events as a chat socket does; returns the pieces."""
    stream = host.run(host.studio.attach.creature, host.sid, "root")
    ws = sockets.Socket(client)
    feed = sockets.open_feed(host, ws, stream)
    thread = threading.Thread(target=sockets.forward, args=(ws, feed), daemon=True)
    thread.start()
    return stream, ws, feed, thread


def open_receivers(host, stream) -> int:
    return host.run(lambda: stream.statistics().open_receive_channels)


def chat(host, text: str):
    """One turn; returns once every task on the engine's loop (the feed's pump) is idle."""
    from trio.testing import wait_all_tasks_blocked

    reply = host.run(host.studio.sessions.chat, host.sid, "root", text)
    host.run(wait_all_tasks_blocked)
    return reply


def test_a_client_that_falls_behind_is_dropped_with_1013(host, monkeypatch):
    monkeypatch.setattr(sockets, "MAX_BACKLOG", 20)
    client = StalledClient()
    stream, _ws, feed, thread = watch(host, client)

    reply = chat(host, "talk a lot")
    assert reply.response == REPLY  # the turn ran to its end while the client read nothing
    assert client.blocked.is_set() and feed.overflowed
    assert open_receivers(host, stream) == 0  # the engine no longer feeds the socket
    assert feed.queue.qsize() <= 21  # at most the backlog and the overflow mark wait

    client.release()
    thread.join(10)
    assert not thread.is_alive()
    assert client.close_code == sockets.CLOSE_TOO_SLOW
    assert 1 <= len(client.sent) <= 21  # what was queued before the drop, then the close


def test_a_client_that_keeps_up_is_never_dropped(host, monkeypatch):
    # A model streaming at a human pace (1 ms a delta): 400 events pass a 20-event queue.
    paced = ScriptedLLM([REPLY], chunk_size=1, delay=0.001)
    host.run(host.studio.engine[host.sid_root].agent.set_llm, paced)
    monkeypatch.setattr(sockets, "MAX_BACKLOG", 20)
    client = StalledClient()
    client.release()  # reads everything at once
    stream, _ws, feed, thread = watch(host, client)
    done = threading.Event()

    def wait_for_the_end(text: str) -> None:
        if '"processing_end"' in text:
            done.set()

    original = client.send
    client.send = lambda text: (original(text), wait_for_the_end(text))
    chat(host, "talk a lot")
    assert done.wait(10)
    assert not feed.overflowed and client.close_code is None
    assert sum('"type": "text"' in f for f in client.sent) == len(REPLY)
    feed.stop()
    thread.join(10)
    assert not thread.is_alive() and open_receivers(host, stream) == 0


def test_a_client_that_takes_nothing_is_cut_off_after_the_grace(host, monkeypatch):
    monkeypatch.setattr(sockets, "MAX_BACKLOG", 20)
    monkeypatch.setattr(sockets, "CLOSE_GRACE", 0.2)
    client = StalledClient(wedged=True)
    stream, ws, feed, thread = watch(host, client)

    chat(host, "talk a lot")
    assert feed.overflowed and open_receivers(host, stream) == 0
    thread.join(10)  # the send was stuck; cutting the connection ended it
    assert not thread.is_alive()
    assert client.close_code is None and not ws.closed  # no handshake could reach it


def test_a_client_gone_mid_stream_ends_its_feed(host):
    client = GoneClient()
    stream, _ws, feed, thread = watch(host, client)
    chat(host, "hello?")
    thread.join(10)
    assert not thread.is_alive() and not feed.overflowed
    assert open_receivers(host, stream) == 0


def test_a_log_reader_that_falls_behind_is_dropped(monkeypatch):
    monkeypatch.setattr(logs, "QUEUE_LIMIT", 5)
    hub = logs.LogHub()
    dropped = []
    _recent, slow = hub.subscribe(on_overflow=lambda: dropped.append(True))
    _recent, fast = hub.subscribe()
    record = logging.LogRecord("kt_web", logging.INFO, __file__, 1, "line %d", (0,), None)
    for _ in range(5):
        hub.emit(record)
        fast.get_nowait()  # this reader keeps up
    hub.emit(record)  # the sixth: the slow reader's queue is full
    assert dropped == [True]
    items = [slow.get_nowait() for _ in range(slow.qsize())]
    assert items[-1] is logs.OVERFLOW and len(items) == 5
    hub.emit(record)  # no longer fed, and the fast reader goes on
    assert slow.empty() and fast.get_nowait()["message"] == "line 0"


def test_the_log_socket_closes_with_1013_when_its_reader_was_dropped(monkeypatch):
    monkeypatch.setattr(logs, "QUEUE_LIMIT", 3)
    hub = logs.LogHub()
    client = StalledClient()
    raw = _ClosingRaw()
    ws = sockets.Socket(client)
    thread = threading.Thread(target=sockets.serve_logs, args=(raw, ws, hub), daemon=True)
    thread.start()
    assert client.blocked.wait(10)  # stuck sending the "attached" frame
    record = logging.LogRecord("kt_web", logging.INFO, __file__, 1, "busy", (), None)
    for _ in range(4):
        hub.emit(record)  # never blocks, though nobody reads
    client.release()
    thread.join(10)
    assert not thread.is_alive() and client.close_code == sockets.CLOSE_TOO_SLOW
    raw.closed.set()


class _ClosingRaw:
    """The raw socket serve_logs watches for the client's close: closes when told."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def receive(self):
        from simple_websocket import ConnectionClosed

        self.closed.wait()
        raise ConnectionClosed()
