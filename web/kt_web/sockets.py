"""The WebSockets: a creature's chat, a session's observer, the runtime graph.

Each socket is served by one server thread that forwards events from Studio's attach streams
(read through the portal), plus, for chat, one thread that reads the client's input.

Overflow policy: the engine never waits for a socket. Each socket's events are pumped, on the
engine's loop, into a queue of :data:`MAX_BACKLOG` events (:class:`~kt_web.feed.EventFeed`)
that the socket's thread sends from. When a client falls that far behind, the pump stops (the
engine no longer feeds that socket, so memory stays bounded), the socket is closed with code
1013 ("try again later") once the frames before it are sent, and a client that does not take
even those within :data:`CLOSE_GRACE` seconds has its connection cut. The creature goes on; the
client can reconnect and read the history. The log socket follows the same policy
(:mod:`kt_web.logs`). Closing a chat socket never cancels a running turn: turns are queued, not
awaited, by it.

Frames are JSON objects with a ``type``. Chat sends ``user_input``, ``processing_start``,
``text`` (``content``: a delta), ``tool_start``, ``tool_done``, ``subagent_start``,
``subagent_done``, ``token_usage``, ``processing_end`` (``status``), ``idle`` and ``error``;
every frame made from an event carries that event as ``event`` (the kernel's wire shape).
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

from kt_web import feed as feeds

__all__ = ["CLOSE_GRACE", "MAX_BACKLOG", "Socket", "forward", "open_feed", "register", "serve_logs"]

MAX_BACKLOG = 10_000  # events a client may fall behind before its socket is closed (1013)
CLOSE_GRACE = 10.0  # seconds a dropped client has to take its last frames before it is cut off
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_SLOW = 1013

_FRAME_TYPES = {
    "turn_started": "processing_start",
    "text_delta": "text",
    "tool_call_started": "tool_start",
    "tool_call_completed": "tool_done",
    "subagent_started": "subagent_start",
    "subagent_completed": "subagent_done",
    "llm_call_completed": "token_usage",
    "turn_completed": "processing_end",
    "error": "error",
}
# A creature's own turn activity; every other event (engine topology, lifecycle) is "activity".
_CREATURE_EVENTS = frozenset(
    {
        *_FRAME_TYPES,
        "interrupt",
        "warning",
        "llm_call_started",
        "message_appended",
        "history_replaced",
        "assistant_message_edited",
        "compaction_started",
        "compaction_completed",
        "compaction_skipped",
    }
)


def frame(event: Any) -> dict[str, Any]:
    """The frame for one event: a creature's, a channel message, or other engine activity."""
    from kt.events import to_wire
    from kt_studio.convert import unstructure

    try:
        wire = to_wire(event)
    except Exception:  # an engine event the kernel's converter does not know
        wire = {"type": event.type, **unstructure(event)}
    source = getattr(event, "creature", "")
    if event.type == "channel_message":
        return {"type": "channel_message", **wire, "source": source, "event": wire}
    if event.type not in _CREATURE_EVENTS:
        return {"type": "activity", "activity_type": event.type, "source": source, "event": wire}
    out: dict[str, Any] = {"type": _FRAME_TYPES.get(event.type, event.type), "source": source}
    if event.type == "text_delta":
        out["content"] = event.text
    elif event.type == "turn_completed":
        result = event.result
        out["status"] = result.status
        out["response"] = result.text
        out["usage"] = unstructure(result.usage)
    elif event.type == "llm_call_completed":
        out["usage"] = wire.get("usage")
    out["event"] = wire
    return out


class Socket:
    """A socket that several threads may send on (one lock around ``send``)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.closed = False
        self._lock = threading.RLock()

    def ordered(self) -> threading.RLock:
        """Hold it to make sends of this thread come before any other thread's (``with``)."""
        return self._lock

    def send(self, data: dict[str, Any]) -> None:
        """Send *data* as one JSON text frame (blocks while the client's buffers are full)."""
        with self._lock:
            self.ws.send(json.dumps(data, ensure_ascii=False, default=str))

    def close(self, code: int, reason: str) -> None:
        """Close with *code*, then wait (up to 5 s) for the client's closing handshake.

        Returning at once would let the server close the TCP connection while the client's
        close frame is still unread, and the kernel would then reset the connection: the
        client could lose the frames sent just before, such as the error saying why.
        """
        with self._lock:
            try:
                self.ws.close(reason=code, message=reason)
            except Exception:  # already closed by the client
                pass
            self.closed = True
        reader = getattr(self.ws, "thread", None)
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=5)

    def cut_off_later(self, grace: float) -> None:
        """Cut the connection in *grace* seconds unless it was closed by then.

        For a client that stopped reading: the thread sending to it is stuck until the TCP
        connection goes, so a closing handshake cannot reach it.
        """

        def cut() -> None:
            if self.closed:
                return
            try:
                self.ws.sock.shutdown(socket.SHUT_RDWR)  # the stuck send fails at once
            except OSError:  # gone already
                pass

        timer = threading.Timer(grace, cut)
        timer.daemon = True
        timer.start()


def register(app: Any, sock: Any, host: Any) -> None:
    """Add the WebSocket routes to *app*."""
    from kt.errors import KTError

    def refused(ws: Socket) -> bool:
        import flask

        refusal = getattr(flask.g, "kt_ws_refusal", None)
        if refusal is None:
            return False
        ws.send({"type": "error", "error": {"type": "Unauthorized", "message": refusal}})
        ws.close(CLOSE_UNAUTHORIZED, "unauthorized")
        return True

    def open_stream(ws: Socket, fn: Any, *args: Any) -> Any:
        try:
            return host.run(fn, *args)
        except KTError as error:
            from kt_web.errors import error_body

            ws.send({"type": "error", **error_body(error)})
            ws.close(CLOSE_NOT_FOUND, type(error).__name__)
            return None

    def feed(ws: Socket, events: Any) -> feeds.EventFeed:
        return open_feed(host, ws, events)

    @sock.route("/ws/sessions/<sid>/creatures/<cid>/chat")
    def chat_socket(raw: Any, sid: str, cid: str) -> None:
        """Chat with a session's creatures and watch them work.

        On connect: the recent channel messages (``channel_message`` with ``history: true``),
        then ``activity`` / ``session_info``. Send ``{"type": "input", "content": text,
        "target"?: creature}`` (default target: ``cid``). Frames: ``user_input``,
        ``processing_start``, ``text``, ``tool_start``, ``tool_done``, ``subagent_start``,
        ``subagent_done``, ``token_usage``, ``processing_end``, ``idle`` (each with ``source``,
        the creature), ``channel_message``, ``activity``, ``error``. Closing the socket never
        cancels a running turn.
        """
        from kt_studio.convert import unstructure

        ws = Socket(raw)
        if refused(ws):
            return
        studio = host.studio
        target = open_stream(ws, studio.sessions.creature_id, sid, cid)
        if target is None:
            return
        events = feed(ws, host.run(studio.attach.session, sid))
        for message in host.run(studio.sessions.channel_history, sid):
            ws.send({"type": "channel_message", **message, "history": True})
        session = host.run(studio.sessions.get, sid)
        ws.send(
            {"type": "activity", "activity_type": "session_info", "session": unstructure(session)}
        )

        def read_inputs() -> None:
            from simple_websocket import ConnectionClosed

            try:
                while True:
                    text = raw.receive()
                    try:
                        message = json.loads(text)
                        if not isinstance(message, dict) or message.get("type") != "input":
                            raise ValueError('send {"type": "input", "content": "..."}')
                        content = message.get("content")
                        who = message.get("target") or target
                        # The turn's own frames (processing_start ...) wait for this echo.
                        with ws.ordered():
                            source = host.run(studio.sessions.send_input, sid, who, content)
                            ws.send({"type": "user_input", "content": content, "source": source})
                    except (ValueError, KTError) as error:
                        failure = {"type": type(error).__name__, "message": str(error)}
                        ws.send({"type": "error", "error": failure})
            except ConnectionClosed:
                pass
            finally:
                events.stop()

        def after(event: Any) -> None:
            if event.type == "turn_completed" and not host.run(
                studio.sessions.is_busy, event.creature
            ):
                ws.send({"type": "idle", "source": event.creature})

        reader = threading.Thread(target=read_inputs, name="kt-ws-input", daemon=True)
        reader.start()
        forward(ws, events, after)
        reader.join(timeout=5)

    @sock.route("/ws/sessions/<sid>/observer")
    def observer_socket(raw: Any, sid: str) -> None:
        """Every channel message of a session's graphs, without consuming any.

        Frames: ``activity`` / ``attached`` once subscribed (what is sent from then on is
        seen), then ``channel_message`` (channel, sender, content ...).
        """
        ws = Socket(raw)
        if refused(ws):
            return
        stream = open_stream(ws, host.studio.attach.observer, sid)
        if stream is None:
            return
        events = feed(ws, stream)
        ws.send({"type": "activity", "activity_type": "attached", "session_id": sid})
        _watch_close(raw, events)
        forward(ws, events)

    @sock.route("/ws/sessions/<sid>/channels/<channel>")
    def channel_socket(raw: Any, sid: str, channel: str) -> None:
        """The messages of one channel of a session, without consuming any.

        Frames: ``activity`` / ``attached`` once subscribed, then ``channel_message``.
        """
        ws = Socket(raw)
        if refused(ws):
            return
        stream = open_stream(ws, host.studio.attach.channel, sid, channel)
        if stream is None:
            return
        events = feed(ws, stream)
        ws.send({"type": "activity", "activity_type": "attached", "channel": channel})
        _watch_close(raw, events)
        forward(ws, events)

    @sock.route("/ws/runtime/graph")
    def graph_socket(raw: Any) -> None:
        """The engine's events for every graph: creatures, channels, edges, wires, topology.

        Frames: ``activity`` / ``attached`` once subscribed, then one ``activity`` frame per
        engine event (``activity_type`` is the event's type).
        """
        ws = Socket(raw)
        if refused(ws):
            return
        events = feed(ws, host.run(host.studio.attach.runtime))
        ws.send({"type": "activity", "activity_type": "attached"})
        _watch_close(raw, events)
        forward(ws, events)

    @sock.route("/ws/logs")
    def logs_socket(raw: Any) -> None:
        """The server's log: the recent records (``history: true``), then new ones live.

        Frames: ``log`` (``time``, ``level``, ``logger``, ``message``); ``activity`` /
        ``attached`` after the recent records.
        """
        import flask

        ws = Socket(raw)
        if refused(ws):
            return
        serve_logs(raw, ws, flask.current_app.extensions["kt_logs"])


def open_feed(host: Any, ws: Socket, events: Any) -> feeds.EventFeed:
    """Pump *events* into a bounded queue for *ws* (see the overflow policy)."""
    return feeds.EventFeed(
        host,
        events,
        backlog=MAX_BACKLOG,
        on_overflow=lambda: ws.cut_off_later(CLOSE_GRACE),
    )


def forward(ws: Socket, events: feeds.EventFeed, on_event: Any = None) -> None:
    """Send the feed's events to the socket until it ends or the client is gone."""
    while True:
        event = events.get()
        if event is feeds.CLOSED:
            return
        if event is feeds.OVERFLOW:
            ws.close(CLOSE_TOO_SLOW, "client too slow; reconnect and read the history")
            return
        try:
            ws.send(frame(event))
            if on_event is not None:
                on_event(event)
        except Exception:  # the client went away
            events.stop()
            return


def serve_logs(raw: Any, ws: Socket, hub: Any) -> None:
    """Send *hub*'s recent and new log records to *ws* until the client closes or lags."""
    from kt_web import logs

    recent, subscriber = hub.subscribe(on_overflow=lambda: ws.cut_off_later(CLOSE_GRACE))
    try:
        for entry in recent:
            ws.send({**entry, "history": True})
        ws.send({"type": "activity", "activity_type": "attached"})

        def wait() -> None:
            from simple_websocket import ConnectionClosed

            try:
                while True:
                    raw.receive()
            except ConnectionClosed:
                pass
            logs.close(subscriber)

        threading.Thread(target=wait, name="kt-ws-logs", daemon=True).start()
        while True:
            entry = subscriber.get()
            if entry is logs.CLOSED:
                return
            if entry is logs.OVERFLOW:
                ws.close(CLOSE_TOO_SLOW, "client too slow; reconnect")
                return
            ws.send(entry)
    finally:
        hub.unsubscribe(subscriber)


def _watch_close(raw: Any, events: feeds.EventFeed) -> None:
    """End *events* when the client closes a socket it only reads from."""

    def wait() -> None:
        from simple_websocket import ConnectionClosed

        try:
            while True:
                raw.receive()  # clients send nothing; this returns when they close
        except ConnectionClosed:
            pass
        events.stop()

    threading.Thread(target=wait, name="kt-ws-watch", daemon=True).start()
