"""The HTTP side of the backend: one httpx client per trio run, POST a JSON body, read SSE.

httpx runs on trio through anyio. Every transport failure is turned into a typed
:class:`kt.errors.LLMError` here, so the wire-format code above only sees events and typed errors.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

import httpx

from kt.errors import LLMConnectionError, LLMTimeoutError
from kt.llmkit import PerRun, SSEEvent, aiter_sse, error_for_status, redact


class SSEPoster:
    """POSTs JSON to one endpoint family and yields the server-sent events of the answer.

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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self._headers = {"content-type": "application/json", **headers}
        self._secrets = secrets
        self._key_hint = key_hint
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._clients: PerRun[httpx.AsyncClient] = PerRun(
            lambda: httpx.AsyncClient(timeout=self._timeout, transport=transport),
            lambda client: client.aclose(),
        )

    def __repr__(self) -> str:
        return f"SSEPoster(provider={self.provider!r})"  # never the headers: they hold the key

    async def events(self, url: str, body: Mapping[str, Any]) -> AsyncIterator[SSEEvent]:
        """POST *body* to *url* and yield the events of the streamed answer.

        Closing the generator closes the response and its connection at once (the kernel
        does so on interrupt, timeout and cancel).

        Raises:
            LLMError: a typed error for an HTTP error status (the body is summarised) or a
                transport failure (connection, timeout, a stream cut off).
        """
        client = self._clients.get()
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            async with client.stream("POST", url, content=content, headers=self._headers) as reply:
                if reply.status_code >= 400:
                    raw = await reply.aread()
                    raise error_for_status(
                        reply.status_code,
                        raw,
                        reply.headers,
                        provider=self.provider,
                        secrets=self._secrets,
                        key_hint=self._key_hint,
                    )
                async with aclosing(aiter_sse(reply.aiter_bytes())) as events:
                    async for event in events:
                        yield event
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(
                f"{self.provider}: no answer within the timeout ({type(exc).__name__} at "
                f"{_where(url)}); the server may be overloaded, or raise the profile's "
                "`timeout` option"
            ) from None
        except httpx.ConnectError as exc:
            raise LLMConnectionError(
                f"{self.provider}: cannot connect to {_where(url)} "
                f"({redact(str(exc), self._secrets) or type(exc).__name__}); check the "
                "base URL and that the server is running"
            ) from None
        except httpx.HTTPError as exc:  # read errors, a connection cut mid-stream
            raise LLMConnectionError(
                f"{self.provider}: the connection to {_where(url)} failed "
                f"({type(exc).__name__}: {redact(str(exc), self._secrets)})"
            ) from None


def _where(url: str) -> str:
    return url.split("?", 1)[0]  # query strings may carry a key (Gemini's ?key=)
