"""OpenAI-compatible model backends: OpenAI, OpenRouter, DeepSeek, Kimi, GLM and local servers.

One wire format serves them all: Chat Completions with SSE streaming (``api = "responses"``
in a profile's options switches to the Responses API). Each provider below is registered as
its own backend, so ``--llm openrouter/anthropic/claude-sonnet-4.6`` or ``--llm
ollama/llama3.2`` work directly; a custom endpoint is the ``openai`` backend with a
``base_url`` (``kt config llm add`` in the ``kt_llm`` plugin, or ``base_url`` in a creature's
``[controller]``).

httpx is imported only when a model is built, so loading this plugin costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import kt
import kt.plugins

kt_requires = ("kt_llm",)  # the HTTP, SSE and retry helpers of kt_llm.http
kt.plugins.require_modules("httpx")  # without the llm extra: fail to load, named

if TYPE_CHECKING:
    from kt_openai.backend import ProviderDefaults

# name: (base_url, key env, needs a key, description, presets, extra defaults)
_PROVIDERS: dict[str, tuple[str, str | None, bool, str, tuple[str, ...], dict]] = {
    "openai": (
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        True,
        'OpenAI (Chat Completions; api = "responses" for the Responses API)',
        (
            "gpt-5.4",
            "gpt-5.4-mini",
            "gpt-5.4-nano",
            "gpt-5.2",
            "gpt-5",
            "gpt-5-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4o",
            "gpt-4o-mini",
        ),
        {"max_tokens_field": "max_completion_tokens"},
    ),
    "openrouter": (
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        True,
        "OpenRouter: many vendors' models behind one OpenAI-compatible API",
        (
            "anthropic/claude-sonnet-4.6",
            "anthropic/claude-opus-4.7",
            "openai/gpt-5.4",
            "google/gemini-3.1-pro-preview",
            "moonshotai/kimi-k2",
            "z-ai/glm-4.6",
            "qwen/qwen3-coder",
            "deepseek/deepseek-chat-v3.1",
        ),
        {"reasoning_path": "reasoning.effort"},
    ),
    "deepseek": (
        "https://api.deepseek.com/v1",
        "DEEPSEEK_API_KEY",
        True,
        "DeepSeek",
        ("deepseek-chat", "deepseek-reasoner"),
        {},
    ),
    "moonshot": (
        "https://api.moonshot.ai/v1",
        "MOONSHOT_API_KEY",
        True,
        "Moonshot AI (Kimi)",
        ("kimi-k2-0905-preview", "kimi-k2-turbo-preview"),
        {},
    ),
    "zai": (
        "https://api.z.ai/api/paas/v4",
        "ZAI_API_KEY",
        True,
        "Z.ai (GLM)",
        ("glm-4.6", "glm-4.5-air"),
        {},
    ),
    "ollama": ("http://localhost:11434/v1", None, False, "a local Ollama server", (), {}),
    "lmstudio": ("http://localhost:1234/v1", None, False, "a local LM Studio server", (), {}),
    "vllm": ("http://localhost:8000/v1", "VLLM_API_KEY", False, "a vLLM server", (), {}),
    "llamacpp": ("http://localhost:8080/v1", None, False, "a llama.cpp server", (), {}),
}


def provider_defaults(name: str) -> ProviderDefaults:
    """The defaults of one built-in provider (``openai``, ``ollama`` ...)."""
    from kt_openai.backend import ProviderDefaults

    base_url, key_env, needs_key, _, _, extra = _PROVIDERS[name]
    return ProviderDefaults(
        name=name, base_url=base_url, key_env=key_env, needs_key=needs_key, **extra
    )


def _factory(name: str):
    def build(profile: kt.LLMProfile) -> kt.LLM:
        from kt_openai.backend import OpenAIChat

        return OpenAIChat.from_profile(profile, provider_defaults(name))

    build.__qualname__ = f"build_{name}"
    return build


@kt.hookimpl
def kt_llm_backends() -> list[kt.LLMBackendSpec]:
    """Contribute one backend per OpenAI-compatible provider, with its preset models."""
    specs = []
    for name, (base_url, key_env, _, description, presets, _) in _PROVIDERS.items():
        specs.append(
            kt.LLMBackendSpec(
                name=name,
                factory=_factory(name),
                description=f"{description} at {base_url}",
                key_env_var=key_env,
                profiles=tuple(
                    kt.LLMProfile(name=preset, backend=name, model=preset) for preset in presets
                ),
            )
        )
    return specs
