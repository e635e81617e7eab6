"""OpenAI-compatible model backends: OpenAI, OpenRouter, DeepSeek, Kimi, GLM, local servers, Codex.

One wire format serves them all: Chat Completions with SSE streaming (``api = "responses"``
in a profile's options switches to the Responses API). Each provider below is registered as
its own backend, so ``--llm openrouter/anthropic/claude-sonnet-4.6`` or ``--llm
ollama/llama3.2`` work directly; a custom endpoint is the ``openai`` backend with a
``base_url`` (``kt config llm add`` in the ``kt_llm`` plugin, or ``base_url`` in a creature's
``[controller]``). The coding-plan subscriptions (``kimi-code``, ``glm-coding``) are providers
of their own, and ``codex`` is a ChatGPT subscription signed in with ``kt login codex``
(:mod:`kt_openai.codex`).

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

# name: (base_url, key env, needs a key, description, presets, extra defaults). Presets of
# providers the model catalog covers come from it (``CATALOG``); OpenRouter's are listed here.
CATALOG = ("<the model catalog's presets>",)
_PROVIDERS: dict[str, tuple[str, str | None, bool, str, tuple[str, ...], dict]] = {
    "openai": (
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        True,
        'OpenAI (Chat Completions; api = "responses" for the Responses API)',
        CATALOG,
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
            "moonshotai/kimi-k2.6",
            "z-ai/glm-5.1",
            "qwen/qwen3-coder",
            "deepseek/deepseek-v4-pro",
        ),
        {"reasoning_path": "reasoning.effort"},
    ),
    "deepseek": (
        "https://api.deepseek.com/v1",
        "DEEPSEEK_API_KEY",
        True,
        "DeepSeek",
        CATALOG,
        {},
    ),
    "moonshot": (
        "https://api.moonshot.ai/v1",
        "MOONSHOT_API_KEY",
        True,
        "Moonshot AI (Kimi)",
        CATALOG,
        {},
    ),
    "zai": (
        "https://api.z.ai/api/paas/v4",
        "ZAI_API_KEY",
        True,
        "Z.ai (GLM)",
        CATALOG,
        {},
    ),
    # Coding-plan subscriptions: their own endpoints and keys, the vendors' models.
    "kimi-code": (
        "https://api.kimi.com/coding/v1",
        "KIMI_API_KEY",
        True,
        "Kimi Code (the Kimi coding-plan subscription)",
        ("kimi-for-coding",),
        {},
    ),
    "glm-coding": (
        "https://api.z.ai/api/coding/paas/v4",
        "ZAI_API_KEY",
        True,
        "GLM Coding Plan (the Z.ai coding subscription)",
        ("glm-5.1", "glm-4.7", "glm-4.6", "glm-4.5-air"),
        {},
    ),
    "ollama": ("http://localhost:11434/v1", None, False, "a local Ollama server", (), {}),
    "lmstudio": ("http://localhost:1234/v1", None, False, "a local LM Studio server", (), {}),
    "vllm": ("http://localhost:8000/v1", "VLLM_API_KEY", False, "a vLLM server", (), {}),
    "llamacpp": ("http://localhost:8080/v1", None, False, "a llama.cpp server", (), {}),
}


def presets_of(name: str) -> tuple[str, ...]:
    """The preset model ids of one provider: the catalog's, or the ones listed here."""
    listed = _PROVIDERS[name][4]
    if listed == CATALOG:
        from kt_llm.models import presets

        return presets(name)
    return listed


PRESET_OPTIONS: dict[tuple[str, str], dict] = {
    # Thinking mode with tool calls: DeepSeek answers 400 "Missing `reasoning_content` field"
    # unless each assistant message brings its reasoning back.
    ("deepseek", "deepseek-reasoner"): {"echo_reasoning": True},
    ("deepseek", "deepseek-v4-pro"): {"echo_reasoning": True},
    ("deepseek", "deepseek-v4-flash"): {"echo_reasoning": True},
}
"""Options a preset carries on every call, for the model quirks the wire format must meet."""


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


CODEX_PRESETS = ("gpt-5.4", "gpt-5.4-mini", "gpt-5.2-codex", "gpt-5.2")


def _build_codex(profile: kt.LLMProfile) -> kt.LLM:
    from kt_openai.codex import CodexResponses

    return CodexResponses.from_profile(profile)


@kt.hookimpl
def kt_llm_backends() -> list[kt.LLMBackendSpec]:
    """Contribute one backend per OpenAI-compatible provider, with its preset models.

    Also the ``codex`` backend: a ChatGPT subscription, signed in with ``kt login codex``.
    """
    specs = [
        kt.LLMBackendSpec(
            name="codex",
            factory=_build_codex,
            description="ChatGPT subscription (Responses API; sign in with `kt login codex`)",
            profiles=tuple(
                kt.LLMProfile(name=model, backend="codex", model=model) for model in CODEX_PRESETS
            ),
        )
    ]
    for name, (base_url, key_env, _, description, _, _) in _PROVIDERS.items():
        specs.append(
            kt.LLMBackendSpec(
                name=name,
                factory=_factory(name),
                description=f"{description} at {base_url}",
                key_env_var=key_env,
                profiles=tuple(
                    kt.LLMProfile(
                        name=preset,
                        backend=name,
                        model=preset,
                        options=dict(PRESET_OPTIONS.get((name, preset), {})),
                    )
                    for preset in presets_of(name)
                ),
            )
        )
    return specs


@kt.hookimpl(optionalhook=True)  # declared by kt_sessions, which may not be loaded
def kt_embedding_providers(register) -> None:
    """Offer the ``openai`` embedding provider: an OpenAI-compatible ``/embeddings`` endpoint."""
    from kt_openai.embeddings import register_providers

    register_providers(register)
