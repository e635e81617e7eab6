"""Google's Gemini API as a model backend: ``--llm gemini/gemini-2.5-flash``.

Native function calling, thinking levels, thought signatures kept across turns, usage with
cached and thought tokens. See :mod:`kt_gemini.backend`. httpx is imported only when a model is
built.
"""

from __future__ import annotations

import kt
import kt.plugins

kt_requires = ("kt_llm",)  # the HTTP, SSE and retry helpers of kt_llm.http
kt.plugins.require_modules("httpx")  # without the llm extra: fail to load, named


def _build(profile: kt.LLMProfile) -> kt.LLM:
    from kt_gemini.backend import GeminiChat

    return GeminiChat.from_profile(profile)


@kt.hookimpl
def kt_llm_backends() -> list[kt.LLMBackendSpec]:
    """Contribute the ``gemini`` backend and its preset models."""
    from kt_llm.models import presets  # the model catalog lists them

    return [
        kt.LLMBackendSpec(
            name="gemini",
            factory=_build,
            description="Google Gemini API (streamGenerateContent) at "
            "https://generativelanguage.googleapis.com",
            key_env_var="GEMINI_API_KEY",
            profiles=tuple(
                kt.LLMProfile(name=model, backend="gemini", model=model)
                for model in presets("gemini")
            ),
        )
    ]
