"""The webhook trigger: an HTTP endpoint, on loopback by default, that wakes the creature.

:class:`WebhookEndpoint` is the HTTP side, shared with the ``webhook`` input module
(:mod:`kt_triggers.webhook_input`), which serves a creature from webhooks instead of waking
it.

Each ``POST`` to the trigger's path becomes one firing: the request is answered ``202
Accepted`` once the firing is queued, without waiting for the turn (HTTP senders retry on
slow answers, which would duplicate work). Anything else is refused with a JSON error and a
status that says why: 404 (wrong path), 405 (not POST), 403 (bad signature), 411 (no
``Content-Length``), 413 (body too large), 400 (malformed request), 408 (too slow).

The body becomes the firing's ``{content}``: for a JSON object, its ``message``, ``content``,
``text`` or ``prompt`` field (the first that is a string), else the whole JSON; for anything
else, the body as UTF-8 text. Top-level string, number and boolean fields of a JSON object are
also placeholders of the prompt template.

A server that listens beyond loopback must check a shared secret. With ``secret`` set, every
delivery carries three headers, and a signature that covers the time and the delivery as well
as the body, so a captured request cannot be sent again (the way Stripe and GitHub sign):

* ``X-Webhook-Timestamp``: the Unix time the sender signed at, in seconds;
* ``X-Webhook-Id``: an id unique to the delivery (a retry of the same delivery reuses it);
* ``X-Signature-256: sha256=<hex HMAC-SHA256 of "<timestamp>.<id>." followed by the body>``.

A delivery signed more than ``replay_window`` seconds (default 300) from the receiver's clock
is refused (403), and so is a delivery id seen before within that window (409): old and
repeated deliveries never become turns. :func:`signed_headers` makes the headers for a sender.
Without a secret (loopback only), a repeated ``X-Webhook-Id`` is refused too when one is sent.

The server is a small HTTP/1.1 reader on trio sockets: one request per connection, no chunked
bodies, ``Expect: 100-continue`` honoured.
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import ipaddress
import json
import time
import uuid
from collections import OrderedDict
from typing import Any, ClassVar

import trio

from kt_triggers.errors import TriggerConfigError
from kt_triggers.triggers import Trigger, check_template, render_template

__all__ = [
    "DEFAULT_REPLAY_WINDOW",
    "DEFAULT_WEBHOOK_PROMPT",
    "WebhookEndpoint",
    "WebhookTrigger",
    "respond",
    "signed_headers",
]

DEFAULT_WEBHOOK_PROMPT = "[webhook {trigger_id}] {content}"
_MAX_HEAD = 16 * 1024  # request line and headers
DEFAULT_REPLAY_WINDOW = 300.0
_MAX_REMEMBERED = 100_000  # delivery ids kept at most; the oldest are forgotten first
_CONTENT_KEYS = ("message", "content", "text", "prompt")
_REASONS = {
    100: "Continue",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    411: "Length Required",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class _Refused(Exception):
    """A request answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class WebhookEndpoint(abc.ABC):
    """An HTTP endpoint on trio sockets that accepts ``POST`` requests, checked and parsed.

    What the webhook trigger and the webhook input share: the address checks (anything but
    loopback needs a secret), reading one request per connection with its limits, the HMAC
    signature check, and the refusals. A subclass says what an accepted request does in
    :meth:`accept`.

    Args:
        host: The address to listen on (default ``127.0.0.1``). Anything but loopback needs
            *secret*.
        port: The TCP port (0 picks a free one).
        path: The URL path to accept.
        secret: Shared secret for the ``X-Signature-256`` HMAC check (``None``: no check).
        prompt: The template a request's text is built from.
        max_body: Largest accepted body in bytes.
        read_timeout: Seconds a client has to send its request.
        replay_window: With *secret*: seconds a signed delivery stays valid (either side of
            the receiver's clock); its id is remembered that long, and refused if seen again.

    Raises:
        TriggerConfigError: a bad port, path, size, template, window, or a non-loopback host
            without a secret (``option`` names the option).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9090,
        path: str = "/webhook",
        secret: str | None = None,
        prompt: str = DEFAULT_WEBHOOK_PROMPT,
        max_body: int = 1024 * 1024,
        read_timeout: float = 10.0,
        replay_window: float = DEFAULT_REPLAY_WINDOW,
    ) -> None:
        if (
            isinstance(replay_window, bool)
            or not isinstance(replay_window, int | float)
            or not 0 < replay_window <= 86_400
        ):
            raise TriggerConfigError(
                "'replay_window' must be a number of seconds above 0 and at most 86400, not "
                f"{replay_window!r}",
                option="replay_window",
            )
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise TriggerConfigError(
                f"'port' must be a TCP port number (0 picks a free one), not {port!r}",
                option="port",
            )
        if not isinstance(path, str) or not path.startswith("/"):
            raise TriggerConfigError(
                f"'path' must start with '/', like '/webhook', not {path!r}", option="path"
            )
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise TriggerConfigError(
                f"'max_body' must be a positive number of bytes, not {max_body!r}",
                option="max_body",
            )
        if not _is_loopback(host) and not secret:
            raise TriggerConfigError(
                f"the webhook would listen on '{host}', reachable from other machines, "
                "without a secret; set 'secret' (senders sign with X-Signature-256) or keep "
                "host = '127.0.0.1'",
                option="secret",
            )
        self.host = host
        self.port = port
        self.path = path
        self.secret = secret.encode() if secret else None
        self.prompt = check_template(prompt)
        self.max_body = max_body
        self.read_timeout = read_timeout
        self.replay_window = float(replay_window)
        self.clock = time.time  # the wall clock senders sign with; tests may replace it
        self._seen: OrderedDict[str, float] = OrderedDict()  # delivery id -> when it expires

    @property
    def url(self) -> str:
        """The endpoint's URL (its real port once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    async def bind(self) -> list[trio.SocketListener]:
        """Open the listening sockets; :attr:`port` becomes the real port.

        Raises:
            OSError: the address cannot be bound (the port is taken, say).
        """
        listeners = await trio.open_tcp_listeners(self.port, host=self.host)
        self.port = listeners[0].socket.getsockname()[1]
        return listeners

    @abc.abstractmethod
    async def accept(
        self, agent: Any, stream: trio.SocketStream, body: bytes, values: dict[str, Any]
    ) -> None:
        """Act on an accepted request and answer it on *stream* (with :func:`respond`).

        Args:
            agent: The creature.
            stream: The connection, to answer on.
            body: The request body.
            values: The template values the body provides (``content``, ``body``, the
                top-level fields of a JSON object, ``path``).
        """

    async def handle(self, agent: Any, stream: trio.SocketStream) -> None:
        """Serve one connection: read the request, refuse it or :meth:`accept` it."""
        async with stream:
            try:
                with trio.fail_after(self.read_timeout):
                    body, values = await self._read(stream)
            except _Refused as refused:
                await respond(stream, refused.status, {"error": refused.message})
                return
            except trio.TooSlowError:
                await respond(stream, 408, {"error": "the request took too long to arrive"})
                return
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return  # the client went away
            await self.accept(agent, stream, body, {**values, "path": self.path})

    async def _read(self, stream: trio.SocketStream) -> tuple[bytes, dict[str, Any]]:
        """Read one request; return its body and the template values it provides."""
        method, target, headers, rest = await _read_head(stream)
        if target.split("?", 1)[0] != self.path:
            raise _Refused(404, f"nothing here; the webhook listens on {self.path}")
        if method != "POST":
            raise _Refused(405, f"use POST, not {method}")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise _Refused(411, "send the body with a Content-Length, not chunked")
        try:
            length = int(headers.get("content-length", ""))
        except ValueError:
            raise _Refused(411, "a Content-Length header is required") from None
        if length < 0:
            raise _Refused(400, "Content-Length is negative")
        if length > self.max_body:
            raise _Refused(413, f"the body is {length} bytes; the limit is {self.max_body}")
        if headers.get("expect", "").lower() == "100-continue":
            await stream.send_all(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = bytearray(rest)
        while len(body) < length:
            chunk = await stream.receive_some(65536)
            if not chunk:
                raise _Refused(400, "the body ended before Content-Length bytes")
            body += chunk
        body = bytes(body[:length])
        self._check_delivery(headers, body)
        return body, _template_values(body)

    def _check_delivery(self, headers: dict[str, str], body: bytes) -> None:
        """Refuse a delivery that is unsigned (with a secret), stale, or seen before."""
        delivery = headers.get("x-webhook-id", "").strip()
        now = self.clock()
        if self.secret is not None:
            stamp = headers.get("x-webhook-timestamp", "").strip()
            if not stamp or not delivery:
                raise _Refused(
                    403,
                    "a signed delivery needs X-Webhook-Timestamp (Unix seconds), X-Webhook-Id "
                    "and X-Signature-256 (HMAC-SHA256 of '<timestamp>.<id>.' + body)",
                )
            given = headers.get("x-signature-256", "").strip()
            expected = "sha256=" + _signature(self.secret, body, stamp, delivery)
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise _Refused(
                    403,
                    "missing or wrong X-Signature-256 (HMAC-SHA256 of '<timestamp>.<id>.' "
                    "followed by the body, with the shared secret)",
                )
            try:
                signed_at = float(stamp)
            except ValueError:
                raise _Refused(403, "X-Webhook-Timestamp is not a number of seconds") from None
            if not abs(now - signed_at) <= self.replay_window:
                raise _Refused(
                    403,
                    f"the delivery was signed {now - signed_at:.0f}s from this server's clock; "
                    f"deliveries are accepted for {self.replay_window:g}s (check both clocks)",
                )
        if delivery:
            self._remember(delivery, now)

    def _remember(self, delivery: str, now: float) -> None:
        """Record *delivery* as seen, refusing it when it was seen within the window."""
        while self._seen and next(iter(self._seen.values())) < now:
            self._seen.popitem(last=False)  # expired: older deliveries are refused as stale
        if delivery in self._seen:
            raise _Refused(409, f"delivery {delivery[:80]!r} was already accepted; not again")
        self._seen[delivery] = now + 2 * self.replay_window
        while len(self._seen) > _MAX_REMEMBERED:
            self._seen.popitem(last=False)


class WebhookTrigger(WebhookEndpoint, Trigger):
    """Fire once per HTTP ``POST`` to ``http://<host>:<port><path>``.

    Start it with ``await agent.add_trigger(trigger)``: that returns once the socket is bound,
    so ``trigger.port`` (useful with ``port=0``) and ``trigger.url`` are set and no request can
    arrive before the listener exists. Cancelling the job closes the socket; a request still
    being read is dropped.

    Args:
        host: The address to listen on (default ``127.0.0.1``). Anything but loopback needs
            *secret*.
        port: The TCP port (default 9090; 0 picks a free one).
        path: The URL path to accept (default ``/webhook``).
        secret: Shared secret for the ``X-Signature-256`` HMAC check (``None``: no check).
        prompt: The template of each firing (default ``"[webhook {trigger_id}] {content}"``).
        max_body: Largest accepted body in bytes (default 1 MiB).
        read_timeout: Seconds a client has to send its request (default 10).
        replay_window: Seconds a signed delivery stays valid (default 300).
        id: The trigger id (default ``trigger_<8 hex>``).

    Raises:
        TriggerConfigError: a bad port, path, size, template, or a non-loopback host without a
            secret.
    """

    name: ClassVar[str] = "webhook"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9090,
        path: str = "/webhook",
        secret: str | None = None,
        prompt: str | None = None,
        max_body: int = 1024 * 1024,
        read_timeout: float = 10.0,
        replay_window: float = DEFAULT_REPLAY_WINDOW,
        id: str | None = None,
    ) -> None:
        Trigger.__init__(self, id=id)
        WebhookEndpoint.__init__(
            self,
            host=host,
            port=port,
            path=path,
            secret=secret,
            prompt=prompt or DEFAULT_WEBHOOK_PROMPT,
            max_body=max_body,
            read_timeout=read_timeout,
            replay_window=replay_window,
        )

    def describe(self) -> str:
        """A one-line summary for listings."""
        return f"POST {self.url}"

    async def run(self, agent: Any, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Bind the socket, report ready, and serve until cancelled.

        Raises:
            OSError: the address cannot be bound (the port is taken, say).
        """
        listeners = await self.bind()
        task_status.started()

        async def handle(stream: trio.SocketStream) -> None:
            await self.handle(agent, stream)

        await trio.serve_listeners(handle, listeners)

    async def accept(
        self, agent: Any, stream: trio.SocketStream, body: bytes, values: dict[str, Any]
    ) -> None:
        """Queue a firing, then answer ``202 Accepted`` without waiting for the turn."""
        await self.fire(
            agent,
            render_template(self.prompt, {**values, "trigger_id": self.id}),
            context={"path": self.path, "bytes": len(body)},
            wait=False,
        )
        await respond(stream, 202, {"accepted": True, "trigger_id": self.id})


async def _read_head(stream: trio.SocketStream) -> tuple[str, str, dict[str, str], bytes]:
    buffer = bytearray()
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > _MAX_HEAD:
            raise _Refused(431, f"the request head is larger than {_MAX_HEAD} bytes")
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise _Refused(400, "the request ended before its headers did")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = request_line.split(" ")
    except ValueError:
        raise _Refused(400, f"malformed request line {request_line[:80]!r}") from None
    if not version.startswith("HTTP/1."):
        raise _Refused(400, f"unsupported protocol {version[:20]!r}; use HTTP/1.1")
    headers = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise _Refused(400, f"malformed header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return method.upper(), target, headers, rest


def _template_values(body: bytes) -> dict[str, Any]:
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return {"content": text, "body": text}
    values: dict[str, Any] = {"body": text}
    content = None
    if isinstance(data, dict):
        values.update(
            {
                k: v
                for k, v in data.items()
                if isinstance(k, str) and isinstance(v, str | int | float | bool)
            }
        )
        content = next((data[k] for k in _CONTENT_KEYS if isinstance(data.get(k), str)), None)
    if content is None:
        content = text if data is None else json.dumps(data, ensure_ascii=False)
    values["content"] = content
    return values


async def respond(stream: trio.SocketStream, status: int, payload: dict[str, Any]) -> None:
    """Answer with *status* and *payload* as JSON, then close; a client gone is no error."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    try:
        await stream.send_all(head + body)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the client did not wait for the answer


def _signature(secret: bytes, body: bytes, timestamp: str, delivery: str) -> str:
    signed = f"{timestamp}.{delivery}.".encode() + body
    return hmac.new(secret, signed, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: bytes, *, timestamp: float | None = None, delivery_id: str | None = None
) -> dict[str, str]:
    """The headers that sign *body* for an endpoint with *secret*.

    Args:
        secret: The endpoint's shared secret.
        body: The exact bytes to be sent.
        timestamp: Unix time of signing (default: now).
        delivery_id: The delivery's id (default: a new random one); reuse it only to retry
            the same delivery.

    Returns:
        ``X-Webhook-Timestamp``, ``X-Webhook-Id`` and ``X-Signature-256``.
    """
    stamp = str(int(time.time() if timestamp is None else timestamp))
    delivery = delivery_id or uuid.uuid4().hex
    return {
        "X-Webhook-Timestamp": stamp,
        "X-Webhook-Id": delivery,
        "X-Signature-256": "sha256=" + _signature(secret.encode(), body, stamp, delivery),
    }


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
