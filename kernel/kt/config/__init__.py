"""Creature configs: read a file (or a dict), resolve its ``base_config`` chain, validate it.

A creature is described by one file in its folder: ``creature.toml`` (canonical), or
``config.toml`` / ``config.yaml`` / ``config.yml`` / ``config.json``. :func:`load_creature_config`
turns that file into a frozen :class:`CreatureConfig` in four steps:

1. **Read** each file of the chain: TOML with the standard library's ``tomllib``, YAML with
   PyYAML (the ``yaml`` extra, imported only when a YAML file is read), JSON with the standard
   library.
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

The package, by job: :mod:`~kt.config.schema` (the attrs classes), :mod:`~kt.config.files`,
:mod:`~kt.config.interpolate`, :mod:`~kt.config.loading` (chain, merge),
:mod:`~kt.config.validate` (cattrs), :mod:`~kt.config.problems` (messages),
:mod:`~kt.config.home` (the user's ``~/.kt``).
"""

from __future__ import annotations

from kt.config.files import CONFIG_FILE_NAMES, find_config_file, read_config_file
from kt.config.loading import load_creature_config, module_entry
from kt.config.schema import (
    DEFAULT_SYSTEM_PROMPT,
    CompactConfig,
    ControllerConfig,
    CreatureConfig,
    MCPServerEntry,
    ModuleEntry,
    OutputEntry,
    PluginEntry,
    StartupTrigger,
    SubAgentEntry,
    TerminationConfig,
    ToolEntry,
    TriggerEntry,
    WiringEntry,
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
    "read_config_file",
]
