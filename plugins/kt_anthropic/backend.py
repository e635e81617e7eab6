"""``AnthropicMessages``: a :class:`kt.LLM` for Anthropic's native Messages API.

One object per profile, no per-call state: each :meth:`AnthropicMessages.stream` call is one
request and one stream.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from kt import LLMProfile, LLMRequest
from kt.errors import LLMNotConfiguredError
from kt_anthropic import messages as _messages
from kt_llm.http import (
    LLMChunk,
    SSEPoster,
    key_hint,
    merged_options,
    pop_transport_options,
    retrying,
)
from kt_llm.models import PROFILE_OPTIONS, DescribedModel, describe

__all__ = ["API_VERSION", "DEFAULT_BASE_URL", "AnthropicMessages"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
KEY_ENV = "ANTHROPIC_API_KEY"
DEFAULT_TIMEOUT = 300.0
DEFAULT_CONNECT_TIMEOUT = 10.0


class AnthropicMessages(DescribedModel):
    """Streams the Messages API (``POST {base_url}/v1/messages``).

    Args:
        model: The model id (``claude-sonnet-4-5`` ...).
        base_url: The endpoint root; ``None``: Anthropic's. Anthropic-compatible gateways work
            too.
        api_key: The key, sent as ``x-api-key`` (or as a bearer token with the option
            ``auth_as_bearer``).
        options: Generation options (see :func:`kt_anthropic.messages.request_body`), merged
            under each request's own, and backend options: ``timeout`` (seconds per read,
            default 300), ``connect_timeout`` (10), ``retry_policy``, ``headers``, ``beta``
            (a list of ``anthropic-beta`` flags), ``auth_as_bearer``.
        profile: The profile it is built from; an authentication error's hint names the key
            it used (a custom endpoint's own, see :func:`kt_llm.http.key_hint`).
    """

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        options: Mapping[str, Any] | None = None,
        profile: LLMProfile | None = None,
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
        headers = {"anthropic-version": API_VERSION, **transport.headers}
        beta = options.pop("beta", None)
        if beta:
            headers["anthropic-beta"] = beta if isinstance(beta, str) else ",".join(beta)
        if api_key:
            if options.pop("auth_as_bearer", False):
                headers["authorization"] = f"Bearer {api_key}"
            else:
                headers["x-api-key"] = api_key
        self.options = options
        self._secrets = (api_key,) if api_key else ()
        self._poster = SSEPoster(
            provider="anthropic",
            headers=headers,
            timeout=transport.timeout,
            connect_timeout=transport.connect_timeout,
            secrets=self._secrets,
            key_hint=key_hint(
                "anthropic", KEY_ENV, profile=profile, default_base_url=DEFAULT_BASE_URL
            ),
        )

    @classmethod
    def from_profile(
        cls, profile: LLMProfile, env: Mapping[str, str] | None = None
    ) -> AnthropicMessages:
        """Build the backend for a profile (the ``kt_llm_backends`` factory).

        Raises:
            LLMNotConfiguredError: no model is named, or Anthropic's own endpoint is used
                without a key.
        """
        env = os.environ if env is None else env
        if not profile.model:
            raise LLMNotConfiguredError(
                "no model named for provider 'anthropic'; select one with --llm "
                'anthropic/MODEL or `model = "..."` in the creature\'s [controller]'
            )
        key_env = profile.api_key_env or KEY_ENV
        key = profile.api_key or env.get(key_env)
        if not key and not profile.base_url:
            raise LLMNotConfiguredError(
                "no API key for provider 'anthropic': run `kt login anthropic` (the kt_llm "
                f"plugin stores it in ~/.kt/keys.toml) or set {key_env}"
            )
        llm = cls(
            model=profile.model,
            base_url=profile.base_url,
            api_key=key,
            options=profile.options,
            profile=profile,
        )
        llm.model_info = describe(profile, env)
        return llm

    def __repr__(self) -> str:
        return f"AnthropicMessages(model={self.model!r}, base_url={self.base_url!r})"

    def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Stream one call: text chunks, complete tool calls, then one ``LLMDone``.

        Thinking blocks are not shown; they come back in ``LLMDone.meta`` and are sent with
        the next request. Retries transient failures (connection, timeout, 429, 5xx, 529
        overloaded) only while nothing has been yielded. Closing the iterator closes the
        connection at once.

        Raises:
            LLMError: the typed failure.
        """
        options = merged_options(self.options, request.options)
        body = _messages.request_body(
            request,
            model=self.model or request.model or "",
            options=options,
            max_output=self.model_info.max_output if self.model_info else None,
        )
        url = f"{self.base_url}/v1/messages"

        def attempt() -> AsyncIterator[LLMChunk]:
            events = self._poster.events(url, body)
            return _messages.parse_stream(events, provider="anthropic", secrets=self._secrets)

        return retrying(attempt, self.retry_policy)
