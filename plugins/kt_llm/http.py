"""Building blocks for HTTP model backends: SSE decoding, retries, error mapping, tool-call deltas.

Every backend plugin (``kt_openai``, ``kt_anthropic``, ``kt_gemini``, a third-party gateway)
needs the same few pieces around its own wire format, so they live here, in ``kt_llm``'s
public API. A backend that uses them declares the dependency (``kt_requires = ("kt_llm",)``).
:class:`SSEPoster` does the I/O with httpx; the other helpers take bytes read by any client.

* :class:`SSEDecoder` / :func:`aiter_sse`: server-sent events from raw byte chunks, cut anywhere.
* :func:`retrying` with a :class:`RetryPolicy`: capped exponential backoff with jitter, for
  transient errors only, and **only before the first chunk** was yielded, so text the user has
  already seen is never streamed twice.
* :func:`error_for_status` / :func:`error_from_payload`: an HTTP status or an in-stream error
  object to the matching :class:`kt.errors.LLMError` subclass, with ``retry_after`` and a
  one-line summary of the provider's error body (never the raw body, never the API key).
* :class:`ToolCallDeltas`: native tool calls assembled from streamed fragments.
* :func:`deep_merge`, :func:`merged_options`, :func:`data_url`: request-building helpers.
* :class:`PerRun`: one HTTP client (connection pool) per trio run, closed when the run ends.

Each helper but :class:`SSEPoster` is pure Python plus trio (for :func:`retrying`'s sleep), so
tests can drive it without a network.
"""

from __future__ import annotations

import email.utils
import functools
import json
import random
import re
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing
from typing import Any, Generic, TypeVar

import attrs
import httpx
import trio

from kt.errors import (
    ConfigValidationError,
    LLMAuthError,
    LLMBadRequestError,
    LLMConnectionError,
    LLMContextOverflowError,
    LLMError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
)
from kt.llm import LLMChunk, ToolCall

__all__ = [
    "LLMChunk",
    "SSEPoster",
    "TransportOptions",
    "pop_transport_options",
    "LLMServerError",
    "PerRun",
    "RetryPolicy",
    "SSEDecoder",
    "SSEEvent",
    "STRAY_JSON_EVENT",
    "ToolCallDeltas",
    "aiter_sse",
    "data_url",
    "deep_merge",
    "drain",
    "error_for_status",
    "error_from_payload",
    "is_context_overflow",
    "key_hint",
    "merged_options",
    "parse_arguments",
    "redact",
    "retry_after_seconds",
    "retrying",
    "summarise_error_body",
]


T = TypeVar("T")


# -- Server-sent events -------------------------------------------------------------------------


STRAY_JSON_EVENT = "kt-stray-json"
"""The event name :func:`aiter_sse` gives a JSON value found outside the SSE framing."""


class SSEEvent:
    r"""One server-sent event.

    Attributes:
        event: The ``event:`` field (``""`` when the server sent none, i.e. ``"message"``).
        data: The ``data:`` lines joined with ``\n``.
        id: The ``id:`` field, or ``""``.
    """

    __slots__ = ("data", "event", "id")

    def __init__(self, data: str, event: str = "", id: str = "") -> None:
        self.data = data
        self.event = event
        self.id = id

    def json(self) -> Any:
        """The data parsed as JSON."""
        return json.loads(self.data)

    def __repr__(self) -> str:
        return f"SSEEvent(event={self.event!r}, data={self.data[:60]!r})"


class SSEDecoder:
    r"""Turn byte chunks, cut anywhere, into :class:`SSEEvent` values (the WHATWG rules).

    Lines end with ``\n``, ``\r\n`` or ``\r``; a blank line dispatches the event; ``:``
    starts a comment (keep-alives); one space after the field's colon is dropped; an event with
    no ``data`` line is not dispatched. Call :meth:`feed` per chunk and :meth:`close` at the
    end of the stream (an event not closed by a blank line is dispatched then).

    Lines that are no SSE field at all are ignored, as the rules say, but kept (up to 64 KiB)
    in :attr:`stray`: a provider that fails mid-stream may write its error as plain JSON
    instead of an event (Gemini does), and that message is worth more than "connection cut".
    """

    __slots__ = ("_buffer", "_data", "_event", "_id", "_stray")

    _STRAY_LIMIT = 64 * 1024

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event = ""
        self._id = ""
        self._stray: list[bytes] = []

    @property
    def stray(self) -> str:
        """The non-SSE lines seen so far, joined with newlines (``""``: none)."""
        return b"\n".join(self._stray).decode("utf-8", "replace")

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add *chunk*; return the events it completed, in order."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):  # a CRLF may be split across chunks: wait for the LF
                self._buffer = buffer
                return []
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._buffer = buffer.split(b"\n")
        events = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(SSEEvent("\n".join(self._data), self._event, self._id))
                    self._data = []
                self._event = ""
                continue
            if line[:5] == b"data:":
                value = line[6:] if line[5:6] == b" " else line[5:]
                self._data.append(value.decode("utf-8", "replace"))
            else:
                self._field(line)
        return events

    def _field(self, line: bytes) -> None:
        if line[:1] == b":":
            return  # a comment
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            self._id = value.decode("utf-8", "replace")
        elif name == b"data":  # "data" with no colon: an empty data line
            self._data.append("")
        elif name != b"retry" and sum(map(len, self._stray)) < self._STRAY_LIMIT:
            self._stray.append(line)

    def close(self) -> list[SSEEvent]:
        """End of stream: dispatch what is left, if anything."""
        events = self.feed(b"\n\n") if self._buffer or self._data else []
        self._buffer = b""
        return events


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[SSEEvent]:
    """Yield the server-sent events in a stream of byte chunks (e.g. httpx ``aiter_bytes()``).

    Closing this generator closes *chunks* too (when it has ``aclose``), so a backend that
    closes its outermost generator on interrupt releases everything underneath at once.

    When the body held lines outside the SSE format that together form one JSON value (an
    error a provider wrote as plain JSON), that value comes last, as an event named
    :data:`STRAY_JSON_EVENT`; backends parse it like any other event and raise its error.

    Args:
        chunks: The response body, in chunks of any size.

    Yields:
        Each event as soon as its closing blank line arrived.
    """
    decoder = SSEDecoder()
    try:
        async for chunk in chunks:
            for event in decoder.feed(chunk):
                yield event
        for event in decoder.close():
            yield event
        stray = decoder.stray.strip()
        if stray:
            try:
                json.loads(stray)
            except ValueError:
                pass  # not a message we can read: the stream's own end check reports it
            else:
                yield SSEEvent(stray, STRAY_JSON_EVENT)
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


async def drain(events: AsyncIterator[Any], *, seconds: float = 1.0) -> None:
    """Read what is left of a stream whose answer is complete (after ``[DONE]``, say).

    An HTTP connection goes back to the client's pool for the next call only once its body
    has been read to the end; a stream closed early is closed for good, and the next call
    pays for a new connection. Providers end the body right after their last event, so this
    returns at once; a server that keeps the body open is given *seconds*, then left (the
    connection is then closed, which is harmless).
    """
    with trio.move_on_after(seconds):
        async for _ in events:
            pass


# -- Retries ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a backend retries a call that failed before it streamed anything.

    The wait before retry *n* (1-based) is ``min(max_delay, base_delay * 2 ** (n - 1))``,
    spread by ``± jitter`` (a fraction) so that many clients do not retry in step. When the
    provider said how long to wait (``Retry-After``), that wait is used instead; if it is
    longer than ``max_delay`` the error is raised at once rather than blocking the turn.

    Attributes:
        max_retries: Retries after the first attempt (0: never retry).
        base_delay: Seconds before the first retry.
        max_delay: Cap on any one wait, in seconds.
        jitter: Random spread of each wait, as a fraction (0.25: ±25 %).
    """

    max_retries: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    base_delay: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    jitter: float = attrs.field(
        default=0.25, validator=[attrs.validators.ge(0), attrs.validators.le(1)]
    )

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> RetryPolicy:
        """Build a policy from a ``retry_policy`` table (missing keys keep their defaults).

        Args:
            options: ``{"max_retries": 5, "base_delay": 0.5, ...}``, or ``None``.

        Raises:
            ConfigValidationError: an unknown key or a value out of range.
        """
        if not options:
            return cls()
        known = {f.name for f in attrs.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigValidationError(
                f"unknown retry_policy key(s) {unknown}; known: {sorted(known)}",
                path="controller.retry_policy",
            )
        try:
            return cls(**dict(options))
        except (TypeError, ValueError) as exc:
            raise ConfigValidationError(
                f"invalid retry_policy: {exc}", path="controller.retry_policy"
            ) from None

    def delay(
        self,
        attempt: int,
        retry_after: float | None = None,
        *,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before retry number *attempt*, or ``None`` for "do not retry".

        Args:
            attempt: 1 for the first retry, 2 for the second ...
            retry_after: What the provider asked for, when it said.
            rand: Source of randomness in ``[0, 1)`` (tests pass a constant).
        """
        if attempt > self.max_retries:
            return None
        if retry_after is not None:
            return None if retry_after > self.max_delay else max(0.0, retry_after)
        base = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return max(0.0, base * (1 + self.jitter * (2 * rand() - 1)))


async def retrying(
    attempt: Callable[[], AsyncIterator[LLMChunk]],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Any] | None = None,
) -> AsyncIterator[LLMChunk]:
    """Yield the chunks of ``attempt()``, calling it again after a transient failure.

    A failure is retried only when it is an :class:`~kt.errors.LLMError` whose ``retryable``
    is true (connection, timeout, rate limit, server error) **and** the failed attempt had not
    yielded any chunk yet. Once one chunk went out, the text may already be on the user's
    screen, and a second attempt would show it twice: the error is raised instead, and the
    turn fails.

    Cancellation: closing this generator (the kernel does on interrupt, timeout or cancel)
    closes the running attempt at once; a wait between attempts is a ``trio.sleep``, cancelled
    like any other.

    Args:
        attempt: Starts one attempt: returns a fresh async iterator of chunks (typically an
            async generator that opens the HTTP stream).
        policy: How many retries and how long to wait.
        sleep: The sleep function (default ``trio.sleep``).

    Yields:
        The chunks of the attempt that succeeded (or of the one that failed after
        streaming).

    Raises:
        LLMError: the last failure, when it is not retryable, came after the first chunk, or
            the retries ran out.
    """
    if sleep is None:
        sleep = trio.sleep
    retries = 0
    while True:
        stream = attempt()
        streamed = False
        try:
            async for chunk in stream:
                streamed = True
                yield chunk
            return
        except LLMError as exc:
            if streamed or not exc.retryable:
                raise
            retries += 1
            wait = policy.delay(retries, getattr(exc, "retry_after", None))
            if wait is None:
                raise
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        await sleep(wait)


# -- Errors -------------------------------------------------------------------------------------

# Patterns here are strings, compiled by ``re`` at their first use (and cached there), so
# importing a backend compiles none: most processes never see an error or a data URL.
_OVERFLOW_MARKERS = (
    r"context[ _-]?length|context[ _-]?window|maximum context|too many tokens|too long|"
    r"prompt is too long|exceeds the (?:maximum|max)|maximum number of tokens|"
    r"token limit|input token count|request too large|reduce the length"
)
_MAX_MESSAGE = 300


def is_context_overflow(text: str) -> bool:
    """Whether a provider's error text says the request does not fit the context window."""
    return bool(re.search(_OVERFLOW_MARKERS, text, re.IGNORECASE))


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each (non-trivial) secret in *text* with ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, "***")
    return text


def summarise_error_body(
    body: bytes | str | Mapping[str, Any] | list[Any] | None,
    *,
    secrets: Iterable[str | None] = (),
) -> tuple[str, str]:
    """The provider's error type and message from an error body, short and key-free.

    Understands the shapes of OpenAI-compatible servers (``{"error": {"type", "code",
    "message"}}``), Anthropic (``{"type": "error", "error": {"type", "message"}}``) and
    Google (``{"error": {"status", "message"}}``, possibly inside a list); anything else is
    summarised as its first line of text. Whitespace is collapsed, the message is cut at 300
    characters, and every secret is replaced with ``***``.

    Args:
        body: The raw body, or an already parsed JSON value.
        secrets: Strings that must never appear in the result (the API key).

    Returns:
        ``(error_type, message)``; ``error_type`` is ``""`` when the body named none.
    """
    payload: Any = body
    if isinstance(body, bytes | str):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            payload = json.loads(text)
        except ValueError:
            payload = text
    if isinstance(payload, list) and payload:
        payload = payload[0]
    kind, message = "", ""
    if isinstance(payload, Mapping):
        error = payload.get("error", payload)
        if isinstance(error, Mapping):
            kind = str(error.get("type") or error.get("status") or error.get("code") or "")
            code = error.get("code")
            if kind and isinstance(code, str) and code != kind:
                kind = f"{kind}/{code}"
            message = str(error.get("message") or error.get("detail") or "")
        elif isinstance(error, str):
            message = error
        if not message:
            message = json.dumps(payload)[:_MAX_MESSAGE]
    elif isinstance(payload, str):
        message = re.sub(r"<[^>]+>", " ", payload)  # an HTML error page from a proxy
    message = redact(" ".join(message.split()), secrets)
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return redact(kind, secrets), message


def retry_after_seconds(
    headers: Mapping[str, str] | None, payload: Any = None, *, now: float | None = None
) -> float | None:
    """How long the provider asked us to wait, in seconds, or ``None`` when it did not say.

    Reads ``retry-after-ms``, then ``Retry-After`` (seconds or an HTTP date), then a Google
    ``RetryInfo`` detail (``"retryDelay": "30s"``) in the error body.

    Args:
        headers: Response headers (looked up lower-case; httpx headers are case-insensitive).
        payload: The parsed error body, if any.
        now: The current time for HTTP dates (default ``time.time()``).
    """
    headers = headers or {}
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                when = email.utils.mktime_tz(parsed)
                return max(0.0, when - (time.time() if now is None else now))
    if isinstance(payload, list) and payload:
        payload = payload[0]
    error = payload.get("error") if isinstance(payload, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    for detail in details if isinstance(details, list) else ():
        delay = detail.get("retryDelay") if isinstance(detail, Mapping) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return max(0.0, float(delay[:-1]))
            except ValueError:
                pass
    return None


def key_hint(
    provider: str,
    key_env: str | None,
    *,
    profile: Any = None,
    default_base_url: str | None = None,
) -> str:
    """How to fix a refused key, naming the key this model's endpoint really used.

    A custom endpoint (``kt config llm add lab ...``: its profile is named ``lab`` or
    ``lab/MODEL`` and reaches another URL than the provider's) keeps its key under its own
    name and variable, so its hint names ``kt config key set lab`` and its ``api_key_env``,
    not the provider's. A creature's own ``api_key_env`` is named the same way.

    Args:
        provider: The provider whose wire format the backend speaks (``openai``).
        key_env: The provider's variable (``OPENAI_API_KEY``), or ``None``.
        profile: The :class:`kt.LLMProfile` the backend was built from, if any.
        default_base_url: The provider's own endpoint.

    Returns:
        The hint for :func:`error_for_status` (``key_hint``).
    """
    name = str(getattr(profile, "name", "") or "")
    head = name.split("/", 1)[0].split("@", 1)[0].split(":", 1)[0]
    base_url = (getattr(profile, "base_url", None) or "").rstrip("/")
    custom = bool(
        head and head != provider and base_url and base_url != (default_base_url or "").rstrip("/")
    )
    env = getattr(profile, "api_key_env", None) or key_env
    or_env = f" or set {env}" if env else ""
    if custom:
        return (
            f"the key of endpoint '{head}' ({base_url}) was refused: run "
            f"`kt config key set {head}`{or_env} with a valid key"
        )
    return f"run `kt login {provider}`{or_env} with a valid key"


def error_for_status(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
    *,
    provider: str,
    secrets: Iterable[str | None] = (),
    key_hint: str = "",
) -> LLMError:
    """The typed error for an HTTP error response.

    ===============================  ===========================================  =========
    status                           error                                        retried
    ===============================  ===========================================  =========
    413, or overflow wording         :class:`~kt.errors.LLMContextOverflowError`  no
    401, 403                         :class:`~kt.errors.LLMAuthError`             no
    429                              :class:`~kt.errors.LLMRateLimitError`        yes [1]_
    408                              :class:`~kt.errors.LLMTimeoutError`          yes
    409, 5xx, 529                    :class:`LLMServerError`                      yes
    other 4xx                        :class:`~kt.errors.LLMBadRequestError`       no
    ===============================  ===========================================  =========

    .. [1] except OpenAI's ``insufficient_quota``: no retry brings money back.

    The message reads ``PROVIDER: HTTP STATUS TYPE: MESSAGE`` and then says what to do; the
    body is summarised (:func:`summarise_error_body`), never included raw.

    Args:
        status: The HTTP status code (400 or more).
        body: The response body (read in full; error bodies are small).
        headers: The response headers, for ``Retry-After``.
        provider: The provider's name, for the message (``openai``).
        secrets: Strings to keep out of the message (the API key).
        key_hint: How to fix a bad key, e.g. "run `kt login openai` or set OPENAI_API_KEY".
    """
    kind, message = summarise_error_body(body, secrets=secrets)
    payload: Any = None
    if body:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
    summary = f"{provider}: HTTP {status}{f' {kind}' if kind else ''}: {message or 'no details'}"
    return _typed(status, kind, message, summary, headers, payload, key_hint)


def error_from_payload(
    payload: Any,
    *,
    provider: str,
    secrets: Iterable[str | None] = (),
    key_hint: str = "",
) -> LLMError:
    """The typed error for an error object a provider sent inside a stream (no HTTP status).

    Args:
        payload: The parsed error event (``{"error": {...}}`` or ``{"type": "error", ...}``).
        provider: The provider's name, for the message.
        secrets: Strings to keep out of the message.
        key_hint: How to fix a bad key.
    """
    kind, message = summarise_error_body(payload, secrets=secrets)
    status = 0
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if isinstance(error, Mapping) and isinstance(error.get("code"), int):
        status = error["code"]
    lowered = kind.lower()
    if not status and is_context_overflow(f"{kind} {message}"):
        status = 400  # e.g. a Responses `error` event with code context_length_exceeded
    if not status:
        if "overloaded" in lowered or "server" in lowered or "api_error" == lowered:
            status = 529
        elif "rate" in lowered or "exhausted" in lowered:
            status = 429
        elif "auth" in lowered or "permission" in lowered:
            status = 401
        elif "invalid" in lowered or "request" in lowered:
            status = 400
    summary = f"{provider}: stream error{f' {kind}' if kind else ''}: {message or 'no details'}"
    if not status:
        return LLMServerError(summary)
    return _typed(status, kind, message, summary, None, payload, key_hint)


def _typed(
    status: int,
    kind: str,
    message: str,
    summary: str,
    headers: Mapping[str, str] | None,
    payload: Any,
    key_hint: str,
) -> LLMError:
    text = f"{kind} {message}"
    if status == 413 or (400 <= status < 500 and status != 429 and is_context_overflow(text)):
        return LLMContextOverflowError(
            f"{summary}. The conversation does not fit the model's context window: compact "
            "it, start a new session, or choose a model with a larger window"
        )
    invalid_key = "api key" in text.lower() and ("invalid" in text.lower() or "not valid" in text)
    if status in (401, 403) or (status == 400 and invalid_key):
        fix = key_hint or "check the API key and that it may use this model"
        return LLMAuthError(f"{summary}. {fix[0].upper()}{fix[1:]}")
    if status == 429:
        wait = retry_after_seconds(headers, payload)
        error = LLMRateLimitError(
            f"{summary}. Wait{f' {wait:g}s' if wait is not None else ''} and try again, or "
            "lower the request rate",
            retry_after=wait,
        )
        if "insufficient_quota" in kind:
            error.retryable = False
        return error
    if status == 408:
        return LLMTimeoutError(
            f"{summary}. The provider timed out; try again",
            retry_after=retry_after_seconds(headers, payload),
        )
    if status == 409 or status >= 500:
        return LLMServerError(
            f"{summary}. The provider failed; try again later",
            retry_after=retry_after_seconds(headers, payload),
        )
    return LLMBadRequestError(f"{summary}. The provider rejected the request")


# -- Tool calls ---------------------------------------------------------------------------------


def parse_arguments(text: str) -> Mapping[str, Any] | str:
    """Parse a tool call's streamed argument text.

    Returns:
        The JSON object; ``{}`` for empty text; the raw text when it is not a JSON object (the
        kernel then answers the model with an "invalid JSON" error instead of calling the tool).
    """
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


class ToolCallDeltas:
    """Native tool calls assembled from streamed fragments, keyed by the provider's index.

    Providers stream a call as a start (id and name) followed by argument fragments, and may
    interleave several calls. :meth:`add` takes any fragment; :meth:`finish` (one call) or
    :meth:`finish_all` (every open call, in index order) returns complete
    :class:`kt.ToolCall` values.
    """

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[Any, list[Any]] = {}  # index -> [id, name, [fragments]]

    def __bool__(self) -> bool:
        return bool(self._calls)

    def __contains__(self, index: Any) -> bool:
        return index in self._calls

    def add(self, index: Any, *, id: str = "", name: str = "", arguments: str = "") -> None:
        """Record a fragment of call *index*: its id, its name, or more argument text."""
        call = self._calls.get(index)
        if call is None:
            call = self._calls[index] = ["", "", []]
        if id:
            call[0] = id
        if name and not call[1]:  # some servers repeat the name in every fragment
            call[1] = name
        if arguments:
            call[2].append(arguments)

    def finish(self, index: Any) -> ToolCall | None:
        """Complete call *index* and forget it (``None`` when there is no such call)."""
        call = self._calls.pop(index, None)
        if call is None:
            return None
        return ToolCall(call[1], parse_arguments("".join(call[2])), call[0])

    def finish_if_complete(self, index: Any) -> ToolCall | None:
        """Complete call *index* only if its arguments already form a JSON object.

        Lets a backend start a tool before the stream ends: when the provider moves on to the
        next call, the previous one is done if its arguments parse (a JSON object cannot
        grow and stay valid). ``None``: not complete yet (or no such call); it stays open.
        """
        call = self._calls.get(index)
        if call is None or not call[2]:
            return None
        text = "".join(call[2])
        if not text.rstrip().endswith("}"):
            return None
        arguments = parse_arguments(text)
        if isinstance(arguments, str):
            return None
        del self._calls[index]
        return ToolCall(call[1], arguments, call[0])

    def finish_all(self) -> list[ToolCall]:
        """Complete every open call, in index order."""
        order = sorted(self._calls, key=lambda k: (str(type(k)), k))
        return [call for call in (self.finish(i) for i in order) if call is not None]


# -- Requests -----------------------------------------------------------------------------------


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: *base* with *extra* merged in; nested tables merge, other values replace."""
    merged = dict(base)
    for key, value in extra.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = value
    return merged


def merged_options(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Generation options from several layers, later ones winning; ``extra_body`` deep-merges.

    A backend typically merges its profile's options (preset, variation) under the request's
    options (the creature config): ``merged_options(profile.options, request.options)``.
    ``None`` values are skipped, so a layer cannot unset an earlier value by accident.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if value is None:
                continue
            if key == "extra_body" and isinstance(value, Mapping):
                merged[key] = deep_merge(merged.get(key) or {}, value)
            else:
                merged[key] = value
    return merged


_DATA_URL = r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^,;]*)*),(?P<data>.*)$"


def data_url(url: str) -> tuple[str, str] | None:
    """Split a base64 ``data:`` URL into ``(media_type, base64_data)``; ``None`` for others."""
    match = re.match(_DATA_URL, url, re.S)  # compiled at first use (see _OVERFLOW_MARKERS)
    if match is None or ";base64" not in match["params"]:
        return None
    return match["mime"] or "application/octet-stream", match["data"]


# -- Clients ------------------------------------------------------------------------------------


class PerRun(Generic[T]):
    """One resource per trio run, such as an HTTP client and its pool of open connections.

    A backend object outlives any one ``trio.run`` (``kt doctor`` builds models in one run and
    a test may use them in another), but a connection opened in one run cannot be used in
    the next. :meth:`get` makes the resource on first use in each run and hands the same one
    to every call in that run, so connections are reused across model calls; when the run
    ends, a trio system task closes it (shielded, for at most 2 seconds).

    Args:
        make: Builds the resource (called inside the run).
        aclose: Closes it (``lambda client: client.aclose()``).
    """

    def __init__(self, make: Callable[[], T], aclose: Callable[[T], Any]) -> None:
        self._make = make
        self._aclose = aclose
        self._by_run: dict[object, T] = {}

    def get(self) -> T:
        """The resource of the current trio run (made now when this run has none yet)."""
        token = trio.lowlevel.current_trio_token()
        resource = self._by_run.get(token)
        if resource is None:
            resource = self._by_run[token] = self._make()
            trio.lowlevel.spawn_system_task(self._close_at_end, token, resource)
        return resource

    async def _close_at_end(self, token: object, resource: T) -> None:

        try:
            await trio.sleep_forever()
        finally:
            self._by_run.pop(token, None)
            with trio.move_on_after(2, shield=True):
                try:
                    await self._aclose(resource)
                except Exception:  # closing is best effort: the run is over
                    pass


# -- POSTing and reading a stream (the backend passes its HTTP library in) ----------------


@attrs.frozen
class TransportOptions:
    """The profile options every HTTP backend takes, taken out of its generation options.

    Attributes:
        retry_policy: From ``retry_policy`` (see :class:`RetryPolicy`).
        timeout: ``timeout``: seconds per read (``None``: no limit).
        connect_timeout: ``connect_timeout``: seconds to connect.
        headers: ``headers``: extra HTTP headers.
    """

    retry_policy: RetryPolicy
    timeout: float | None
    connect_timeout: float | None
    headers: dict[str, str]


def pop_transport_options(
    options: dict[str, Any], *, timeout: float | None, connect_timeout: float | None
) -> TransportOptions:
    """Remove ``retry_policy``, ``timeout``, ``connect_timeout`` and ``headers`` from *options*.

    What stays in *options* is sent to the model as generation options.

    Args:
        options: The profile's options (changed in place).
        timeout: The backend's default read timeout.
        connect_timeout: The backend's default connect timeout.

    Returns:
        The transport settings.
    """
    return TransportOptions(
        retry_policy=RetryPolicy.from_options(options.pop("retry_policy", None)),
        timeout=options.pop("timeout", timeout),
        connect_timeout=options.pop("connect_timeout", connect_timeout),
        headers=dict(options.pop("headers", None) or {}),
    )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's one TLS context: loading the CA bundle costs tens of milliseconds."""
    return httpx.create_ssl_context()


@functools.cache
def prepare_transport() -> None:
    """Load what the first client needs, once per process.

    That is httpcore (httpx imports it only when a client is made) and the TLS context. A
    backend does it when it is built, so that the creature's first model call does not pay
    tens of milliseconds of set-up.
    """
    import httpcore  # noqa: F401

    tls_context()


# Every backend object shares the clients of its trio run: one per timeout setting (and test
# transport), so creatures on one provider share one connection pool and the TLS context.
_CLIENTS: PerRun[dict[tuple[Any, ...], Any]] = PerRun(
    dict, lambda clients: _close_all(list(clients.values()))
)


async def _close_all(clients: list[Any]) -> None:
    for client in clients:
        await client.aclose()


def shared_client(timeout: Any, transport: Any = None) -> Any:
    """The httpx client of the current trio run for *timeout* (and *transport*, in tests).

    Request headers (the API key) are sent per request, so one client serves every creature
    and provider in the run; it is closed when the run ends.
    """
    clients = _CLIENTS.get()
    limits = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    key = (limits, id(transport) if transport is not None else None)
    client = clients.get(key)
    if client is None:
        client = clients[key] = httpx.AsyncClient(
            timeout=timeout, transport=transport, verify=tls_context()
        )
    return client


class SSEPoster:
    """POSTs JSON to one endpoint family and yields the server-sent events of the answer.

    Uses the shared client of the current trio run (:func:`shared_client`): connections and
    the TLS context are reused across calls and across creatures. Making a poster prepares
    the transport (:func:`prepare_transport`), so the first call starts at once.

    Args:
        provider: The provider's name, for error messages.
        headers: Headers sent with every request (authentication included).
        timeout: Seconds to wait for any one read (the first byte, or the next chunk of a
            stream that stalled); ``None``: no limit.
        connect_timeout: Seconds to wait for the connection.
        secrets: Strings that must never appear in an error message (the API key).
        key_hint: How to fix an authentication error, for its message.
        transport: An httpx transport to use instead of the network (tests).
    """

    def __init__(
        self,
        *,
        provider: str,
        headers: Mapping[str, str],
        timeout: float | None,
        connect_timeout: float | None,
        secrets: tuple[str, ...] = (),
        key_hint: str = "",
        transport: Any = None,
    ) -> None:
        self.provider = provider
        self._headers = {"content-type": "application/json", **headers}
        self._secrets = secrets
        self._key_hint = key_hint
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._transport = transport
        prepare_transport()

    def __repr__(self) -> str:
        return f"SSEPoster(provider={self.provider!r})"  # never the headers: they hold the key

    async def events(
        self,
        url: str,
        body: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> AsyncIterator[SSEEvent]:
        """POST *body* to *url* and yield the events of the streamed answer.

        Closing the generator closes the response and its connection at once (the kernel
        does so on interrupt, timeout and cancel).

        Args:
            url: The endpoint.
            body: The JSON body.
            headers: Headers for this call only (a token that is refreshed between calls).
            secrets: More strings to keep out of error messages (that token).

        Raises:
            LLMError: a typed error for an HTTP error status (the body is summarised) or a
                transport failure (connection, timeout, a stream cut off).
        """
        client = shared_client(self._timeout, self._transport)
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        sent = {**self._headers, **headers} if headers else self._headers
        hidden = (*self._secrets, *secrets)
        try:
            async with client.stream("POST", url, content=content, headers=sent) as reply:
                if reply.status_code >= 400:
                    raw = await reply.aread()
                    raise error_for_status(
                        reply.status_code,
                        raw,
                        reply.headers,
                        provider=self.provider,
                        secrets=hidden,
                        key_hint=self._key_hint,
                    )
                async with aclosing(aiter_sse(reply.aiter_bytes())) as events:
                    async for event in events:
                        yield event
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(
                f"{self.provider}: no answer within the timeout ({type(exc).__name__} at "
                f"{_url_without_query(url)}); the server may be overloaded, or raise the profile's "
                "`timeout` option"
            ) from None
        except httpx.ConnectError as exc:
            raise LLMConnectionError(
                f"{self.provider}: cannot connect to {_url_without_query(url)} "
                f"({redact(str(exc), hidden) or type(exc).__name__}); check the "
                "base URL and that the server is running"
            ) from None
        except httpx.HTTPError as exc:  # read errors, a connection cut mid-stream
            raise LLMConnectionError(
                f"{self.provider}: the connection to {_url_without_query(url)} failed "
                f"({type(exc).__name__}: {redact(str(exc), hidden)})"
            ) from None


def _url_without_query(url: str) -> str:
    return url.split("?", 1)[0]  # query strings may carry a key (Gemini's ?key=)
