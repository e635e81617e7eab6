"""Which model a selector means: providers, presets, aliases, variations, and the fallbacks.

A **provider** is a backend registered by a plugin (``openai``, ``anthropic``, ``ollama`` ...)
or a custom endpoint from ``~/.kt/llm.toml``. A **preset** is a model a backend plugin lists
for its provider (``LLMBackendSpec.profiles``). A **selector** names a model::

    openai/gpt-4o                provider/model (any model id passes; presets add options)
    gpt-4o                       a preset name, when exactly one provider has it
    sonnet                       an alias (``kt model list`` shows them)
    ollama                       a provider alone: its default model
    lab/qwen3-coder              a custom endpoint with a model
    gpt-5.4@reasoning=high       any of these with a variation
    claude-opus-4-7@high         a bare reasoning level is short for reasoning=LEVEL

A **variation** changes a fixed set of fields: ``reasoning`` (→ ``reasoning_effort``: none,
minimal, low, medium, high, xhigh, max), ``temperature``, ``max_tokens``, ``service_tier`` and
``thinking`` (→ ``thinking_budget``, tokens). Several are comma-separated; naming one twice
is an error, not "last one wins".

Resolution order, first match wins: the ``--llm`` selector; the creature's ``llm``; its
``provider`` (+ ``model``); its ``model`` alone; the user default (``kt model default``); the
first provider with a key, in the order codex (signed in with ``kt login codex``), anthropic,
openai, gemini, openrouter, deepseek, moonshot, zai, then the others and custom endpoints by
name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kt import LLMProfile
from kt.errors import (
    ConfigValidationError,
    LLMNotConfiguredError,
    PluginLoadError,
    UnknownNameError,
)
from kt_llm.keys import KeySource, KeyStore
from kt_llm.settings import Settings

if TYPE_CHECKING:
    from kt import Kernel
    from kt.config import CreatureConfig

__all__ = [
    "ALIASES",
    "PREFERENCE",
    "REASONING_LEVELS",
    "Catalog",
    "Choice",
    "Provider",
    "close_matches",
    "parse_variation",
    "resolve",
]

REASONING_LEVELS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
PREFERENCE = (
    "codex",
    "anthropic",
    "openai",
    "gemini",
    "openrouter",
    "deepseek",
    "moonshot",
    "zai",
)
ALIASES: dict[str, str] = {
    "gpt": "openai/gpt-5.4",
    "gpt-mini": "openai/gpt-5.4-mini",
    "4o": "openai/gpt-4o",
    "claude": "anthropic/claude-sonnet-4-6",
    "sonnet": "anthropic/claude-sonnet-4-6",
    "opus": "anthropic/claude-opus-4-7",
    "haiku": "anthropic/claude-haiku-4-5",
    "gemini-pro": "gemini/gemini-2.5-pro",
    "gemini-flash": "gemini/gemini-2.5-flash",
    "kimi": "moonshot/kimi-k2.6",
    "glm": "zai/glm-4.6",
    "qwen": "openrouter/qwen/qwen3-coder",
}
"""Short names for presets; an alias whose target is not installed is left out."""

QUALIFIED_ONLY = frozenset({"codex"})
"""Providers whose presets repeat another provider's model ids (Codex serves OpenAI's models
through a subscription): their presets are chosen as ``codex/gpt-5.4`` only, so a bare
``gpt-5.4`` keeps meaning OpenAI's."""

PROVIDER_PLUGINS: dict[str, str] = {
    "openai": "kt_openai",
    "openrouter": "kt_openai",
    "deepseek": "kt_openai",
    "moonshot": "kt_openai",
    "zai": "kt_openai",
    "kimi-code": "kt_openai",
    "codex": "kt_openai",
    "glm-coding": "kt_openai",
    "ollama": "kt_openai",
    "vllm": "kt_openai",
    "lmstudio": "kt_openai",
    "llamacpp": "kt_openai",
    "anthropic": "kt_anthropic",
    "gemini": "kt_gemini",
}
"""The first-party providers and the plugin that registers each, for the error that names the
plugin when it failed to load (a lean install without the ``llm`` extra)."""


def _level(value: str) -> str:
    level = value.lower()
    if level not in REASONING_LEVELS:
        raise ValueError(f"one of {', '.join(REASONING_LEVELS)}")
    return level


def _number(low: float, high: float | None, kind: type) -> Any:
    def convert(value: str) -> Any:
        number = kind(value)
        if number < low or (high is not None and number > high):
            raise ValueError(f"a number from {low:g}" + (f" to {high:g}" if high else " up"))
        return number

    return convert


# variation key -> (option it sets, converter)
VARIATIONS: dict[str, tuple[str, Any]] = {
    "reasoning": ("reasoning_effort", _level),
    "temperature": ("temperature", _number(0, 2, float)),
    "max_tokens": ("max_tokens", _number(1, None, int)),
    "service_tier": ("service_tier", str),
    "thinking": ("thinking_budget", _number(0, None, int)),
}


def close_matches(name: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'a', 'b'?`` for the choices close to *name* (``""`` when none)."""
    close = difflib.get_close_matches(name, sorted(set(choices)), n=4, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def parse_variation(text: str | None, *, path: str = "controller.llm") -> dict[str, Any]:
    """``"reasoning=high,temperature=0.2"`` (or ``"high"``) → ``{"reasoning": "high", ...}``.

    Raises:
        ConfigValidationError: an empty part, an unknown key, a bad value, a key given twice.
    """
    if text is None:
        return {}
    if not text.strip():
        raise ConfigValidationError("nothing after '@' in the model selector", path=path)
    chosen: dict[str, Any] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise ConfigValidationError(f"empty variation in '@{text}'", path=path)
        key, equals, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not equals:
            if part.lower() not in REASONING_LEVELS:
                raise ConfigValidationError(
                    f"unknown variation '{part}'; write KEY=VALUE with KEY one of "
                    f"{', '.join(VARIATIONS)}, or a bare reasoning level "
                    f"({', '.join(REASONING_LEVELS)})",
                    path=path,
                )
            key, value = "reasoning", part
        if key not in VARIATIONS:
            raise ConfigValidationError(
                f"unknown variation '{key}'.{close_matches(key, VARIATIONS)} Variations: "
                f"{', '.join(VARIATIONS)}",
                path=path,
            )
        if key in chosen:
            raise ConfigValidationError(f"variation '{key}' is given twice in '@{text}'", path=path)
        try:
            chosen[key] = VARIATIONS[key][1](value)
        except ValueError as exc:
            raise ConfigValidationError(
                f"bad value '{value}' for variation '{key}': expected {exc}", path=path
            ) from None
    return chosen


@attrs.frozen(kw_only=True)
class Provider:
    """A provider selectors can name.

    Attributes:
        name: What selectors call it.
        backend: The registered backend that builds its models.
        key_env: The environment variable holding its key (``None``: it takes none).
        description: One line for listings.
        presets: Its preset models.
        base_url: For custom endpoints: the endpoint.
        model: For custom endpoints: the default model.
        options: For custom endpoints: options for every call.
        custom: Whether it is a custom endpoint from ``llm.toml``.
    """

    name: str
    backend: str
    key_env: str | None = None
    description: str = ""
    presets: tuple[LLMProfile, ...] = ()
    base_url: str | None = None
    model: str = ""
    options: Mapping[str, Any] = attrs.field(factory=dict)
    custom: bool = False

    def preset(self, name: str) -> LLMProfile | None:
        """Its preset called *name*, if any."""
        return next((p for p in self.presets if p.name == name), None)

    @property
    def default_model(self) -> str:
        """The model used when a selector names only the provider (``""``: none)."""
        return self.model or (self.presets[0].model if self.presets else "")


@attrs.frozen(kw_only=True)
class Choice:
    """A resolved selector: which provider, which model, which variation.

    Attributes:
        provider: The provider.
        model: The model id to send.
        preset: The preset it matched, if any.
        variation: Chosen variation values by key.
        source: What chose it (``--llm``, ``creature``, ``user default``, ``first key``).
    """

    provider: Provider
    model: str
    preset: LLMProfile | None = None
    variation: Mapping[str, Any] = attrs.field(factory=dict)
    source: str = "--llm"

    @property
    def name(self) -> str:
        """The canonical selector: ``provider/model[@key=value,...]`` (keys sorted)."""
        name = f"{self.provider.name}/{self.preset.name if self.preset else self.model}"
        if self.variation:
            name += "@" + ",".join(f"{k}={self.variation[k]}" for k in sorted(self.variation))
        return name

    def options(self) -> dict[str, Any]:
        """Options of the preset, then the endpoint, then the variation (later ones win)."""
        from kt_llm.http import merged_options

        varied = {VARIATIONS[k][0]: v for k, v in self.variation.items()}
        preset = self.preset.options if self.preset else None
        return merged_options(preset, self.provider.options, varied)


class Catalog:
    """Every provider, preset and alias one kernel and one user's settings offer.

    Args:
        kernel: Its ``llm_backends`` registry gives the providers and presets.
        settings: The user's default and custom endpoints.
    """

    def __init__(self, kernel: Kernel, settings: Settings) -> None:
        self.settings = settings
        self.failures = {failure.name: failure.reason for failure in kernel.failures}
        self.providers: dict[str, Provider] = {}
        for name, spec in kernel.llm_backends.items():
            if name == "scripted":
                continue  # the kernel's own `scripted:FILE` syntax handles it
            self.providers[name] = Provider(
                name=name,
                backend=name,
                key_env=spec.key_env_var,
                description=spec.description,
                presets=tuple(spec.profiles),
            )
        for name, endpoint in settings.endpoints.items():
            if name in self.providers:
                continue  # `kt config llm add` refuses such names; a hand edit loses
            self.providers[name] = Provider(
                name=name,
                backend=endpoint.backend,
                key_env=endpoint.api_key_env,
                description=f"custom endpoint at {endpoint.base_url} ({endpoint.backend} format)",
                base_url=endpoint.base_url,
                model=endpoint.model,
                options=endpoint.options,
                custom=True,
            )
        self.aliases = {a: t for a, t in ALIASES.items() if self._exists(t)}

    def _exists(self, target: str) -> bool:
        provider, _, preset = target.partition("/")
        return provider in self.providers and self.providers[provider].preset(preset) is not None

    def ordered(self) -> list[Provider]:
        """Providers in preference order: the preferred built-ins, others, then endpoints."""
        rank = {name: i for i, name in enumerate(PREFERENCE)}
        return sorted(
            self.providers.values(),
            key=lambda p: (p.custom, rank.get(p.name, len(rank)), p.name),
        )

    def names(self) -> list[str]:
        """Every name a selector may use: providers, ``provider/preset``, bare presets, aliases."""
        names = [*self.providers, *self.aliases]
        for provider in self.providers.values():
            for preset in provider.presets:
                names.append(f"{provider.name}/{preset.name}")
                if provider.name not in QUALIFIED_ONLY:
                    names.append(preset.name)
        return names

    def choose(
        self, selector: str, *, source: str = "--llm", path: str = "controller.llm"
    ) -> Choice:
        """Resolve *selector* to a choice.

        Raises:
            UnknownNameError: an unknown provider or name (with close matches), or a preset
                name several providers share (naming the ``provider/name`` forms).
            PluginLoadError: the provider (or the alias's provider) comes from a first-party
                plugin that failed to load; the message says why and what to install.
            ConfigValidationError: a malformed variation.
        """
        head, at, variation_text = selector.strip().partition("@")
        variation = parse_variation(variation_text if at else None, path=path)
        if not head:
            raise ConfigValidationError(f"no model name in selector '{selector}'", path=path)
        choice = self._choose_head(head, selector, path)
        return attrs.evolve(choice, variation={**choice.variation, **variation}, source=source)

    def _choose_head(self, head: str, selector: str, path: str) -> Choice:
        if head in self.aliases:
            return self._choose_head(self.aliases[head], selector, path)
        provider_name, slash, rest = head.partition("/")
        if head in ALIASES:  # an alias whose provider is not loaded
            self.raise_if_failed(ALIASES[head].partition("/")[0], f"alias '{head}'")
        self.raise_if_failed(provider_name)
        provider = self.providers.get(provider_name)
        if provider is not None:
            if not slash or not rest:
                return self._provider_default(provider, selector, path)
            return Choice(
                provider=provider, model=_model(provider, rest), preset=provider.preset(rest)
            )
        matches = [
            (provider, preset)
            for provider in self.ordered()
            if provider.name not in QUALIFIED_ONLY
            for preset in provider.presets
            if preset.name == head
        ]
        if len(matches) == 1:
            provider, preset = matches[0]
            return Choice(provider=provider, model=preset.model or preset.name, preset=preset)
        if len(matches) > 1:
            forms = ", ".join(f"{p.name}/{head}" for p, _ in matches)
            raise UnknownNameError(
                f"model '{head}' is offered by several providers; write one of: {forms}",
                path=path,
            )
        what = f"provider '{provider_name}'" if slash else f"model '{head}'"
        hint = close_matches(provider_name if slash else head, self.names())
        raise UnknownNameError(
            f"unknown {what} in '{selector}'.{hint} "
            "`kt model list` shows the providers, presets and aliases; any model of a "
            "provider works as PROVIDER/MODEL, and `kt config llm add` adds an endpoint."
            + self.failures_note(),
            path=path,
        )

    def raise_if_failed(self, provider: str, what: str = "") -> None:
        """Raise when *provider* is not loaded because the plugin that registers it failed.

        Args:
            provider: A provider or backend name.
            what: How the user named it, when not as the provider itself (``alias 'sonnet'``).

        Raises:
            PluginLoadError: *provider* is missing and its first-party plugin failed to load;
                the message gives the plugin's reason, which names the extra to install.
        """
        plugin = PROVIDER_PLUGINS.get(provider)
        if provider in self.providers or plugin is None or plugin not in self.failures:
            return
        subject = f"{what} needs provider '{provider}', which" if what else f"provider '{provider}'"
        raise PluginLoadError(
            f"{subject} is not loaded: its plugin {plugin} failed to load "
            f"({self.failures[plugin]}). `kt plugins` lists what is loaded."
        )

    def failures_note(self) -> str:
        """A sentence listing the plugins that failed to load (``""`` when none did)."""
        if not self.failures:
            return ""
        listed = "; ".join(f"{name} ({reason})" for name, reason in sorted(self.failures.items()))
        return f" Plugins that failed to load: {listed}."

    def _provider_default(self, provider: Provider, selector: str, path: str) -> Choice:
        model = provider.default_model
        if not model:
            raise UnknownNameError(
                f"'{selector}' names provider '{provider.name}', which has no default model; "
                f"write {provider.name}/MODEL",
                path=path,
            )
        return Choice(
            provider=provider,
            model=_model(provider, model),
            preset=provider.preset(model),
        )

    def first_available(self, keys: KeyStore) -> Choice | None:
        """The first provider, in preference order, whose key is stored or set.

        Providers that take no key (local servers) do not count; ``codex`` counts once
        ``kt login codex`` signed in.

        Returns:
            That provider with its default model, or ``None``.
        """
        for provider in self.ordered():
            if provider.name == "codex":
                from kt_llm.codex_auth import TokenStore

                key = "signed in" if TokenStore(keys.env).load() is not None else None
            elif not provider.key_env and not provider.custom:
                continue
            else:
                key, _ = keys.lookup(provider.name, provider.key_env)
            if key and provider.default_model:
                choice = self._provider_default(provider, provider.name, "controller.llm")
                return attrs.evolve(choice, source="first provider with a key")
        return None

    def key_of(
        self, provider: Provider, keys: KeyStore, env_var: str | None = None
    ) -> tuple[str | None, KeySource]:
        """The key of *provider* and where it came from (stored > environment)."""
        return keys.lookup(provider.name, env_var or provider.key_env)

    def profile(
        self,
        choice: Choice,
        keys: KeyStore,
        *,
        creature: CreatureConfig | None = None,
    ) -> LLMProfile:
        """The profile to build for *choice*.

        When the creature's config chose the model, its ``base_url``, ``api_key_env`` and
        ``retry_policy`` apply and relative paths resolve against its folder; a ``--llm``
        selector, the user default and the first-key fallback leave those out.
        """
        provider = choice.provider
        options = choice.options()
        base_url = provider.base_url or (choice.preset.base_url if choice.preset else None)
        key_env = provider.key_env
        base_dir = None
        if creature is not None and choice.source == "creature":
            controller = creature.controller
            base_url = controller.base_url or base_url
            key_env = controller.api_key_env or key_env
            if controller.retry_policy:
                options["retry_policy"] = dict(controller.retry_policy)
            base_dir = creature.folder
        key, _ = keys.lookup(provider.name, key_env)
        return LLMProfile(
            name=choice.name,
            backend=provider.backend,
            model=choice.model,
            base_url=base_url,
            api_key_env=key_env,
            api_key=key,
            options=options,
            base_dir=base_dir,
        )


def _model(provider: Provider, name: str) -> str:
    preset = provider.preset(name)
    return (preset.model or preset.name) if preset is not None else name


def _kernel_syntax(selector: str, kernel: Kernel) -> bool:
    """Whether *selector* is for the kernel's own parsing (``scripted:FILE``)."""
    head = selector.split("/", 1)[0]
    backend = head.split(":", 1)[0]
    return backend == "scripted" or (":" in head and backend in kernel.llm_backends)


def resolve(selector: str | None, creature: CreatureConfig, kernel: Kernel) -> LLMProfile | None:
    """The profile a creature runs with (the ``kt_resolve_llm`` implementation).

    Returns:
        The profile, or ``None`` for the kernel's own syntax (``scripted:FILE``).

    Raises:
        LLMNotConfiguredError: nothing selects a model and no provider has a key.
        UnknownNameError: an unknown or ambiguous name.
        PluginLoadError: the name's first-party plugin failed to load (for lack of an extra).
        ConfigValidationError: a malformed variation.
        ConfigError: ``~/.kt/llm.toml`` or ``~/.kt/keys.toml`` is broken.
    """
    controller = creature.controller
    source, chosen = "--llm", selector
    if not chosen:
        source = "creature"
        if controller.llm:
            chosen = controller.llm
        elif controller.provider:
            chosen = f"{controller.provider}/{controller.model or ''}"
        elif controller.model:
            chosen = controller.model
    if chosen and _kernel_syntax(chosen, kernel):
        return None
    settings = Settings(kernel.env)
    keys = KeyStore(kernel.env)
    catalog = Catalog(kernel, settings)
    if not chosen and settings.default:
        source, chosen = "user default", settings.default
    if chosen:
        choice = catalog.choose(chosen, source=source)
        if source == "creature" and controller.variation and "@" not in chosen:
            extra = parse_variation(controller.variation, path="controller.variation")
            choice = attrs.evolve(choice, variation={**extra, **choice.variation})
        if choice.provider.backend not in kernel.llm_backends:  # a custom endpoint's backend
            catalog.raise_if_failed(choice.provider.backend, f"endpoint '{choice.provider.name}'")
    else:
        found = catalog.first_available(keys)
        if found is None:
            raise LLMNotConfiguredError(
                f"no model is configured for creature '{creature.name}' and no provider has a "
                "key. Sign in with a ChatGPT subscription (`kt login codex`) or store a key "
                "with `kt login PROVIDER` (the first provider with a key is used); for a local "
                "server (Ollama, vLLM, LM Studio) add it with `kt config llm "
                "add NAME --base-url URL --model MODEL`; set your default with `kt model "
                'default NAME`, set `llm = "NAME"` in the creature\'s [controller], or pass '
                "--llm NAME; `kt model list` shows the names (`--llm scripted:FILE` plays a "
                "reply file offline)." + catalog.failures_note()
            )
        choice = found
    return catalog.profile(choice, keys, creature=creature)
