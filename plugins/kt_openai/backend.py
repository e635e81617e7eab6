"""``OpenAIChat``: a :class:`kt.LLM` for any OpenAI-compatible endpoint.

One object per profile. It keeps no per-call state: each :meth:`OpenAIChat.stream` call is
one request and one stream, so a creature, its sub-agents and its compaction can share it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs

from kt import LLMProfile, LLMRequest
from kt.errors import LLMNotConfiguredError
from kt_llm.http import (
    LLMChunk,
    SSEPoster,
    key_hint,
    merged_options,
    pop_transport_options,
    retrying,
)
from kt_llm.models import PROFILE_OPTIONS, DescribedModel, describe
from kt_openai import chat as _chat
from kt_openai import responses as _responses

__all__ = ["OpenAIChat", "ProviderDefaults"]

DEFAULT_TIMEOUT = 120.0
DEFAULT_CONNECT_TIMEOUT = 10.0


@attrs.frozen(kw_only=True)
class ProviderDefaults:
    """What an OpenAI-compatible provider needs beyond a model name.

    Attributes:
        name: The provider (``openai``, ``openrouter``, ``ollama`` ...).
        base_url: Its default endpoint (up to ``/v1``).
        key_env: The environment variable holding its key, or ``None`` when it takes none.
        needs_key: Whether calls to the default endpoint fail without a key.
        max_tokens_field: The body field for the output limit.
        reasoning_path: Where ``reasoning_effort`` goes (``reasoning_effort`` or
            ``reasoning.effort``).
        headers: Extra headers sent with every request.
    """

    name: str
    base_url: str
    key_env: str | None = None
    needs_key: bool = True
    max_tokens_field: str = "max_tokens"
    reasoning_path: str = "reasoning_effort"
    headers: Mapping[str, str] = attrs.field(factory=dict)


class OpenAIChat(DescribedModel):
    """Streams Chat Completions (or Responses) from an OpenAI-compatible endpoint.

    Args:
        provider: The provider's defaults.
        model: The model id (``gpt-4o-mini``, ``llama3.2``, ``deepseek-chat`` ...).
        base_url: The endpoint up to ``/v1``; ``None``: the provider's default.
        api_key: The key, sent as a bearer token; ``None``: none.
        options: Profile options: generation options (``temperature``, ``max_tokens``,
            ``reasoning_effort``, ``extra_body`` ...), merged under each request's own, and
            backend options: ``api`` (``"chat"`` or ``"responses"``), ``timeout`` (seconds
            per read, default 120), ``connect_timeout`` (10), ``retry_policy`` (a table,
            see :class:`kt_llm.http.RetryPolicy`), ``headers``, ``echo_reasoning`` (send
            ``reasoning_content`` back, for providers that want it).
        profile: The profile it is built from; an authentication error's hint names the key
            it used (a custom endpoint's own, see :func:`kt_llm.http.key_hint`).
    """

    def __init__(
        self,
        *,
        provider: ProviderDefaults,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        options: Mapping[str, Any] | None = None,
        profile: LLMProfile | None = None,
    ) -> None:
        options = dict(options or {})
        self.provider = provider
        self.model = model
        self.base_url = (base_url or provider.base_url).rstrip("/")
        self.api = str(options.pop("api", "chat"))
        if self.api not in ("chat", "responses"):
            raise LLMNotConfiguredError(
                f"{provider.name}: unknown api '{self.api}' in the profile options; use "
                '"chat" (Chat Completions) or "responses"'
            )
        transport = pop_transport_options(
            options, timeout=DEFAULT_TIMEOUT, connect_timeout=DEFAULT_CONNECT_TIMEOUT
        )
        self.retry_policy = transport.retry_policy
        headers = {**provider.headers, **transport.headers}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        for name in PROFILE_OPTIONS:  # model facts for the catalog, not for the wire
            options.pop(name, None)
        self._max_tokens_field = options.pop("max_tokens_field", provider.max_tokens_field)
        self._reasoning_path = options.pop("reasoning_path", provider.reasoning_path)
        self.options = options
        self._secrets = (api_key,) if api_key else ()
        self._poster = SSEPoster(
            provider=provider.name,
            headers=headers,
            timeout=transport.timeout,
            connect_timeout=transport.connect_timeout,
            secrets=self._secrets,
            key_hint=key_hint(
                provider.name,
                provider.key_env,
                profile=profile,
                default_base_url=provider.base_url,
            ),
        )

    @classmethod
    def from_profile(
        cls, profile: LLMProfile, provider: ProviderDefaults, env: Mapping[str, str] | None = None
    ) -> OpenAIChat:
        """Build the backend for a profile (the ``kt_llm_backends`` factory).

        The key is ``profile.api_key`` (``kt_llm`` fills it from ``~/.kt/keys.toml`` or the
        environment), else the variable ``profile.api_key_env`` or the provider's own.

        Raises:
            LLMNotConfiguredError: no model is named, or the provider's own endpoint needs a
                key and none is found.
        """
        env = os.environ if env is None else env
        if not profile.model:
            raise LLMNotConfiguredError(
                f"no model named for provider '{provider.name}'; select one with "
                f'--llm {provider.name}/MODEL or `model = "..."` in the creature\'s '
                "[controller]"
            )
        key_env = profile.api_key_env or provider.key_env
        key = profile.api_key or (env.get(key_env) if key_env else None)
        own_endpoint = not profile.base_url or profile.base_url.rstrip("/") == provider.base_url
        if not key and provider.needs_key and own_endpoint:
            raise LLMNotConfiguredError(
                f"no API key for provider '{provider.name}': run `kt login {provider.name}` "
                f"(the kt_llm plugin stores it in ~/.kt/keys.toml)"
                + (f" or set {key_env}" if key_env else "")
            )
        llm = cls(
            provider=provider,
            model=profile.model,
            base_url=profile.base_url,
            api_key=key,
            options=profile.options,
            profile=profile,
        )
        llm.model_info = describe(profile, env)
        return llm

    def __repr__(self) -> str:
        return (
            f"OpenAIChat(provider={self.provider.name!r}, model={self.model!r}, "
            f"base_url={self.base_url!r}, api={self.api!r})"
        )

    def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Stream one call: text chunks, complete tool calls, then one ``LLMDone``.

        Retries transient failures (connection, timeout, HTTP 429 and 5xx) with the profile's
        retry policy, only while nothing has been yielded. Closing the iterator closes the
        HTTP response and its connection at once.

        Raises:
            LLMError: the typed failure (see :func:`kt_llm.http.error_for_status`).
        """
        options = merged_options(self.options, request.options)
        model = self.model or request.model or ""
        if self.api == "responses":
            url = f"{self.base_url}/responses"
            body = _responses.request_body(request, model=model, options=options)
            parse = _responses.parse_stream
        else:
            url = f"{self.base_url}/chat/completions"
            body = _chat.request_body(
                request,
                model=model,
                options=options,
                max_tokens_field=self._max_tokens_field,
                reasoning_path=self._reasoning_path,
            )
            parse = _chat.parse_stream

        def attempt() -> AsyncIterator[LLMChunk]:
            events = self._poster.events(url, body)
            return parse(events, provider=self.provider.name, secrets=self._secrets)

        return retrying(attempt, self.retry_policy)
