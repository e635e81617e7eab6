"""The ``webhook`` input: serve a creature from HTTP ``POST`` requests, on loopback by default.

Where the webhook *trigger* wakes a creature that talks to someone else, the webhook *input*
is how the creature is talked to: ``agent.serve()`` (and ``kt run``) runs it, and each accepted
request is one user turn, run one at a time in the order the requests arrived::

    input = { type = "webhook", port = 8787, reply = true }

The request is read as the trigger reads it (same limits, same signed-delivery check that
refuses old and repeated deliveries, same refusals; see :mod:`kt_triggers.webhook`), and its
text is the ``prompt`` template filled from the body (default ``"{content}"``: a JSON object's
``message``, ``content``, ``text`` or ``prompt`` field, else the body). The answer is ``202
Accepted`` as soon as the turn is queued, or, with ``reply = true``, ``200 OK`` once the turn
has ended, with the turn's ``status`` and reply ``text`` as JSON. With ``max_requests = N`` the
input ends after N turns (``serve()`` returns); otherwise it serves until it is cancelled.

It shows nothing itself: ``kt run`` adds the ``stdout`` output, so the replies stream to the
terminal that started it.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import trio

from kt.errors import ConfigValidationError
from kt_triggers.errors import TriggerConfigError
from kt_triggers.triggers import render_template
from kt_triggers.webhook import DEFAULT_REPLAY_WINDOW, WebhookEndpoint, respond

__all__ = ["DEFAULT_INPUT_PROMPT", "WebhookInput"]

DEFAULT_INPUT_PROMPT = "{content}"

_OPTIONS = (
    "host",
    "port",
    "path",
    "secret",
    "prompt",
    "max_body",
    "read_timeout",
    "timeout",
    "reply",
    "max_requests",
    "replay_window",
)


@attrs.define(eq=False)
class _Request:
    text: str
    result: Any = None
    done: trio.Event = attrs.field(factory=trio.Event)  # the turn ended
    answered: trio.Event = attrs.field(factory=trio.Event)  # the client got its answer


class WebhookInput(WebhookEndpoint):
    """An input module: each accepted ``POST`` is a turn of the creature it serves.

    Args:
        host: The address to listen on (default ``127.0.0.1``). Anything but loopback needs
            *secret*.
        port: The TCP port (default 9090; 0 picks a free one, see :attr:`port` once
            :attr:`listening` is set).
        path: The URL path to accept (default ``/webhook``).
        secret: Shared secret for the ``X-Signature-256`` HMAC check (``None``: no check).
        prompt: The template of each turn's text (default ``"{content}"``).
        max_body: Largest accepted body in bytes (default 1 MiB).
        read_timeout: Seconds a client has to send its request (default 10).
        timeout: Time limit per turn in seconds (``None``: the creature's own).
        reply: Answer each request when its turn has ended, with the turn's status and
            text (``200``), instead of ``202`` as soon as it is queued.
        max_requests: End after this many turns (``None``: serve until cancelled); requests
            beyond it are refused with ``503``.
        replay_window: Seconds a signed delivery stays valid (default 300; see
            :mod:`kt_triggers.webhook`).

    Attributes:
        listening: Set once the socket is bound (:attr:`port` and :attr:`url` are then real).
        handled: Turns run so far.
        renders_events: ``False``: pair it with an output (``kt run`` adds ``stdout``).

    Raises:
        TriggerConfigError: a bad option (``option`` names it).
    """

    renders_events: ClassVar[bool] = False

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
        timeout: float | None = None,
        reply: bool = False,
        max_requests: int | None = None,
        replay_window: float = DEFAULT_REPLAY_WINDOW,
    ) -> None:
        super().__init__(
            host=host,
            port=port,
            path=path,
            secret=secret,
            prompt=prompt or DEFAULT_INPUT_PROMPT,
            max_body=max_body,
            read_timeout=read_timeout,
            replay_window=replay_window,
        )
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise TriggerConfigError(
                f"'timeout' must be a positive number of seconds, not {timeout!r}",
                option="timeout",
            )
        if not isinstance(reply, bool):
            raise TriggerConfigError(
                f"'reply' must be true or false, not {reply!r}", option="reply"
            )
        if max_requests is not None and (
            isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1
        ):
            raise TriggerConfigError(
                f"'max_requests' must be a positive number, not {max_requests!r}",
                option="max_requests",
            )
        self.timeout = timeout
        self.reply = reply
        self.max_requests = max_requests
        self.listening = trio.Event()
        self.handled = 0
        self.exit_code = 0
        self._accepted = 0
        self._queue: trio.MemorySendChannel[_Request] | None = None

    @classmethod
    def from_entry(cls, entry: Any, agent: Any) -> WebhookInput:
        """Build the input from ``input = {type = "webhook", ...}``.

        Raises:
            ConfigValidationError: an unknown option or a bad value; the message names
                ``input.<option>`` and the config file.
        """
        options = dict(entry.options)
        config = getattr(agent, "config", None)
        file = str(config.files[-1]) if config is not None and config.files else None
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigValidationError(
                f"the 'webhook' input has no option '{unknown[0]}'; it takes {', '.join(_OPTIONS)}",
                path=f"input.{unknown[0]}",
                file=file,
            )
        try:
            return cls(**options)
        except TriggerConfigError as exc:
            raise ConfigValidationError(
                exc.detail, path=f"input.{exc.option or 'type'}", file=file
            ) from None

    async def run(self, agent: Any) -> None:
        """Serve *agent* (running) from requests until *max_requests* turns ran, or cancelled.

        Raises:
            OSError: the address cannot be bound (the port is taken, say).
        """
        listeners = await self.bind()
        send, requests = trio.open_memory_channel[_Request](math.inf)
        self._queue = send
        self.listening.set()

        async def handle(stream: trio.SocketStream) -> None:
            await self.handle(agent, stream)

        limit = {} if self.timeout is None else {"timeout": self.timeout}
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, handle, listeners)
            async for request in requests:
                request.result = await agent.run(request.text, **limit)
                request.done.set()
                await request.answered.wait()
                self.handled += 1
                if self.max_requests is not None and self.handled >= self.max_requests:
                    break
            nursery.cancel_scope.cancel()

    async def accept(
        self, agent: Any, stream: trio.SocketStream, body: bytes, values: dict[str, Any]
    ) -> None:
        """Queue the request's turn; answer at once (``202``), or with its result (``200``)."""
        assert self._queue is not None
        if self.max_requests is not None and self._accepted >= self.max_requests:
            await respond(
                stream, 503, {"error": f"this input takes {self.max_requests} requests; done"}
            )
            return
        self._accepted += 1
        request = _Request(render_template(self.prompt, values))
        self._queue.send_nowait(request)
        try:
            if not self.reply:
                await respond(stream, 202, {"accepted": True})
                return
            await request.done.wait()
            result = request.result
            await respond(stream, 200, {"status": result.status, "text": result.text})
        finally:
            request.answered.set()
