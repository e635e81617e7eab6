"""``GeminiChat``: a :class:`kt.LLM` for the Gemini API (``streamGenerateContent``).

One object per profile, no per-call state: each :meth:`GeminiChat.stream` call is one request
and one stream.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from kt import LLMProfile, LLMRequest
from kt.errors import LLMNotConfiguredError
from kt_gemini import contents as _contents
from kt_llm.http import LLMChunk, SSEPoster, merged_options, pop_transport_options, retrying
from kt_llm.models import PROFILE_OPTIONS, DescribedModel, describe

__all__ = ["DEFAULT_BASE_URL", "KEY_ENVS", "GeminiChat"]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
KEY_ENVS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
DEFAULT_TIMEOUT = 120.0
DEFAULT_CONNECT_TIMEOUT = 10.0


class GeminiChat(DescribedModel):
    """Streams ``POST {base_url}/models/{model}:streamGenerateContent?alt=sse``.

    Args:
        model: The model id (``gemini-2.5-flash`` ...).
        base_url: The API root up to the version; ``None``: Google's ``v1beta``.
        api_key: The key, sent as ``x-goog-api-key`` (never in the URL).
        options: Generation options (see :func:`kt_gemini.contents.request_body`), merged
            under each request's own, and backend options: ``timeout`` (seconds per read,
            default 120), ``connect_timeout`` (10), ``retry_policy``, ``headers``.
    """

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        options = dict(options or {})
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        transport = pop_transport_options(
            options, timeout=DEFAULT_TIMEOUT, connect_timeout=DEFAULT_CONNECT_TIMEOUT
        )
        self.retry_policy = transport.retry_policy
        for name in PROFILE_OPTIONS:  # model facts for the catalog, not for the wire
            options.pop(name, None)
        headers = transport.headers
        if api_key:
            headers["x-goog-api-key"] = api_key
        self.options = options
        self._secrets = (api_key,) if api_key else ()
        self._poster = SSEPoster(
            provider="gemini",
            headers=headers,
            timeout=transport.timeout,
            connect_timeout=transport.connect_timeout,
            secrets=self._secrets,
            key_hint=f"run `kt login gemini` or set {KEY_ENVS[0]} with a valid key",
        )

    @classmethod
    def from_profile(cls, profile: LLMProfile, env: Mapping[str, str] | None = None) -> GeminiChat:
        """Build the backend for a profile (the ``kt_llm_backends`` factory).

        The key: ``profile.api_key``, else ``profile.api_key_env``, else ``GEMINI_API_KEY``
        or ``GOOGLE_API_KEY``.

        Raises:
            LLMNotConfiguredError: no model is named, or Google's endpoint is used without a
                key.
        """
        env = os.environ if env is None else env
        if not profile.model:
            raise LLMNotConfiguredError(
                "no model named for provider 'gemini'; select one with --llm gemini/MODEL or "
                '`model = "..."` in the creature\'s [controller]'
            )
        names = (profile.api_key_env,) if profile.api_key_env else KEY_ENVS
        key = profile.api_key or next((env[n] for n in names if env.get(n)), None)
        if not key and not profile.base_url:
            raise LLMNotConfiguredError(
                "no API key for provider 'gemini': run `kt login gemini` (the kt_llm plugin "
                f"stores it in ~/.kt/keys.toml) or set {' or '.join(names)}"
            )
        llm = cls(
            model=profile.model, base_url=profile.base_url, api_key=key, options=profile.options
        )
        llm.model_info = describe(profile, env)
        return llm

    def __repr__(self) -> str:
        return f"GeminiChat(model={self.model!r}, base_url={self.base_url!r})"

    def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Stream one call: text chunks, complete function calls, then one ``LLMDone``.

        Thought text is not shown; the reply's parts (with thought signatures) come back in
        ``LLMDone.meta["gemini_parts"]`` and are sent with the next request. Retries transient
        failures (connection, timeout, 429 with its ``RetryInfo``, 5xx) only while nothing
        has been yielded. Closing the iterator closes the connection at once.

        Raises:
            LLMError: the typed failure.
        """
        options = merged_options(self.options, request.options)
        model = self.model or request.model or ""
        body = _contents.request_body(request, options, model=model)
        if not model.startswith(("models/", "tunedModels/")):
            model = f"models/{model}"
        url = f"{self.base_url}/{quote(model, safe='/')}:streamGenerateContent?alt=sse"

        def attempt() -> AsyncIterator[LLMChunk]:
            events = self._poster.events(url, body)
            return _contents.parse_stream(events, provider="gemini", secrets=self._secrets)

        return retrying(attempt, self.retry_policy)
