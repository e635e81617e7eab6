"""Build-time resolution: turn a creature config into tools, plugins, a format and a model.

Everything a config names is resolved here, when the agent is built, so a typo fails at once
with the key path instead of surfacing in the middle of a turn.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from kt.config import CreatureConfig, PluginEntry, ToolEntry
from kt.config.modules import load_object
from kt.errors import (
    ConfigValidationError,
    LLMNotConfiguredError,
    ModuleLoadError,
    PluginLoadError,
    UnknownNameError,
)
from kt.events import AgentWarning
from kt.formats import NATIVE, ToolFormat
from kt.llm import LLM, LLMProfile
from kt.plugins.kernel import Kernel
from kt.plugins.manager import hookimpl
from kt.tools import ToolSpec, tool

__all__ = ["load_object", "resolve_format", "resolve_llm", "resolve_plugins", "resolve_tools"]

# Tool-entry options the kernel applies itself; anything else goes to ToolSpec.configure.
_GENERIC_TOOL_OPTIONS = {"timeout", "max_output", "concurrency_safe", "background"}


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listed = ", ".join(choices) if choices else "none"
    return f"{hint} Available: {listed}."


def _as_tool_spec(obj: Any, *, path: str, file: str | None) -> ToolSpec:
    if isinstance(obj, ToolSpec):
        return obj
    if inspect.isclass(obj):
        obj = obj()
        if isinstance(obj, ToolSpec):
            return obj
        as_tool = getattr(obj, "as_tool", None)
        if callable(as_tool):
            return as_tool()
    if callable(obj):
        return tool(obj)
    raise ModuleLoadError(
        f"{file + ': ' if file else ''}at '{path}': {obj!r} is not a tool; give a @kt.tool "
        "function, a plain function or a ToolSpec"
    )


def _apply_options(spec: ToolSpec, entry: ToolEntry, *, path: str, file: str | None) -> ToolSpec:
    options = dict(entry.options)
    generic = {k: options.pop(k) for k in list(options) if k in _GENERIC_TOOL_OPTIONS}
    if options:
        configure = getattr(spec, "configure", None)
        if configure is None:
            raise ConfigValidationError(
                f"tool '{spec.name}' takes no options {sorted(options)}; it accepts "
                f"{sorted(_GENERIC_TOOL_OPTIONS)}",
                path=f"{path}.options",
                file=file,
            )
        spec = configure(options)
    if generic:  # after configure: a configured copy must keep the generic options
        spec = attrs.evolve(spec, **generic)
    if entry.name != spec.name:
        spec = attrs.evolve(spec, name=entry.name)
    return spec


def resolve_tools(
    config: CreatureConfig, kernel: Kernel, extra: Sequence[Any]
) -> dict[str, ToolSpec]:
    """Tools named by the config (looked up in the kernel) plus *extra* ones, by name.

    Raises:
        UnknownNameError: a builtin/package tool no plugin provides.
        ModuleLoadError: a custom tool's module or attribute cannot be loaded.
        ConfigValidationError: duplicate names, or options a tool does not take.
    """
    last_file = str(config.files[-1]) if config.files else None
    tools: dict[str, ToolSpec] = {}
    for i, entry in enumerate(config.tools):
        path = f"tools[{i}]"
        file = entry.declared_in or last_file
        if entry.module:
            spec = _as_tool_spec(
                load_object(
                    entry.module,
                    entry.class_name or entry.name,
                    path=path,
                    file=file,
                    folder=config.folder,
                    aliases=kernel.module_aliases(),
                ),
                path=path,
                file=file,
            )
        else:
            spec = kernel.tools.get(entry.name)
            if spec is None:
                raise UnknownNameError(
                    f"unknown tool '{entry.name}'.{_did_you_mean(entry.name, kernel.tools)} "
                    "Install or enable the plugin that provides it (`kt plugins` lists what is "
                    "loaded), or give `module` (and `class`) for a custom tool.",
                    path=f"{path}.name",
                    file=file,
                )
        spec = _apply_options(spec, entry, path=path, file=file)
        if spec.name in tools:
            raise ConfigValidationError(
                f"tool '{spec.name}' is listed twice", path=f"{path}.name", file=file
            )
        tools[spec.name] = spec
    for obj in extra:
        spec = _as_tool_spec(obj, path="tools=", file=None)
        if spec.name in tools:
            raise ConfigValidationError(
                f"tool '{spec.name}' is given twice (config and tools=); rename one",
                path="tools",
                file=last_file,
            )
        tools[spec.name] = spec
    return tools


def resolve_plugins(config: CreatureConfig, kernel: Kernel) -> list[tuple[str, Any]]:
    """The creature's own plugins from ``[[plugins]]``: (name, plugin object) pairs.

    With ``skip_unavailable_plugins``, an entry that cannot load is replaced by a plugin that
    only reports it (an ``AgentWarning`` when the creature starts).

    Raises:
        ModuleLoadError: a ``module`` / ``class`` that cannot be loaded or built.
        UnknownNameError: a bare name that is not an installed plugin.
    """
    loaded = []
    for i, entry in enumerate(config.plugins):
        path = f"plugins[{i}]"
        file = entry.declared_in or (str(config.files[-1]) if config.files else None)
        try:
            plugin = _load_plugin(entry, kernel, path=path, file=file, folder=config.folder)
        except (UnknownNameError, ModuleLoadError) as exc:
            if config.skip_unavailable_plugins:
                plugin = _Unavailable(entry.name, str(exc))
            elif isinstance(exc, UnknownNameError):  # keeps its key path and file
                hinted = f"{exc.message}; {_SKIP_HINT}"
                raise UnknownNameError(hinted, path=exc.path, file=exc.file) from exc
            else:
                raise ModuleLoadError(f"{exc}; {_SKIP_HINT}") from exc
        loaded.append((entry.name, plugin))
    return loaded


_SKIP_HINT = (
    "to run without it, pass --skip-unavailable to kt run (or set "
    "skip_unavailable_plugins = true in the creature's config)"
)


class _Unavailable:
    """Stands in for a plugin that could not load, and says so when the creature starts."""

    def __init__(self, name: str, reason: str) -> None:
        self.kt_plugin_name = f"unavailable:{name}"
        self.reason = reason

    @hookimpl
    async def kt_creature_started(self, creature: Any) -> None:
        await creature.emit(
            AgentWarning(message=f"running without a plugin: {self.reason}", source="kt")
        )


def _load_plugin(
    entry: PluginEntry, kernel: Kernel, *, path: str, file: str | None, folder: Path | None
) -> Any:
    if entry.module:
        obj = load_object(
            entry.module,
            entry.class_name,
            path=path,
            file=file,
            folder=folder,
            aliases=kernel.module_aliases(),
        )
        if inspect.isclass(obj):
            try:
                return obj(**entry.options) if entry.options else obj()
            except Exception as exc:
                raise ModuleLoadError(
                    f"{file + ': ' if file else ''}at '{path}': building plugin "
                    f"'{entry.name}' failed: {type(exc).__name__}: {exc}"
                ) from exc
        return obj
    try:
        return kernel.load_plugin(entry.name)
    except PluginLoadError as exc:
        raise UnknownNameError(str(exc), path=f"{path}.name", file=file) from exc


def resolve_format(config: CreatureConfig, kernel: Kernel) -> ToolFormat:
    """The creature's tool-call format (``native`` unless the config names another).

    Raises:
        UnknownNameError: a format no plugin provides.
    """
    name = config.controller.tool_format
    if name == "native":
        return NATIVE
    spec = kernel.tool_formats.get(name)
    if spec is None:
        raise UnknownNameError(
            f"unknown tool format '{name}'.{_did_you_mean(name, kernel.tool_formats)} Text "
            "formats come from the kt_formats plugin.",
            path="controller.tool_format",
            file=str(config.files[-1]) if config.files else None,
        )
    return spec.factory()


def resolve_controller(config: CreatureConfig, kernel: Kernel) -> Any:
    """The factory of the reasoning loop ``controller.loop`` names (``default`` unless set).

    Raises:
        UnknownNameError: a loop no plugin provides.
    """
    name = config.controller.loop
    spec = kernel.controllers.get(name)
    if spec is None:
        raise UnknownNameError(
            f"unknown controller loop '{name}'.{_did_you_mean(name, kernel.controllers)} "
            "Loops come from plugins (the kt_controllers hook); `kt plugins` lists them.",
            path="controller.loop",
            file=str(config.files[-1]) if config.files else None,
        )
    return spec.factory


def build_profile(profile: LLMProfile, kernel: Kernel) -> LLM:
    """The model *profile* names, built by the backend plugin it names.

    Raises:
        UnknownNameError: no loaded plugin provides the profile's backend.
    """
    spec = kernel.llm_backends.get(profile.backend)
    if spec is None:
        raise UnknownNameError(
            f"model profile '{profile.name}' needs LLM backend '{profile.backend}', which no "
            f"plugin provides.{_did_you_mean(profile.backend, kernel.llm_backends)} "
            "`kt plugins` lists what is loaded.",
            path="controller.llm",
        )
    return spec.factory(profile)


def resolve_llm(
    config: CreatureConfig, kernel: Kernel, *, selector: str | None = None
) -> tuple[LLM, str]:
    """Build the creature's model from ``--llm`` / the config, through a backend plugin.

    Returns:
        The backend instance and the selector it was built from.

    Plugins choose first, through ``kt_resolve_llm`` (presets, aliases, stored keys, user
    defaults); the parsing below is the fallback when none of them returns a profile.

    Raises:
        LLMNotConfiguredError: nothing selects a model; the message says how to choose one.
        UnknownNameError: the selector names a backend no plugin provides.
    """
    chosen = kernel.pm.hook.kt_resolve_llm(selector=selector, creature=config, kernel=kernel)
    if chosen is not None:
        return build_profile(chosen, kernel), chosen.name
    controller = config.controller
    base_dir = None if selector else config.folder
    selector = selector or controller.llm
    if not selector and controller.provider:
        selector = f"{controller.provider}/{controller.model or ''}"
    if not selector:
        backends = ", ".join(sorted(kernel.llm_backends)) or "none"
        raise LLMNotConfiguredError(
            f"no model is configured for creature '{config.name}'. Pass llm= to Agent.build, set "
            '`llm = "BACKEND/MODEL"` in the creature\'s [controller] table, or run with '
            f"--llm BACKEND/MODEL (installed backends: {backends}; `--llm scripted:FILE` plays "
            "a reply file offline)."
        )
    # "openai/gpt-4o", "scripted:replies.toml": a ':' comes first, so a path may hold '/'
    backend, _, model = selector.partition(":" if ":" in selector else "/")
    spec = kernel.llm_backends.get(backend)
    if spec is None:
        raise UnknownNameError(
            f"unknown LLM backend '{backend}' in '{selector}'."
            f"{_did_you_mean(backend, kernel.llm_backends)} Backends come from plugins such as "
            "kt_openai; `kt plugins` lists what is loaded.",
            path="controller.llm",
        )
    profile = LLMProfile(
        name=selector,
        backend=backend,
        model=model or controller.model or "",
        base_url=controller.base_url,
        api_key_env=controller.api_key_env,
        options=request_options(config),
        base_dir=base_dir,
    )
    return spec.factory(profile), selector


def request_options(config: CreatureConfig) -> Mapping[str, Any]:
    c = config.controller
    options = {
        "temperature": c.temperature,
        "max_tokens": c.max_tokens,
        "reasoning_effort": c.reasoning_effort,
        "service_tier": c.service_tier,
        "extra_body": dict(c.extra_body) or None,
    }
    return {k: v for k, v in options.items() if v is not None}
