"""Anthropic's native Messages API as a model backend: ``--llm anthropic/claude-sonnet-4-6``.

Native tool use, extended thinking (kept and sent back), prompt-cache breakpoints on the stable
prefix, and usage with cache reads and writes. See :mod:`kt_anthropic.backend`. httpx is
imported only when a model is built.
"""

from __future__ import annotations

import kt
import kt.plugins

kt_requires = ("kt_llm",)  # the HTTP, SSE and retry helpers of kt_llm.http
kt.plugins.require_modules("httpx")  # without the llm extra: fail to load, named


def _build(profile: kt.LLMProfile) -> kt.LLM:
    from kt_anthropic.backend import AnthropicMessages

    return AnthropicMessages.from_profile(profile)


@kt.hookimpl
def kt_llm_backends() -> list[kt.LLMBackendSpec]:
    """Contribute the ``anthropic`` backend and its preset models."""
    from kt_llm.models import presets  # the model catalog lists them

    return [
        kt.LLMBackendSpec(
            name="anthropic",
            factory=_build,
            description="Anthropic Messages API (native tool use, thinking, prompt caching) "
            "at https://api.anthropic.com",
            key_env_var="ANTHROPIC_API_KEY",
            profiles=tuple(
                kt.LLMProfile(name=model, backend="anthropic", model=model)
                for model in presets("anthropic")
            ),
        )
    ]
