"""The creature config schema: frozen attrs classes, one per table, with their value checks.

:class:`CreatureConfig` is what :func:`kt.config.load_creature_config` returns. Validators
raise :class:`FieldValueError` so that the error walker (:mod:`kt.config.validate`) can add the
field name to the key path (cattrs notes only the path of type errors).
``docs/reference/config.md`` documents every key for users.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
"""The system prompt of a creature whose chain sets neither a prompt file nor an inline prompt."""


class ValueProblem(ValueError):
    """A value cannot be used; the message is written for the user."""


class FieldValueError(ValueProblem):
    """A value failed an attrs validator of field *field*."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _at_least(minimum: float) -> Callable[[Any, attrs.Attribute, Any], None]:
    def check(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None and value < minimum:
            raise FieldValueError(attribute.name, f"must be at least {minimum}, got {value!r}")

    return check


def _above(minimum: float) -> Callable[[Any, attrs.Attribute, Any], None]:
    def check(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None and value <= minimum:
            raise FieldValueError(attribute.name, f"must be above {minimum}, got {value!r}")

    return check


def _fraction(_instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0 < value <= 1:
        message = f"must be a fraction in (0, 1], got {value!r}; e.g. 0.8 for 80%"
        raise FieldValueError(attribute.name, message)


def _not_empty(_instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not value.strip():
        raise FieldValueError(attribute.name, "must not be empty")


def _unsupported(allowed: Any, why: str) -> Any:
    """A field accepted only at its default, *allowed*: any other value is refused with *why*.

    For keys of the reference's config format whose behaviour is not built (yet): a config
    that sets one fails loudly instead of being silently ignored. The field's metadata
    carries *why* under ``"unsupported"``, so tests and docs can list them.
    """

    def check(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value != allowed:
            raise FieldValueError(attribute.name, f"{value!r} is not supported: {why}")

    default = attrs.Factory(dict) if allowed == {} else allowed
    return attrs.field(default=default, validator=check, metadata={"unsupported": why})


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
        loop: The reasoning loop that runs each turn: a name from the ``kt_controllers``
            registry (``"default"``: the kernel's rounds of model call → tools → feedback).
    """

    llm: str | None = None
    model: str | None = None
    provider: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    auth_mode: str | None = _unsupported(
        None, "keys come from `kt login` / keys.toml or api_key_env"
    )
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
    loop: str = attrs.field(default="default", validator=_not_empty)


@attrs.frozen(kw_only=True)
class CodeEntry:
    """The keys every entry that may name code shares (tools, sub-agents, triggers, plugins, I/O).

    Attributes:
        module: Import path, or a ``./file.py`` beside the config, of custom code.
        class_name: Class (or factory) in ``module``; written ``class`` or ``class_name``.
        options: Every other key of the entry, plus an explicit ``options`` table.
        declared_in: The config file that wrote the entry (set by the loader; errors name it).
    """

    module: str | None = None
    class_name: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)
    declared_in: str | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class ToolEntry(CodeEntry):
    """One tool the creature gets.

    Attributes:
        name: The tool's name (what the model calls).
        type: ``"builtin"`` (from a plugin's registry), ``"trigger"`` (a setup-able trigger
            exposed as a tool), ``"custom"`` (``module`` + ``class``), or a plugin-defined kind.
        doc: Documentation override shown to the model.
    """

    name: str
    type: str = "builtin"
    doc: str | None = None


@attrs.frozen(kw_only=True)
class SubAgentEntry(CodeEntry):
    """One sub-agent the creature may start.

    Attributes:
        name: The sub-agent's name (what the model calls).
        type: ``"builtin"``, ``"custom"`` or a plugin-defined kind.
        config: Path (absolute once loaded) or ``@pack/path`` of the sub-agent's own config.
        description: One line shown to the parent model.
        tools: Tool names the sub-agent may use; ``None`` = its own default set.
        options: Every other key of the entry (``can_modify``, ``interactive``, ...).
    """

    name: str
    type: str = "builtin"
    config: str | None = None
    description: str | None = None
    tools: tuple[str, ...] | None = None


@attrs.frozen(kw_only=True)
class TriggerEntry(CodeEntry):
    """One trigger that wakes the creature without user input.

    Attributes:
        type: ``"timer"``, ``"schedule"``, ``"channel"``, ``"webhook"``, ``"custom"``, ...
        name: Optional name; named triggers merge by name across ``base_config``.
        prompt: The text delivered to the creature when the trigger fires.
        options: Every other key of the entry (``interval``, ``cron``, ...).
    """

    type: str
    name: str | None = None
    prompt: str | None = None


@attrs.frozen(kw_only=True)
class PluginEntry(CodeEntry):
    """A plugin registered for this creature only.

    Attributes:
        name: An entry-point name in ``kt.plugins``, or any label when ``module`` is given.
        type: ``"package"`` (entry point / ``module``), or a plugin-defined kind.
        description: One line for listings.
    """

    name: str
    type: str = "package"
    description: str | None = None


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
class ModuleEntry(CodeEntry):
    """An input module (or one named output): where user events come from.

    Attributes:
        type: ``"plain"``, ``"cli"``, ``"tui"``, ``"webhook"``, ... (provided by plugins).
        options: Every other key (``prompt``, ...).
    """

    type: str


@attrs.frozen(kw_only=True)
class OutputEntry(CodeEntry):
    """The output module: where the creature's text goes.

    Attributes:
        type: ``"stdout"``, ``"tui"``, ``"custom"``, ... (provided by plugins).
        controller_direct: Stream the controller's text straight to this output.
        named_outputs: Extra outputs the model can address by name.
        options: Every other key.
    """

    type: str
    controller_direct: bool = _unsupported(
        True, "the controller's text always streams to the output"
    )
    named_outputs: Mapping[str, ModuleEntry] = _unsupported(
        {}, "outputs the model addresses by name are not built"
    )


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
            raise FieldValueError(attribute.name, message)


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
        skip_unavailable_plugins: Build without a ``[[plugins]]`` entry that cannot load
            (a warning names it) instead of failing.
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
        on_node: Terrarium only: host it on this node of the engine's transport (a node name,
            ``labels:a,b``, or ``*`` for any); ``None`` = here.
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
    skip_unavailable_plugins: bool = False
    memory: Mapping[str, Any] = attrs.field(factory=dict)
    output_wiring: tuple[WiringEntry, ...] = ()
    skills: tuple[str, ...] = ()
    skill_mode: Literal["dynamic", "static"] = _unsupported(
        "dynamic", "skills are listed in an index the model reads"
    )
    skill_index_budget_bytes: int = attrs.field(default=4096, validator=_at_least(0))
    include_tools_in_prompt: bool = _unsupported(
        True, "tools always reach the model (natively or in the prompt)"
    )
    include_hints_in_prompt: bool = _unsupported(
        True, "a text tool format always explains its syntax"
    )
    framework_hint_overrides: Mapping[str, str] = _unsupported(
        {}, "there are no framework hint blocks to override"
    )
    session_key: str | None = None
    on_node: str | None = None
    default_plugins: tuple[str, ...] = _unsupported((), "list plugins in [[plugins]] instead")


# -- Keys: what a config file may say, derived from the schema -------------------------------

IDENTITY_LISTS = ("tools", "subagents", "plugins", "mcp_servers", "triggers")
"""Lists merged by entry ``name`` across the chain; other lists are replaced by the child."""

SHORTHAND_KEY = {
    "tools": "name",
    "subagents": "name",
    "plugins": "name",
    "mcp_servers": "name",
    "triggers": "type",
    "output_wiring": "to",
}
"""A bare string in one of these lists stands for ``{key: string}``."""

INHERITANCE_KEYS = ("base_config", "no_inherit", "prompt_mode")
"""Consumed while loading one file; never passed on to descendants."""

COMPUTED_FIELDS = ("folder", "files", "system_prompt_files")

CONTROLLER_FIELDS = tuple(field.name for field in attrs.fields(ControllerConfig))

PROMPT_SWITCHES = ("skill_mode", "include_tools_in_prompt", "include_hints_in_prompt")
"""Top-level keys that are also accepted inside ``[controller]``."""

ALIASES = {"framework_hints": "framework_hint_overrides"}

TOP_LEVEL_KEYS = frozenset(
    {f.name for f in attrs.fields(CreatureConfig)} - set(COMPUTED_FIELDS)
    | {"system_prompt_file", *INHERITANCE_KEYS, *CONTROLLER_FIELDS, *ALIASES}
)
CONTROLLER_KEYS = frozenset({*CONTROLLER_FIELDS, *PROMPT_SWITCHES})
STRICT_SECTIONS = {
    "controller": CONTROLLER_KEYS,
    "compact": frozenset(f.name for f in attrs.fields(CompactConfig)),
    "termination": frozenset(f.name for f in attrs.fields(TerminationConfig)),
}
ENTRY_CLASSES: dict[str, type] = {
    "tools": ToolEntry,
    "subagents": SubAgentEntry,
    "triggers": TriggerEntry,
    "plugins": PluginEntry,
    "mcp_servers": MCPServerEntry,
}
MODULE_SHORTHAND = ("input", "output")
"""A bare string for these stands for ``{type: string}``."""
