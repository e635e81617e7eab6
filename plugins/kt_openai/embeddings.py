"""Embeddings from an OpenAI-compatible endpoint (``POST {base_url}/embeddings``) for memory search.

OpenAI serves them, and so do most servers that speak its API (vLLM, llama.cpp, Ollama, LM
Studio, LiteLLM ...). The ``kt_sessions`` plugin asks for them by provider name through its
``kt_embedding_providers`` hook; this module registers ``openai`` (and ``api``, the reference
framework's name for it, through the alias in ``kt_sessions.memory``). In a creature::

    [memory.embedding]
    provider = "openai"
    model = "text-embedding-3-small"         # the default
    base_url = "http://127.0.0.1:8000/v1"    # default https://api.openai.com/v1
    dimensions = 512                         # optional: sent, for models that shorten vectors
    api_key_env = "VLLM_API_KEY"             # optional: where the key is

The key. For OpenAI's own endpoint: the key ``kt login openai`` stored (``~/.kt/keys.toml``),
else ``$OPENAI_API_KEY`` (or the variable ``api_key_env`` names); without one the embedder
refuses to build, saying how to set it. For another ``base_url`` only the variable named by
``api_key_env`` is sent, so an OpenAI key never reaches a server it was not meant for. A key
written into the config (``api_key``) is refused: configs are recorded in session files.

The request is what the official SDK sends: ``model``, ``input`` (a list of strings),
``dimensions`` when asked for, and ``encoding_format = "base64"`` (float32 little-endian; a
quarter of the bytes of a JSON float list). Answers in either encoding are read; set
``encoding_format = "float"`` for a server that rejects base64. Texts go in batches of 64
(``batch_size``), each retried on transient failures (``retry_policy``). Vectors are
L2-normalised, since memory search ranks by dot product.
"""

from __future__ import annotations

import array
import base64
import json
import math
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from kt.errors import LLMConnectionError, LLMNotConfiguredError, LLMResponseError, LLMTimeoutError

__all__ = ["DEFAULT_MODEL", "OPENAI_BASE_URL", "OpenAIEmbedder", "register_providers"]

DEFAULT_MODEL = "text-embedding-3-small"
OPENAI_BASE_URL = "https://api.openai.com/v1"
KEY_ENV = "OPENAI_API_KEY"
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
"""Native sizes of OpenAI's models; any other model's size is learned from its first answer."""
DEFAULT_BATCH = 64
DEFAULT_TIMEOUT = 60.0
DEFAULT_CONNECT_TIMEOUT = 10.0


class OpenAIEmbedder:
    """The ``openai`` embedding provider: one endpoint, one model.

    Args:
        model: The model id (default ``text-embedding-3-small``).
        dimensions: The vector size to ask for (sent as ``dimensions``); ``None``: the
            model's own.
        options: The rest of ``memory.embedding``: ``base_url``, ``api_key_env``,
            ``encoding_format`` (``base64`` or ``float``), ``batch_size``, and the transport
            options of the model backends (``timeout``, ``connect_timeout``, ``retry_policy``,
            ``headers``).
        env: The environment (default ``os.environ``).
        transport: An httpx transport to use instead of the network (tests).

    Raises:
        LLMNotConfiguredError: an unknown or malformed option, a key in the config, or no
            key for OpenAI's own endpoint.
    """

    provider = "openai"

    def __init__(
        self,
        model: str | None = None,
        dimensions: int | None = None,
        *,
        options: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        transport: Any = None,
    ) -> None:
        import httpx

        from kt_llm.http import pop_transport_options

        options = dict(options or {})
        env = os.environ if env is None else env
        if "api_key" in options:
            raise LLMNotConfiguredError(
                "memory.embedding.api_key: a key does not belong in a config (configs are "
                "recorded in session files); run `kt login openai`, or set an environment "
                "variable and name it in memory.embedding.api_key_env"
            )
        self.model = model or DEFAULT_MODEL
        self.base_url = str(options.pop("base_url", None) or OPENAI_BASE_URL).rstrip("/")
        key_env = options.pop("api_key_env", None)
        self.encoding_format = options.pop("encoding_format", "base64")
        self.batch_size = options.pop("batch_size", DEFAULT_BATCH)
        if self.encoding_format not in ("base64", "float"):
            raise LLMNotConfiguredError(
                f"memory.embedding.encoding_format is {self.encoding_format!r}; use "
                '"base64" (the default) or "float"'
            )
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= 2048:
            raise LLMNotConfiguredError(
                f"memory.embedding.batch_size is {self.batch_size!r}; use 1 to 2048"
            )
        transport_options = pop_transport_options(
            options, timeout=DEFAULT_TIMEOUT, connect_timeout=DEFAULT_CONNECT_TIMEOUT
        )
        if options:
            raise LLMNotConfiguredError(
                f"unknown memory.embedding key(s) for the openai provider: "
                f"{', '.join(sorted(options))}; known: base_url, api_key_env, dimensions, "
                "encoding_format, batch_size, timeout, connect_timeout, retry_policy, headers"
            )
        self._asked_dimensions = dimensions
        self.dimensions: int | None = dimensions or KNOWN_DIMENSIONS.get(self.model)
        key = self._find_key(key_env, env)
        self._secrets = (key,) if key else ()
        self._headers = {"content-type": "application/json", **transport_options.headers}
        if key:
            self._headers["authorization"] = f"Bearer {key}"
        self._retry_policy = transport_options.retry_policy
        self._timeout = httpx.Timeout(
            transport_options.timeout, connect=transport_options.connect_timeout
        )
        self._transport = transport
        self.config: dict[str, Any] = {"provider": self.provider, "model": self.model}
        if self.base_url != OPENAI_BASE_URL:
            self.config["base_url"] = self.base_url
        if key_env:
            self.config["api_key_env"] = key_env
        if dimensions:
            self.config["dimensions"] = dimensions
        if self.encoding_format != "base64":
            self.config["encoding_format"] = self.encoding_format

    def _find_key(self, key_env: str | None, env: Mapping[str, str]) -> str | None:
        if self.base_url != OPENAI_BASE_URL:
            return env.get(key_env) if key_env else None
        from kt_llm.keys import KeyStore

        key, _ = KeyStore(env).lookup("openai", key_env or KEY_ENV)
        if not key:
            raise LLMNotConfiguredError(
                'no API key for OpenAI embeddings (memory.embedding.provider = "openai"): run '
                f"`kt login openai` or set {key_env or KEY_ENV}; or set memory.embedding.base_url "
                "to another OpenAI-compatible server"
            )
        return key

    def __repr__(self) -> str:  # never the headers: they hold the key
        return f"OpenAIEmbedder(model={self.model!r}, base_url={self.base_url!r})"

    async def aembed(self, texts: Sequence[str]) -> list[Sequence[float]]:
        """One normalised vector per text, in order, in requests of ``batch_size`` texts.

        Cancellation closes the request in flight; nothing is kept of a cancelled call.

        Raises:
            LLMError: a typed failure (key refused, rate limit, server error after the
                retries, no connection, an answer that does not fit the request).
        """
        from kt_llm.http import retrying

        vectors: list[Sequence[float]] = []
        for start in range(0, len(texts), self.batch_size):
            body = self.request_body(texts[start : start + self.batch_size])
            async for answer in retrying(lambda body=body: self._attempt(body), self._retry_policy):
                vectors.extend(answer)
        return vectors

    def embed(self, texts: Sequence[str]) -> list[Sequence[float]]:
        """:meth:`aembed` for synchronous callers (``kt embedding``), in a trio run of its own.

        Raises:
            RuntimeError: called from trio code, which must await :meth:`aembed`.
        """
        import trio

        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            return trio.run(self.aembed, texts)
        raise RuntimeError(
            "OpenAIEmbedder.embed blocks; in trio code await aembed (MemoryIndex.aindex does)"
        )

    def request_body(self, texts: Sequence[str]) -> dict[str, Any]:
        """The JSON body for *texts* (an empty text becomes one space: the API refuses "")."""
        body: dict[str, Any] = {"model": self.model, "input": [text or " " for text in texts]}
        if self._asked_dimensions:
            body["dimensions"] = self._asked_dimensions
        body["encoding_format"] = self.encoding_format
        return body

    async def _attempt(self, body: dict[str, Any]) -> AsyncIterator[list[list[float]]]:
        """One POST, as the one-item stream :func:`kt_llm.http.retrying` retries."""
        yield self._vectors(await self._post(body), len(body["input"]))

    async def _post(self, body: dict[str, Any]) -> Any:
        import httpx

        from kt_llm.http import error_for_status, redact, shared_client

        url = f"{self.base_url}/embeddings"
        client = shared_client(self._timeout, self._transport)
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            reply = await client.post(url, content=content, headers=self._headers)
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(
                f"openai embeddings: no answer from {url} within the timeout "
                f"({type(exc).__name__}); raise memory.embedding.timeout, or try again"
            ) from None
        except httpx.HTTPError as exc:
            raise LLMConnectionError(
                f"openai embeddings: cannot reach {url} ({type(exc).__name__}: "
                f"{redact(str(exc), self._secrets)}); check memory.embedding.base_url and that "
                "the server is running"
            ) from None
        if reply.status_code >= 400:
            raise error_for_status(
                reply.status_code,
                reply.content,
                reply.headers,
                provider="openai embeddings",
                secrets=self._secrets,
                key_hint="run `kt login openai`, or set the variable memory.embedding.api_key_env "
                "names, with a valid key",
            )
        try:
            return reply.json()
        except ValueError:
            raise LLMResponseError(
                f"openai embeddings: {url} answered with something other than JSON"
            ) from None

    def _vectors(self, payload: Any, count: int) -> list[list[float]]:
        data = payload.get("data") if isinstance(payload, Mapping) else None
        if not isinstance(data, list) or len(data) != count:
            raise LLMResponseError(
                f"openai embeddings: asked for {count} vectors, got "
                f"{len(data) if isinstance(data, list) else 'none'}; is {self.base_url} an "
                "OpenAI-compatible embeddings endpoint?"
            )
        ordered = sorted(data, key=lambda item: item.get("index", 0))
        vectors = [_normalised(_decoded(item.get("embedding"))) for item in ordered]
        sizes = {len(vector) for vector in vectors}
        expected = self.dimensions
        if len(sizes) != 1 or 0 in sizes or (expected is not None and sizes != {expected}):
            raise LLMResponseError(
                f"openai embeddings: {self.model} answered vectors of {sorted(sizes)} "
                f"dimensions, expected {expected or 'one size'}; check memory.embedding.dimensions"
            )
        if expected is None:
            self.dimensions = sizes.pop()
        return vectors


def _decoded(embedding: Any) -> list[float]:
    """A vector from its JSON form: a list of numbers, or base64 of float32 little-endian."""
    if isinstance(embedding, str):
        values = array.array("f")
        try:
            values.frombytes(base64.b64decode(embedding, validate=True))
        except ValueError:
            raise LLMResponseError("openai embeddings: an embedding is not valid base64") from None
        if sys.byteorder == "big":
            values.byteswap()
        return values.tolist()
    if isinstance(embedding, list) and all(isinstance(v, int | float) for v in embedding):
        return [float(v) for v in embedding]
    raise LLMResponseError("openai embeddings: an answer item has no embedding")


def _normalised(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector


def _build(
    model: str | None, dimensions: int | None, options: Mapping[str, Any] | None = None
) -> OpenAIEmbedder:
    return OpenAIEmbedder(model, dimensions, options=options)


def register_providers(register: Callable[..., None]) -> None:
    """Register the ``openai`` embedding provider (the ``kt_embedding_providers`` hook)."""
    register(
        "openai",
        _build,
        "semantic: an OpenAI-compatible /embeddings endpoint (base_url, model; key from "
        "`kt login openai` or api_key_env)",
    )
