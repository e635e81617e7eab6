"""Creature configs: read a file (or a dict), resolve its ``base_config`` chain, validate it.

A creature is described by one file in its folder: ``creature.toml`` (canonical), or
``config.toml`` / ``config.yaml`` / ``config.yml`` / ``config.json``. :func:`load_creature_config`
turns that file into a frozen :class:`CreatureConfig` in four steps:

1. **Read** each file of the chain: TOML with ``tomlkit``, YAML with PyYAML (the ``yaml`` extra,
   imported only when a YAML file is read), JSON with the standard library.
2. **Interpolate** ``${VAR}`` / ``${VAR:default}`` in every string value of that file, before
   anything is merged, so a base file sees its own defaults.
3. **Inherit**: ``base_config`` names a parent (``@pack/path``, a relative path, or a bare
   ``creatures/<name>`` looked up in the parent folders); grand-parents merge first. Scalars: the
   child wins; tables: shallow merge; ``tools`` / ``subagents`` / ``plugins`` / ``mcp_servers`` /
   ``triggers``: merged by ``name``; other lists: the child replaces. Every
   ``system_prompt_file`` along the chain is read, and the texts are concatenated base first.
4. **Validate** with cattrs into the attrs classes below. Strings coming from interpolation are
   coerced to the field's type (``"8080"`` into an ``int`` works, ``"abc"`` does not). Every
   problem is reported at once, in one :class:`~kt.errors.ConfigValidationError` whose message
   names each key path (``tools[2].name``, ``controller.temperature``).

``docs/reference/config.md`` is the user-facing reference for every key.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import attrs

from kt.errors import (
    ConfigError,
    ConfigNotFoundError,
    ConfigValidationError,
    InterpolationError,
)

__all__ = [
    "CONFIG_FILE_NAMES",
    "DEFAULT_SYSTEM_PROMPT",
    "CompactConfig",
    "ControllerConfig",
    "CreatureConfig",
    "MCPServerEntry",
    "ModuleEntry",
    "OutputEntry",
    "PluginEntry",
    "StartupTrigger",
    "SubAgentEntry",
    "TerminationConfig",
    "ToolEntry",
    "TriggerEntry",
    "WiringEntry",
    "find_config_file",
    "load_creature_config",
    "module_entry",
]

CONFIG_FILE_NAMES: tuple[str, ...] = (
    "creature.toml",
    "config.toml",
    "config.yaml",
    "config.yml",
    "config.json",
)
"""The files looked for in a creature folder, in this order; the first that exists wins."""

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
"""The system prompt of a creature whose chain sets neither a prompt file nor an inline prompt."""


# -- Value checks -------------------------------------------------------------------------------
# attrs validators run inside cattrs' structuring. They raise _FieldValueError so that the error
# walker can add the field name to the key path (cattrs only notes the path of type errors).


class _ValueProblem(ValueError):
    """A value cannot be used; the message is written for the user."""


class _FieldValueError(_ValueProblem):
    """A value failed an attrs validator of field *field*."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _at_least(minimum: float) -> Callable[[Any, attrs.Attribute, Any], None]:
    def check(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None and value < minimum:
            raise _FieldValueError(attribute.name, f"must be at least {minimum}, got {value!r}")

    return check


def _above(minimum: float) -> Callable[[Any, attrs.Attribute, Any], None]:
    def check(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None and value <= minimum:
            raise _FieldValueError(attribute.name, f"must be above {minimum}, got {value!r}")

    return check


def _fraction(_instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0 < value <= 1:
        message = f"must be a fraction in (0, 1], got {value!r}; e.g. 0.8 for 80%"
        raise _FieldValueError(attribute.name, message)


def _not_empty(_instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not value.strip():
        raise _FieldValueError(attribute.name, "must not be empty")


def _zero_means_none(value: float | None) -> float | None:
    # TOML has no null, so "no timeout" is spelled 0; the runtime sees None.
    return None if value == 0 else value


# -- The schema ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ControllerConfig:
    """How the creature talks to its model, and the limits of one controller loop.

    Every key may also be written at the top level of the config (``model = "..."``); giving
    the same key both at the top level and in ``[controller]`` of one file is an error.

    Attributes:
        llm: Name of an LLM profile (``kt model`` profiles); resolved by the runtime.
        model: Model identifier sent to the provider.
        provider: Backend name (``openai``, ``anthropic``, ``gemini``, ...).
        base_url: Endpoint of an OpenAI-compatible (or other) server.
        api_key_env: Environment variable holding the API key.
        auth_mode: Provider-specific authentication mode.
        variation: Named variation of the profile (e.g. a reasoning preset).
        temperature: Sampling temperature; ``None`` leaves the provider default.
        max_tokens: Output token limit per model call.
        reasoning_effort: ``"low"`` / ``"medium"`` / ``"high"`` ..., for models that reason.
        service_tier: Provider service tier.
        extra_body: Extra JSON fields merged into each request body.
        retry_policy: Backend retry settings (attempts, backoff ...), read by the backend.
        tool_format: How tool calls are written: ``"native"`` or a text format such as
            ``"bracket"`` / ``"xml"`` (provided by plugins).
        max_messages: Keep at most this many history messages per request; 0 = all.
        ephemeral: Forget the conversation after each turn.
        tool_timeout: Seconds a tool may run; ``0`` (stored as ``None``) = no limit.
        tool_max_output: UTF-8 bytes of tool output fed back to the model; 0 = no cap.
        turn_timeout: Seconds a whole turn may run; ``None`` = no limit.
    """

    llm: str | None = None
    model: str | None = None
    provider: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    auth_mode: str | None = None
    variation: str | None = None
    temperature: float | None = attrs.field(default=None, validator=_at_least(0))
    max_tokens: int | None = attrs.field(default=None, validator=_at_least(1))
    reasoning_effort: str | None = None
    service_tier: str | None = None
    extra_body: Mapping[str, Any] = attrs.field(factory=dict)
    retry_policy: Mapping[str, Any] = attrs.field(factory=dict)
    tool_format: str = attrs.field(default="native", validator=_not_empty)
    max_messages: int = attrs.field(default=0, validator=_at_least(0))
    ephemeral: bool = False
    tool_timeout: float | None = attrs.field(
        default=120.0, converter=_zero_means_none, validator=_at_least(0)
    )
    tool_max_output: int = attrs.field(default=65536, validator=_at_least(0))
    turn_timeout: float | None = attrs.field(default=None, validator=_above(0))


@attrs.frozen(kw_only=True)
class ToolEntry:
    """One tool the creature gets.

    Attributes:
        name: The tool's name (what the model calls).
        type: ``"builtin"`` (from a plugin's registry), ``"trigger"`` (a setup-able trigger
            exposed as a tool), ``"custom"`` (``module`` + ``class``), or a plugin-defined kind.
        module: Import path for a custom tool.
        class_name: Class (or factory) in ``module``; written ``class`` or ``class_name``.
        doc: Documentation override shown to the model.
        options: Every other key of the entry, plus an explicit ``options`` table.
    """

    name: str
    type: str = "builtin"
    module: str | None = None
    class_name: str | None = None
    doc: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class SubAgentEntry:
    """One sub-agent the creature may start.

    Attributes:
        name: The sub-agent's name (what the model calls).
        type: ``"builtin"``, ``"custom"`` or a plugin-defined kind.
        module: Import path for a custom sub-agent.
        class_name: Class in ``module``; written ``class`` or ``class_name``.
        config: Path (absolute once loaded) or ``@pack/path`` of the sub-agent's own config.
        description: One line shown to the parent model.
        tools: Tool names the sub-agent may use; ``None`` = its own default set.
        options: Every other key of the entry (``can_modify``, ``interactive``, ...).
    """

    name: str
    type: str = "builtin"
    module: str | None = None
    class_name: str | None = None
    config: str | None = None
    description: str | None = None
    tools: tuple[str, ...] | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class TriggerEntry:
    """One trigger that wakes the creature without user input.

    Attributes:
        type: ``"timer"``, ``"schedule"``, ``"channel"``, ``"webhook"``, ``"custom"``, ...
        name: Optional name; named triggers merge by name across ``base_config``.
        prompt: The text delivered to the creature when the trigger fires.
        module: Import path for a custom trigger.
        class_name: Class in ``module``; written ``class`` or ``class_name``.
        options: Every other key of the entry (``interval``, ``cron``, ...).
    """

    type: str
    name: str | None = None
    prompt: str | None = None
    module: str | None = None
    class_name: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class PluginEntry:
    """A plugin registered for this creature only.

    Attributes:
        name: An entry-point name in ``kt.plugins``, or any label when ``module`` is given.
        type: ``"package"`` (entry point / ``module``), or a plugin-defined kind.
        module: Import path of the plugin module.
        class_name: Class in ``module``; written ``class`` or ``class_name``.
        description: One line for listings.
        options: Every other key of the entry, plus an explicit ``options`` table.
    """

    name: str
    type: str = "package"
    module: str | None = None
    class_name: str | None = None
    description: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class MCPServerEntry:
    """An MCP server whose tools the creature can use.

    Attributes:
        name: Label of the server; tools are namespaced by it.
        transport: ``"stdio"``, ``"streamable_http"``, ``"http"`` or ``"sse"``.
        command: Program to start (stdio).
        args: Its arguments.
        env: Extra environment for the program.
        cwd: Working directory for the program.
        url: Endpoint (HTTP transports).
        headers: HTTP headers (HTTP transports).
        options: Every other key of the entry.
    """

    name: str
    transport: str = "stdio"
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = attrs.field(factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ModuleEntry:
    """An input module (or one named output): where user events come from.

    Attributes:
        type: ``"cli"``, ``"tui"``, ``"none"``, ``"custom"``, ... (provided by plugins).
        module: Import path for a custom module.
        class_name: Class in ``module``; written ``class`` or ``class_name``.
        options: Every other key (``prompt``, ...).
    """

    type: str
    module: str | None = None
    class_name: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class OutputEntry:
    """The output module: where the creature's text goes.

    Attributes:
        type: ``"stdout"``, ``"tui"``, ``"custom"``, ... (provided by plugins).
        module: Import path for a custom module.
        class_name: Class in ``module``; written ``class`` or ``class_name``.
        controller_direct: Stream the controller's text straight to this output.
        named_outputs: Extra outputs the model can address by name.
        options: Every other key.
    """

    type: str
    module: str | None = None
    class_name: str | None = None
    controller_direct: bool = True
    named_outputs: Mapping[str, ModuleEntry] = attrs.field(factory=dict)
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class CompactConfig:
    """When and how the conversation is compacted.

    Attributes:
        enabled: Compact automatically.
        max_tokens: Context size compaction measures against; ``None`` = the model's window.
        threshold: Compact when the prompt uses more than this fraction of ``max_tokens``.
        target: Fraction of ``max_tokens`` to shrink to; must be below ``threshold``.
        keep_recent_turns: Turns kept verbatim after compaction.
        cooldown_seconds: Minimum time between two compactions.
        compact_model: Model (or profile) for the summariser; ``None`` = the creature's.
    """

    enabled: bool = True
    max_tokens: int | None = attrs.field(default=None, validator=_at_least(1))
    threshold: float = attrs.field(default=0.8, validator=_fraction)
    target: float = attrs.field(default=0.4, validator=_fraction)
    keep_recent_turns: int = attrs.field(default=8, validator=_at_least(0))
    cooldown_seconds: float = attrs.field(default=30.0, validator=_at_least(0))
    compact_model: str | None = None

    @target.validator
    def _target_below_threshold(self, attribute: attrs.Attribute, value: float) -> None:
        if value >= self.threshold:
            message = (
                f"must be below compact.threshold ({self.threshold}), got {value!r}; "
                "compaction would otherwise run again at once"
            )
            raise _FieldValueError(attribute.name, message)


@attrs.frozen(kw_only=True)
class TerminationConfig:
    """When a run stops by itself. ``None`` means no limit.

    Attributes:
        max_turns: Stop after this many turns.
        max_tokens: Stop once this many tokens were used.
        max_duration: Stop after this many seconds.
        idle_timeout: Stop after this many seconds without an event.
        keywords: Stop when the model's reply contains one of these.
    """

    max_turns: int | None = attrs.field(default=None, validator=_at_least(1))
    max_tokens: int | None = attrs.field(default=None, validator=_at_least(1))
    max_duration: float | None = attrs.field(default=None, validator=_above(0))
    idle_timeout: float | None = attrs.field(default=None, validator=_above(0))
    keywords: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class StartupTrigger:
    """A prompt delivered once when the creature starts.

    Attributes:
        prompt: The text of the startup event.
    """

    prompt: str


@attrs.frozen(kw_only=True)
class WiringEntry:
    """Where a creature's turn-end output goes in a terrarium (a bare string is ``to``).

    Attributes:
        to: Name of the receiving creature (or ``root``).
        with_content: Deliver the text; ``False`` sends a bare lifecycle ping.
        prompt: Text wrapped around the delivered output.
        prompt_format: ``"simple"`` (``{content}`` placeholders) or ``"jinja"``.
    """

    to: str
    with_content: bool = True
    prompt: str | None = None
    prompt_format: Literal["simple", "jinja"] = "simple"


@attrs.frozen(kw_only=True)
class CreatureConfig:
    """A creature's validated config, with its whole ``base_config`` chain merged in.

    Attributes:
        name: The creature's name; defaults to its folder's name (``"creature"`` for a dict).
            Not inherited from a base.
        version: Informational.
        description: One line for listings.
        folder: The creature folder (a dict source: ``base_dir``, or ``None``).
        files: Every config file of the chain, base first.
        system_prompt: The assembled prompt: prompt files base→child, then the inline prompt.
        system_prompt_files: The prompt files that went into ``system_prompt``, in order.
        prompt_context_files: Template variable → content of the file it names.
        controller: Model and loop settings.
        input: The input module, or ``None`` for the runtime's default.
        output: The output module, or ``None`` for the runtime's default.
        tools: Tools, in order.
        subagents: Sub-agents, in order.
        triggers: Triggers, in order.
        plugins: Per-creature plugins, in order.
        mcp_servers: MCP servers, in order.
        compact: Compaction settings.
        termination: When a run stops by itself.
        startup_trigger: A prompt fired once at start.
        max_iterations: Model calls per turn, shared with inheriting sub-agents (at least 1).
        max_subagent_depth: How deep sub-agents may nest; 0 = unlimited.
        memory: Memory settings (``embedding = {provider, model}``).
        output_wiring: Terrarium only: where turn-end output goes.
        skills: Package skills to enable; ``"*"`` = all.
        skill_mode: ``"dynamic"`` (tool index in the prompt) or ``"static"`` (full docs).
        skill_index_budget_bytes: Size limit of the skill index in the prompt.
        include_tools_in_prompt: List tools in the system prompt.
        include_hints_in_prompt: Add the framework's hint blocks to the system prompt.
        framework_hint_overrides: Hint key → replacement text (``""`` removes the block);
            written ``framework_hint_overrides`` or ``framework_hints``.
        session_key: Share one session between creatures; ``None`` = the name.
        default_plugins: Plugin packs switched on by default.
    """

    name: str
    version: str = "1.0"
    description: str = ""
    folder: Path | None = None
    files: tuple[Path, ...] = ()
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    system_prompt_files: tuple[Path, ...] = ()
    prompt_context_files: Mapping[str, str] = attrs.field(factory=dict)
    controller: ControllerConfig = attrs.field(factory=ControllerConfig)
    input: ModuleEntry | None = None
    output: OutputEntry | None = None
    tools: tuple[ToolEntry, ...] = ()
    subagents: tuple[SubAgentEntry, ...] = ()
    triggers: tuple[TriggerEntry, ...] = ()
    plugins: tuple[PluginEntry, ...] = ()
    mcp_servers: tuple[MCPServerEntry, ...] = ()
    compact: CompactConfig = attrs.field(factory=CompactConfig)
    termination: TerminationConfig = attrs.field(factory=TerminationConfig)
    startup_trigger: StartupTrigger | None = None
    max_iterations: int = attrs.field(default=50, validator=_at_least(1))
    max_subagent_depth: int = attrs.field(default=3, validator=_at_least(0))
    memory: Mapping[str, Any] = attrs.field(factory=dict)
    output_wiring: tuple[WiringEntry, ...] = ()
    skills: tuple[str, ...] = ()
    skill_mode: Literal["dynamic", "static"] = "dynamic"
    skill_index_budget_bytes: int = attrs.field(default=4096, validator=_at_least(0))
    include_tools_in_prompt: bool = True
    include_hints_in_prompt: bool = True
    framework_hint_overrides: Mapping[str, str] = attrs.field(factory=dict)
    session_key: str | None = None
    default_plugins: tuple[str, ...] = ()


# -- Public API ---------------------------------------------------------------------------------


def load_creature_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    base_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    resolve_ref: Callable[[str], Path | None] | None = None,
) -> CreatureConfig:
    """Load, inherit, interpolate and validate one creature config.

    Args:
        source: A creature folder, a config file, an ``@pack/path`` reference, or the config
            itself as a mapping (same keys and semantics as a file).
        base_dir: For a mapping source: the folder relative paths (``base_config``, prompt
            files) resolve against, and the resulting ``folder``. ``None``: the current
            directory for paths, and ``folder`` is ``None``. Ignored for file sources.
        env: Variables for ``${VAR}`` interpolation. ``None``: ``os.environ``.
        resolve_ref: Turns an ``@pack/path`` reference (passed whole, ``@`` included) into a
            folder or file, or ``None`` when it does not know it. The kernel passes its
            ``kt_resolve_ref`` hook here. ``None``: references cannot be loaded.

    Returns:
        The merged, validated config.

    Raises:
        ConfigNotFoundError: The source, a ``base_config`` target or a prompt file is missing,
            or an ``@`` reference cannot be resolved.
        InterpolationError: A ``${...}`` reference is malformed.
        ConfigValidationError: Unknown keys, wrong types or bad values; every problem is
            listed, ``.path`` is the first one's key path.
        ConfigError: A file cannot be read or parsed, or ``base_config`` forms a cycle.
    """
    loader = _ChainLoader(
        env=os.environ if env is None else env,
        resolve_ref=resolve_ref,
    )
    if isinstance(source, Mapping):
        folder = Path(base_dir).resolve() if base_dir is not None else None
        chain = loader.load_mapping(
            dict(source), folder=folder or Path.cwd().resolve(), file=None, stack=()
        )
        return _build_creature_config(chain, folder=folder, default_name="creature", file=None)
    config_file = loader.locate(source, key="", file=None)
    chain = loader.load_file(config_file, stack=())
    return _build_creature_config(
        chain, folder=config_file.parent, default_name=config_file.parent.name, file=config_file
    )


def module_entry(value: str | Mapping[str, Any], *, output: bool = False) -> Any:
    """An input (or, with *output*, output) module entry from a name or a config table.

    ``"cli"`` and ``{"type": "cli", "prompt": "> "}`` are what ``input =`` accepts in a
    config; extra keys go to ``options``.

    Raises:
        ConfigValidationError: the table is not a valid entry (the message names the key).
    """
    cls = OutputEntry if output else ModuleEntry
    data = {"type": value} if isinstance(value, str) else dict(value)
    return _structure(_prepare_entry(data, cls), cls, file=None)


def find_config_file(path: Path) -> Path:
    """Return the config file of a creature folder, or *path* itself when it is a file.

    Args:
        path: A creature folder or a config file.

    Returns:
        The first of :data:`CONFIG_FILE_NAMES` that exists in the folder, or *path*.

    Raises:
        ConfigNotFoundError: *path* does not exist, or the folder holds none of the names.
    """
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        for name in CONFIG_FILE_NAMES:
            candidate = path / name
            if candidate.is_file():
                return candidate
        raise ConfigNotFoundError(
            f"no creature config in folder {path}; create one of "
            f"{', '.join(CONFIG_FILE_NAMES)} (creature.toml is the canonical name)"
        )
    raise ConfigNotFoundError(f"{path} does not exist; pass a creature folder or its config file")


# -- Keys ---------------------------------------------------------------------------------------

_IDENTITY_LISTS = ("tools", "subagents", "plugins", "mcp_servers", "triggers")
"""Lists merged by entry ``name`` across the chain; other lists are replaced by the child."""

_SHORTHAND_KEY = {
    "tools": "name",
    "subagents": "name",
    "plugins": "name",
    "mcp_servers": "name",
    "triggers": "type",
    "output_wiring": "to",
}
"""A bare string in one of these lists stands for ``{key: string}``."""

_INHERITANCE_KEYS = ("base_config", "no_inherit", "prompt_mode")
"""Consumed while loading one file; never passed on to descendants."""

_COMPUTED_FIELDS = ("folder", "files", "system_prompt_files")

_CONTROLLER_FIELDS = tuple(field.name for field in attrs.fields(ControllerConfig))

_PROMPT_SWITCHES = ("skill_mode", "include_tools_in_prompt", "include_hints_in_prompt")
"""Top-level keys that are also accepted inside ``[controller]``."""

_ALIASES = {"framework_hints": "framework_hint_overrides"}

_TOP_LEVEL_KEYS = frozenset(
    {f.name for f in attrs.fields(CreatureConfig)} - set(_COMPUTED_FIELDS)
    | {"system_prompt_file", *_INHERITANCE_KEYS, *_CONTROLLER_FIELDS, *_ALIASES}
)
_CONTROLLER_KEYS = frozenset({*_CONTROLLER_FIELDS, *_PROMPT_SWITCHES})
_STRICT_SECTIONS = {
    "controller": _CONTROLLER_KEYS,
    "compact": frozenset(f.name for f in attrs.fields(CompactConfig)),
    "termination": frozenset(f.name for f in attrs.fields(TerminationConfig)),
}
_ENTRY_CLASSES: dict[str, type] = {
    "tools": ToolEntry,
    "subagents": SubAgentEntry,
    "triggers": TriggerEntry,
    "plugins": PluginEntry,
    "mcp_servers": MCPServerEntry,
}
_MODULE_SHORTHAND = ("input", "output")
"""A bare string for these stands for ``{type: string}``."""


# -- Loading a chain ----------------------------------------------------------------------------


@attrs.define
class _Chain:
    """A config merged with all its bases, before validation."""

    data: dict[str, Any]
    files: list[Path]
    folders: list[Path]  # folder of every config in the chain, base first
    prompt_files: list[Path]  # resolved system_prompt_file of every config, base first


@attrs.define
class _ChainLoader:
    """Loads one config and its ``base_config`` ancestors (one loader per public call)."""

    env: Mapping[str, str]
    resolve_ref: Callable[[str], Path | None] | None

    def locate(self, source: str | os.PathLike[str], *, key: str, file: Path | None) -> Path:
        """Turn a path or an ``@`` reference into an existing config file."""
        text = os.fspath(source)
        if text.startswith("@"):
            located = self._locate_config(self._resolve_reference(text, key=key, file=file))
        else:
            located = self._locate_config(Path(text).expanduser())
        return located

    def load_file(self, config_file: Path, *, stack: tuple[Path, ...]) -> _Chain:
        raw = _read_config_file(config_file)
        return self.load_mapping(raw, folder=config_file.parent, file=config_file, stack=stack)

    def load_mapping(
        self,
        raw: dict[str, Any],
        *,
        folder: Path,
        file: Path | None,
        stack: tuple[Path, ...],
    ) -> _Chain:
        data = _normalise_layer(_interpolate(raw, self.env, file=file), file=file)
        base_ref = data.pop("base_config", None)
        no_inherit = _read_no_inherit(data.pop("no_inherit", None), file=file)
        prompt_mode = data.pop("prompt_mode", None)
        if prompt_mode not in (None, "concat", "replace"):
            raise ConfigValidationError(
                f"prompt_mode must be 'concat' or 'replace', got {prompt_mode!r}",
                path="prompt_mode",
                file=_name(file),
            )
        if prompt_mode == "replace":
            no_inherit |= {"system_prompt_file", "system_prompt"}

        base = self._load_base(base_ref, folder=folder, file=file, stack=stack)
        base_data = {k: v for k, v in base.data.items() if k != "name"}  # a name is not inherited
        _drop_inherited(base_data, no_inherit)
        prompt_files = [] if "system_prompt_file" in no_inherit else list(base.prompt_files)

        search_folders = [folder, *reversed(base.folders)]
        prompt_file = data.pop("system_prompt_file", None)
        if prompt_file is not None:
            resolved = self._find_relative(
                prompt_file, search_folders, key="system_prompt_file", file=file
            )
            if resolved not in prompt_files:
                prompt_files.append(resolved)
        self._resolve_layer_paths(data, search_folders, file=file)

        return _Chain(
            data=_merge(base_data, data),
            files=[*base.files, *([file] if file else [])],
            folders=[*base.folders, folder],
            prompt_files=prompt_files,
        )

    def _load_base(
        self, base_ref: Any, *, folder: Path, file: Path | None, stack: tuple[Path, ...]
    ) -> _Chain:
        if base_ref is None or base_ref == "":
            return _Chain(data={}, files=[], folders=[], prompt_files=[])
        if not isinstance(base_ref, str):
            raise ConfigValidationError(
                f"base_config must be a string (a path or @pack/path), got {_describe(base_ref)}",
                path="base_config",
                file=_name(file),
            )
        base_file = self._locate_base(base_ref, folder=folder, file=file)
        chain = [*stack, *([file.resolve()] if file else [])]
        if base_file.resolve() in chain:
            names = " -> ".join(str(p) for p in [*chain, base_file.resolve()])
            raise ConfigError(
                f"base_config forms a cycle: {names}; remove base_config from one of these files",
                path="base_config",
                file=_name(file),
            )
        return self.load_file(base_file, stack=tuple(chain))

    def _locate_base(self, base_ref: str, *, folder: Path, file: Path | None) -> Path:
        if base_ref.startswith("@"):
            return self.locate(base_ref, key="base_config", file=file)
        relative = Path(base_ref).expanduser()
        candidates = [folder / relative]
        if not relative.is_absolute() and relative.parts[:1] == ("creatures",):
            # A bare creatures/<name> names a creature of the surrounding pack or project.
            candidates += [parent / relative for parent in folder.parents]
        for candidate in candidates:
            if candidate.exists():
                return self._locate_config(candidate, key="base_config", file=file)
        raise ConfigNotFoundError(
            f"base_config {base_ref!r} not found (looked for {candidates[0]}); fix the path, "
            "or use @pack/path for a creature from an installed pack",
            path="base_config",
            file=_name(file),
        )

    def _locate_config(self, path: Path, *, key: str = "", file: Path | None = None) -> Path:
        try:
            return find_config_file(path).resolve()
        except ConfigNotFoundError as error:
            if not key:
                raise
            raise ConfigNotFoundError(error.message, path=key, file=_name(file)) from None

    def _resolve_reference(self, ref: str, *, key: str, file: Path | None) -> Path:
        resolved = self.resolve_ref(ref) if self.resolve_ref is not None else None
        if resolved is None:
            pack = ref[1:].split("/", 1)[0]
            raise ConfigNotFoundError(
                f"no package resolver knows {ref!r}; install the pack with `kt install {pack}` "
                "(or pass resolve_ref= when loading from Python)",
                path=key,
                file=_name(file),
            )
        return Path(resolved)

    def _find_relative(
        self, value: Any, folders: list[Path], *, key: str, file: Path | None
    ) -> Path:
        """Resolve a path named by a config: the naming config's folder first, then its bases."""
        if not isinstance(value, str) or not value:
            raise ConfigValidationError(
                f"expected a file path, got {_describe(value)}", path=key, file=_name(file)
            )
        if value.startswith("@"):
            resolved = self._resolve_reference(value, key=key, file=file)
            if resolved.is_file():
                return resolved.resolve()
            candidates = [resolved]
        else:
            relative = Path(value).expanduser()
            candidates = [folder / relative for folder in folders]
            for candidate in candidates:
                if candidate.is_file():
                    return candidate.resolve()
        raise ConfigNotFoundError(
            f"file {value!r} not found (looked in {', '.join(str(c) for c in candidates)}); "
            "create it or fix the path (relative paths start at the config's folder)",
            path=key,
            file=_name(file),
        )

    def _resolve_layer_paths(
        self, data: dict[str, Any], folders: list[Path], *, file: Path | None
    ) -> None:
        # Paths are made absolute here, where the folder of the naming config is known.
        context_files = data.get("prompt_context_files")
        if isinstance(context_files, Mapping):
            data["prompt_context_files"] = {
                var: str(
                    self._find_relative(
                        value, folders, key=f"prompt_context_files.{var}", file=file
                    )
                )
                for var, value in context_files.items()
            }
        subagents = data.get("subagents")
        if isinstance(subagents, list):
            for entry in subagents:
                config = entry.get("config") if isinstance(entry, dict) else None
                if isinstance(config, str) and config and not config.startswith("@"):
                    entry["config"] = str(folders[0] / Path(config).expanduser())


def _read_no_inherit(value: Any, *, file: Path | None) -> set[str]:
    if value is None:
        return set()
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise ConfigValidationError(
            f'no_inherit must be a list of key names, e.g. no_inherit = ["tools"]; '
            f"got {_describe(value)}",
            path="no_inherit",
            file=_name(file),
        )
    unknown = [key for key in value if key not in _TOP_LEVEL_KEYS]
    if unknown:
        raise ConfigValidationError(
            "; ".join(_unknown_key_message(key, _TOP_LEVEL_KEYS) for key in unknown),
            path=f"no_inherit[{value.index(unknown[0])}]",
            file=_name(file),
        )
    return {_ALIASES.get(key, key) for key in value}


def _drop_inherited(base_data: dict[str, Any], no_inherit: set[str]) -> None:
    for key in no_inherit:
        if key in _CONTROLLER_FIELDS:
            controller = base_data.get("controller")
            if isinstance(controller, dict):
                base_data["controller"] = {k: v for k, v in controller.items() if k != key}
        base_data.pop(key, None)


# -- Reading files ------------------------------------------------------------------------------


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the config: {error}", file=str(path)) from error
    suffix = path.suffix.lower()
    if suffix == ".toml":
        data = _parse_toml(text, path)
    elif suffix in (".yaml", ".yml"):
        data = _parse_yaml(text, path)
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"invalid JSON: {error}", file=str(path)) from error
    else:
        raise ConfigError(
            f"unsupported config format {suffix!r}; use .toml (canonical), .yaml or .json",
            file=str(path),
        )
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigValidationError(
            f"the config must be a table of keys, got {_describe(data)}", file=str(path)
        )
    return data


def _parse_toml(text: str, path: Path) -> Any:
    import tomlkit  # only configs need it; keeps `import kt` light
    from tomlkit.exceptions import ParseError

    try:
        return tomlkit.parse(text).unwrap()
    except ParseError as error:
        raise ConfigError(f"invalid TOML: {error}", file=str(path)) from error


def _parse_yaml(text: str, path: Path) -> Any:
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            "reading YAML configs needs PyYAML; install it with "
            "`pip install 'kt-terrarium[yaml]'` or convert the file to creature.toml",
            file=str(path),
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"invalid YAML: {error}", file=str(path)) from error


# -- Interpolation ------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<body>[^{}]*)\}|\$\{")
"""Three alternatives, tried in order: the ``$${`` escape, a closed reference, a stray ``${``."""


def _interpolate(value: Any, env: Mapping[str, str], *, file: Path | None, path: str = "") -> Any:
    """Substitute ``${VAR}`` / ``${VAR:default}`` in every string value (not in keys)."""
    if isinstance(value, str):
        return _interpolate_string(value, env, file=file, path=path)
    if isinstance(value, dict):
        return {
            key: _interpolate(item, env, file=file, path=_join_key(path, key))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):  # a Python caller may write a tuple for a list
        return [
            _interpolate(item, env, file=file, path=f"{path}[{index}]")
            for index, item in enumerate(value)
        ]
    return value


def _interpolate_string(text: str, env: Mapping[str, str], *, file: Path | None, path: str) -> str:
    if "${" not in text:
        return text

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        body = match.group("body")
        if body is None:
            raise InterpolationError(
                f"unclosed or nested '${{' in {text!r}; write ${{VAR}} or ${{VAR:default}} "
                "(nesting is not supported; write $${ for a literal '${')",
                path=path,
                file=_name(file),
            )
        name, has_default, default = body.partition(":")
        if not _NAME.fullmatch(name):
            raise InterpolationError(
                f"malformed reference '${{{body}}}' in {text!r}; a variable name is letters, "
                "digits and '_' (not starting with a digit), e.g. ${MODEL:gpt-4o}",
                path=path,
                file=_name(file),
            )
        if name in env:
            return env[name]
        return default if has_default else ""

    return _REFERENCE.sub(substitute, text)


# -- Normalising one file -----------------------------------------------------------------------


def _normalise_layer(data: dict[str, Any], *, file: Path | None) -> dict[str, Any]:
    """Check one file's keys and bring aliases and shorthands into their canonical form.

    Done per file, before merging, so that a base written one way and a child written the
    other way still merge key by key (and entry by entry).
    """
    problems: list[tuple[str, str]] = []
    for key in data:
        if key not in _TOP_LEVEL_KEYS:
            problems.append((str(key), _unknown_key_message(key, _TOP_LEVEL_KEYS)))
    for section, accepted in _STRICT_SECTIONS.items():
        table = data.get(section)
        if isinstance(table, dict):
            for key in table:
                if key not in accepted:
                    message = _unknown_key_message(key, accepted)
                    problems.append((f"{section}.{key}", message))
    _raise_problems(problems, file=file)

    data = dict(data)
    for alias, canonical in _ALIASES.items():
        if alias in data:
            _move_key(data, alias, data, canonical, problems, where=("", ""))
    controller = data.get("controller")
    controller = dict(controller) if isinstance(controller, dict) else controller
    top_level_controller = {key: data[key] for key in _CONTROLLER_FIELDS if key in data}
    if top_level_controller:
        if controller is None:
            controller = {}
        if isinstance(controller, dict):
            for key in top_level_controller:
                _move_key(data, key, controller, key, problems, where=("", "controller."))
    if isinstance(controller, dict):
        for key in _PROMPT_SWITCHES:
            if key in controller:
                _move_key(controller, key, data, key, problems, where=("controller.", ""))
    if controller is not None:
        data["controller"] = controller
    _raise_problems(problems, file=file)

    for key, entry_key in _SHORTHAND_KEY.items():
        entries = data.get(key)
        if isinstance(entries, list):
            data[key] = [
                {entry_key: entry} if isinstance(entry, str) else entry for entry in entries
            ]
    for key in _MODULE_SHORTHAND:
        if isinstance(data.get(key), str):
            data[key] = {"type": data[key]}
    if isinstance(data.get("startup_trigger"), str):
        data["startup_trigger"] = {"prompt": data["startup_trigger"]}
    return data


def _move_key(
    source: dict[str, Any],
    key: str,
    target: dict[str, Any],
    target_key: str,
    problems: list[tuple[str, str]],
    *,
    where: tuple[str, str],
) -> None:
    value = source.pop(key)
    if target_key in target and value is not None and target[target_key] is not None:
        from_path, to_path = f"{where[0]}{key}", f"{where[1]}{target_key}"
        problems.append(
            (from_path, f"given both as '{from_path}' and as '{to_path}'; keep only one of them")
        )
        return
    if value is not None or target_key not in target:
        target[target_key] = value


# -- Merging ------------------------------------------------------------------------------------


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Merge one child layer over its (already merged) base, following §10.2 of the notes."""
    merged = dict(base)
    for key, value in child.items():
        if value is None:  # null means "not set": the base value stays
            continue
        inherited = merged.get(key)
        if key in _IDENTITY_LISTS and isinstance(value, list) and isinstance(inherited, list):
            merged[key] = _merge_by_name(inherited, value)
        elif isinstance(value, dict) and isinstance(inherited, dict):
            merged[key] = {
                **inherited,
                **{k: v for k, v in value.items() if v is not None},
            }
        else:
            merged[key] = value
    return merged


def _merge_by_name(base: list[Any], child: list[Any]) -> list[Any]:
    merged = list(base)
    position = {
        entry["name"]: index
        for index, entry in enumerate(merged)
        if isinstance(entry, dict) and isinstance(entry.get("name"), str)
    }
    for entry in child:
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name in position:
            merged[position[name]] = entry  # replaced in place: the base's order is kept
        else:
            if isinstance(name, str):
                position[name] = len(merged)
            merged.append(entry)
    return merged


# -- Building the CreatureConfig ----------------------------------------------------------------


def _build_creature_config(
    chain: _Chain, *, folder: Path | None, default_name: str, file: Path | None
) -> CreatureConfig:
    data = dict(chain.data)
    data["system_prompt"] = _assemble_prompt(chain.prompt_files, data.get("system_prompt"), file)
    data["prompt_context_files"] = _read_context_files(data.get("prompt_context_files"), file)
    data["folder"] = folder
    data["files"] = [path.resolve() for path in chain.files]
    data["system_prompt_files"] = chain.prompt_files
    if data.get("name") in (None, ""):
        data["name"] = default_name
    for key in ("input", "output"):
        if isinstance(data.get(key), dict):
            data[key] = _prepare_entry(data[key], ModuleEntry if key == "input" else OutputEntry)
    output = data.get("output")
    if isinstance(output, dict) and isinstance(output.get("named_outputs"), dict):
        output["named_outputs"] = {
            name: _prepare_entry({"type": entry} if isinstance(entry, str) else entry, ModuleEntry)
            for name, entry in output["named_outputs"].items()
        }
    for key, entry_class in _ENTRY_CLASSES.items():
        if isinstance(data.get(key), list):
            data[key] = [_prepare_entry(entry, entry_class) for entry in data[key]]
    for key in ("controller", "compact", "termination", "startup_trigger"):
        if isinstance(data.get(key), dict):
            data[key] = _without_nulls(data[key])
    return _structure(_without_nulls(data), CreatureConfig, file=file)


def _assemble_prompt(prompt_files: list[Path], inline: Any, file: Path | None) -> str:
    if inline is not None and not isinstance(inline, str):
        raise ConfigValidationError(
            f"expected a string, got {_describe(inline)}", path="system_prompt", file=_name(file)
        )
    parts = [_read_text(path, key="system_prompt_file", file=file) for path in prompt_files]
    if inline:
        parts.append(inline)
    parts = [part.strip("\n") for part in parts if part.strip()]
    return "\n\n".join(parts) if parts else DEFAULT_SYSTEM_PROMPT


def _read_context_files(paths: Any, file: Path | None) -> Any:
    if not isinstance(paths, Mapping):
        return paths if paths is not None else {}
    return {
        var: _read_text(Path(path), key=f"prompt_context_files.{var}", file=file)
        for var, path in paths.items()
    }


def _read_text(path: Path, *, key: str, file: Path | None) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}", path=key, file=_name(file)) from error


def _prepare_entry(entry: Any, entry_class: type) -> Any:
    """Fold an entry's extra keys into ``options`` and accept ``class`` for ``class_name``."""
    if not isinstance(entry, dict):
        return entry  # validation reports the wrong shape with its path
    fields = {field.name for field in attrs.fields(entry_class)} - {"options"}
    prepared: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "class" and "class_name" in fields:
            if entry.get("class_name") is not None and value is not None:
                prepared["class_name"] = _Conflict("class", "class_name")
            elif value is not None:
                prepared["class_name"] = value
        elif key in fields:
            if value is not None and not isinstance(prepared.get(key), _Conflict):
                prepared[key] = value
        elif key != "options":
            extras[key] = value
    explicit = entry.get("options")
    if isinstance(explicit, Mapping):
        prepared["options"] = {**extras, **explicit}  # the explicit table wins on a clash
    elif explicit is not None:
        prepared["options"] = explicit  # wrong type: validation says so
    else:
        prepared["options"] = extras
    return prepared


@attrs.frozen
class _Conflict:
    """Marks a value written under two spellings; validation reports it."""

    first: str
    second: str


def _without_nulls(table: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in table.items() if value is not None}


# -- Validation with cattrs ---------------------------------------------------------------------


def _structure(data: dict[str, Any], cls: type, *, file: Path | None) -> Any:
    import cattrs

    try:
        return _converter().structure(data, cls)
    except (cattrs.BaseValidationError, _ValueProblem) as error:
        _raise_problems(_collect_problems(error, []), file=file)
        raise  # unreachable: _raise_problems always raises for a non-empty list


@functools.cache
def _converter() -> Any:
    """The one converter for creature configs: strict keys, coercing scalars, clear messages."""
    import cattrs
    from cattrs import cols
    from cattrs.gen import make_dict_structure_fn

    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(Path, lambda value, _: Path(value))
    converter.register_structure_hook_func(
        lambda type_: get_origin(type_) is Literal, _structure_literal
    )

    def sequence_hook(type_: Any, conv: Any) -> Callable[[Any, Any], Any]:
        inner = cols.homogenous_tuple_structure_factory(type_, conv)

        def structure(value: Any, target: Any) -> Any:
            if not isinstance(value, list | tuple):
                raise _ValueProblem(f"expected a list, got {_describe(value)}")
            return inner(value, target)

        return structure

    def mapping_hook(type_: Any, conv: Any) -> Callable[[Any, Any], Any]:
        inner = cols.mapping_structure_factory(type_, conv)

        def structure(value: Any, target: Any) -> Any:
            if not isinstance(value, Mapping):
                raise _ValueProblem(f"expected a table, got {_describe(value)}")
            return inner(value, target)

        return structure

    def class_hook(cls: type, conv: Any) -> Callable[[Any, Any], Any]:
        inner = make_dict_structure_fn(cls, conv)

        def structure(value: Any, target: Any) -> Any:
            if not isinstance(value, Mapping):
                raise _ValueProblem(f"expected a table, got {_describe(value)}")
            return inner(value, target)

        return structure

    converter.register_structure_hook_factory(cols.is_sequence, sequence_hook)
    converter.register_structure_hook_factory(cols.is_mapping, mapping_hook)
    converter.register_structure_hook_factory(attrs.has, class_hook)
    return converter


def _structure_str(value: Any, _type: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise _ValueProblem(
            f"expected a string, got the boolean {str(value).lower()}; "
            "quote the value (YAML reads bare yes/no/on/off as booleans)"
        )
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, _Conflict):
        raise _ValueProblem(
            f"given both as '{value.first}' and as '{value.second}'; keep only one of them"
        )
    raise _ValueProblem(f"expected a string, got {_describe(value)}")


def _structure_int(value: Any, _type: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _ValueProblem(f"expected an integer, got {_describe(value)}")


def _structure_float(value: Any, _type: Any) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise _ValueProblem(f"expected a number, got {_describe(value)}")
    return number


_TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS = frozenset({"false", "no", "off", "0"})


def _structure_bool(value: Any, _type: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise _ValueProblem(f"expected true or false, got {_describe(value)}")


def _structure_literal(value: Any, type_: Any) -> Any:
    choices = get_args(type_)
    if value in choices:
        return value
    listed = ", ".join(repr(choice) for choice in choices)
    raise _ValueProblem(f"expected one of {listed}, got {_describe(value)}")


def _collect_problems(error: BaseException, path: list[str]) -> list[tuple[str, str]]:
    """Flatten cattrs' exception tree into ``(key path, message)`` pairs, in document order."""
    import cattrs

    path = path + _path_from_notes(error)
    if isinstance(error, cattrs.ForbiddenExtraKeysError):
        accepted = {field.name for field in attrs.fields(error.cl)}
        return [
            (_format_path([*path, key]), _unknown_key_message(key, accepted))
            for key in sorted(error.extra_fields)
        ]
    if isinstance(error, BaseExceptionGroup):
        problems: list[tuple[str, str]] = []
        # An unknown key often explains a missing one next to it (a typo), so it goes first.
        inners = sorted(
            error.exceptions,
            key=lambda inner: not isinstance(inner, cattrs.ForbiddenExtraKeysError),
        )
        for inner in inners:
            problems += _collect_problems(inner, path)
        return problems
    if isinstance(error, _FieldValueError):
        return [(_format_path([*path, error.field]), str(error))]
    if isinstance(error, KeyError):
        key = path[-1] if path else "?"
        return [(_format_path(path), f"required key {key!r} is missing; add it")]
    return [(_format_path(path), str(error))]


def _path_from_notes(error: BaseException) -> list[str]:
    from cattrs import AttributeValidationNote, IterableValidationNote

    segments = []
    for note in getattr(error, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            segments.append(note.name)
        elif isinstance(note, IterableValidationNote):
            index = note.index
            segments.append(f"[{index}]" if isinstance(index, int) else str(index))
    return segments


def _format_path(segments: Iterable[str]) -> str:
    text = ""
    for segment in segments:
        if segment.startswith("["):
            text += segment
        else:
            text = _join_key(text, segment)
    return text


# -- Error helpers ------------------------------------------------------------------------------


def _raise_problems(problems: list[tuple[str, str]], *, file: Path | None) -> None:
    if not problems:
        return
    first_path, first_message = problems[0]
    if len(problems) == 1:
        raise ConfigValidationError(first_message, path=first_path, file=_name(file))
    listed = "\n".join(f"  - {path or '(top level)'}: {message}" for path, message in problems)
    raise ConfigValidationError(
        f"{len(problems)} problems in the config:\n{listed}", path=first_path, file=_name(file)
    )


def _unknown_key_message(key: Any, accepted: Iterable[str]) -> str:
    accepted = sorted(accepted)
    close = difflib.get_close_matches(str(key), accepted, n=3)
    if close:
        hint = "did you mean " + " or ".join(repr(match) for match in close) + "?"
    elif set(accepted) == _TOP_LEVEL_KEYS:
        # The controller aliases would drown the list; name them as a group instead.
        listed = sorted(_TOP_LEVEL_KEYS - set(_CONTROLLER_FIELDS) - set(_ALIASES))
        hint = "accepted keys: " + ", ".join(listed) + ", and every [controller] key"
    else:
        hint = "accepted keys: " + ", ".join(accepted)
    return f"unknown key {str(key)!r}; {hint}"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"


def _join_key(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _name(file: Path | None) -> str | None:
    return str(file) if file is not None else None
