"""``CodexResponses``: the Responses API of a ChatGPT subscription (``kt login codex``).

The Codex backend speaks the Responses wire format (:mod:`kt_openai.responses`) with a few
rules of its own: the bearer token is the account's OAuth access token (refreshed before it
expires, so it is set per call), the account goes in ``chatgpt-account-id``, ``store`` is
always off with encrypted reasoning asked for, ``instructions`` may not be empty, and the
output limit and sampling fields are not accepted (the subscription fixes them), so they are
left out.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from kt import LLMProfile, LLMRequest
from kt.errors import LLMNotConfiguredError
from kt_llm.codex_auth import CodexAuth, Issuer, TokenStore
from kt_llm.http import LLMChunk, SSEPoster, merged_options, pop_transport_options, retrying
from kt_llm.models import PROFILE_OPTIONS, DescribedModel, describe
from kt_openai import responses as _responses

__all__ = ["DEFAULT_BASE_URL", "CodexResponses"]

DEFAULT_BASE_URL = "https://chatgpt.com/backend-api/codex"
DEFAULT_TIMEOUT = 300.0
DEFAULT_CONNECT_TIMEOUT = 10.0
FALLBACK_INSTRUCTIONS = "You are a helpful assistant."
NOT_ACCEPTED = ("max_output_tokens", "temperature", "top_p")


class CodexResponses(DescribedModel):
    """Streams ``POST {base_url}/responses`` with the signed-in ChatGPT account.

    Args:
        model: The model id (``gpt-5.4`` ...).
        auth: Where the tokens come from.
        base_url: The backend root; ``None``: ChatGPT's.
        options: Generation options (``reasoning_effort``, default ``medium``;
            ``service_tier``; ``extra_body``) and backend options (``timeout``,
            ``connect_timeout``, ``retry_policy``, ``headers``).
    """

    def __init__(
        self,
        *,
        model: str,
        auth: CodexAuth,
        base_url: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        options = dict(options or {})
        self.model = model
        self.auth = auth
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        transport = pop_transport_options(
            options, timeout=DEFAULT_TIMEOUT, connect_timeout=DEFAULT_CONNECT_TIMEOUT
        )
        for name in PROFILE_OPTIONS:
            options.pop(name, None)
        self.retry_policy = transport.retry_policy
        self.options = options
        self._poster = SSEPoster(
            provider="codex",
            headers={"openai-beta": "responses=experimental", **transport.headers},
            timeout=transport.timeout,
            connect_timeout=transport.connect_timeout,
            key_hint="run `kt login codex` to sign in with ChatGPT again",
        )

    @classmethod
    def from_profile(
        cls, profile: LLMProfile, env: Mapping[str, str] | None = None
    ) -> CodexResponses:
        """Build the backend for a profile (the ``kt_llm_backends`` factory).

        The option ``issuer`` points the token refresh at another authorization server.

        Raises:
            LLMNotConfiguredError: no model is named, or nobody signed in.
        """
        env = os.environ if env is None else env
        if not profile.model:
            raise LLMNotConfiguredError(
                "no model named for provider 'codex'; select one with --llm codex/MODEL"
            )
        options = dict(profile.options)
        issuer = Issuer(url=str(options.pop("issuer", Issuer().url)))
        auth = CodexAuth(TokenStore(env), issuer)
        auth.require()
        llm = cls(model=profile.model, auth=auth, base_url=profile.base_url, options=options)
        llm.model_info = describe(profile, env)
        return llm

    def __repr__(self) -> str:
        return f"CodexResponses(model={self.model!r}, base_url={self.base_url!r})"

    def request_body(self, request: LLMRequest) -> dict[str, Any]:
        """The JSON body of one call."""
        options = merged_options({"reasoning_effort": "medium"}, self.options, request.options)
        body = _responses.request_body(request, model=self.model, options=options)
        for field in NOT_ACCEPTED:
            body.pop(field, None)
        body["store"] = False
        body["include"] = ["reasoning.encrypted_content"]
        body.setdefault("instructions", FALLBACK_INSTRUCTIONS)
        return body

    def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Stream one call, as :class:`kt_openai.backend.OpenAIChat` does.

        The token is refreshed first when it expires within a minute.

        Raises:
            LLMError: the typed failure; ``LLMAuthError`` when the sign-in cannot be refreshed.
        """
        body = self.request_body(request)
        url = f"{self.base_url}/responses"

        async def attempt() -> AsyncIterator[LLMChunk]:
            tokens = await self.auth.fresh()
            headers = {"authorization": f"Bearer {tokens.access_token}"}
            if tokens.account_id:
                headers["chatgpt-account-id"] = tokens.account_id
            events = self._poster.events(url, body, headers=headers, secrets=(tokens.access_token,))
            chunks = _responses.parse_stream(
                events, provider="codex", secrets=(tokens.access_token,)
            )
            async with aclosing(chunks):
                async for chunk in chunks:
                    yield chunk

        return retrying(attempt, self.retry_policy)
