"""Loading a creature config: the ``base_config`` chain, per-file normalising, merging.

The steps are described in :mod:`kt.config`; reading, interpolation and validation live in
:mod:`~kt.config.files`, :mod:`~kt.config.interpolate` and :mod:`~kt.config.validate`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from kt.config.files import find_config_file, read_config_file
from kt.config.interpolate import interpolate
from kt.config.problems import describe, raise_problems, unknown_key_message
from kt.config.schema import (
    ALIASES,
    CONTROLLER_FIELDS,
    DEFAULT_SYSTEM_PROMPT,
    ENTRY_CLASSES,
    IDENTITY_LISTS,
    MODULE_SHORTHAND,
    PROMPT_SWITCHES,
    SHORTHAND_KEY,
    STRICT_SECTIONS,
    TOP_LEVEL_KEYS,
    CreatureConfig,
    ModuleEntry,
    OutputEntry,
)
from kt.config.validate import prepare_entry, structure, without_nulls
from kt.errors import ConfigError, ConfigNotFoundError, ConfigValidationError


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
    loader = _ChainLoader(os.environ if env is None else env, resolve_ref)
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
    return structure(prepare_entry(data, cls), cls, file=None)


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
            return self._locate_config(self._resolve_reference(text, key=key, file=file))
        return self._locate_config(Path(text).expanduser())

    def load_file(self, config_file: Path, *, stack: tuple[Path, ...]) -> _Chain:
        raw = read_config_file(config_file)
        return self.load_mapping(raw, folder=config_file.parent, file=config_file, stack=stack)

    def load_mapping(
        self,
        raw: dict[str, Any],
        *,
        folder: Path,
        file: Path | None,
        stack: tuple[Path, ...],
    ) -> _Chain:
        data = _normalise_layer(interpolate(raw, self.env, file=file), file=file)
        base_ref = data.pop("base_config", None)
        no_inherit = _read_no_inherit(data.pop("no_inherit", None), file=file)
        prompt_mode = data.pop("prompt_mode", None)
        if prompt_mode not in (None, "concat", "replace"):
            raise ConfigValidationError(
                f"prompt_mode must be 'concat' or 'replace', got {prompt_mode!r}",
                path="prompt_mode",
                file=file,
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
                f"base_config must be a string (a path or @pack/path), got {describe(base_ref)}",
                path="base_config",
                file=file,
            )
        base_file = self._locate_base(base_ref, folder=folder, file=file)
        chain = [*stack, *([file.resolve()] if file else [])]
        if base_file.resolve() in chain:
            names = " -> ".join(str(p) for p in [*chain, base_file.resolve()])
            raise ConfigError(
                f"base_config forms a cycle: {names}; remove base_config from one of these files",
                path="base_config",
                file=file,
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
            file=file,
        )

    def _locate_config(self, path: Path, *, key: str = "", file: Path | None = None) -> Path:
        try:
            return find_config_file(path).resolve()
        except ConfigNotFoundError as error:
            if not key:
                raise
            raise ConfigNotFoundError(error.message, path=key, file=file) from None

    def _resolve_reference(self, ref: str, *, key: str, file: Path | None) -> Path:
        resolved = self.resolve_ref(ref) if self.resolve_ref is not None else None
        if resolved is None:
            pack = ref[1:].split("/", 1)[0]
            raise ConfigNotFoundError(
                f"no package resolver knows {ref!r}; install the pack with `kt install {pack}` "
                "(or pass resolve_ref= when loading from Python)",
                path=key,
                file=file,
            )
        return Path(resolved)

    def _find_relative(
        self, value: Any, folders: list[Path], *, key: str, file: Path | None
    ) -> Path:
        """Resolve a path named by a config: the naming config's folder first, then its bases."""
        if not isinstance(value, str) or not value:
            raise ConfigValidationError(
                f"expected a file path, got {describe(value)}", path=key, file=file
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
            file=file,
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
        for entry in _module_entries(data):
            if file is not None:
                entry["declared_in"] = str(file)
            module = entry.get("module")
            if isinstance(module, str) and (module.endswith(".py") or "/" in module):
                # A creature's own code is found next to the config that names it, however
                # deep in the inheritance chain that config is.
                entry["module"] = str(folders[0] / Path(module).expanduser())
        controller = data.get("controller")
        llm = controller.get("llm") if isinstance(controller, dict) else None
        if isinstance(llm, str) and llm.startswith("scripted:"):
            script = Path(llm.removeprefix("scripted:")).expanduser()
            controller["llm"] = f"scripted:{folders[0] / script}"  # absolute stays absolute
        subagents = data.get("subagents")
        if isinstance(subagents, list):
            for entry in subagents:
                config = entry.get("config") if isinstance(entry, dict) else None
                if isinstance(config, str) and config and not config.startswith("@"):
                    entry["config"] = str(folders[0] / Path(config).expanduser())


def _module_entries(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entries of one config layer that may name a ``module`` (tools, plugins, I/O ...)."""
    entries = [
        entry
        for key in ("tools", "triggers", "plugins")
        if isinstance(data.get(key), list)
        for entry in data[key]
        if isinstance(entry, dict)
    ]
    entries += [data[key] for key in ("input", "output") if isinstance(data.get(key), dict)]
    return entries


def _read_no_inherit(value: Any, *, file: Path | None) -> set[str]:
    if value is None:
        return set()
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise ConfigValidationError(
            f'no_inherit must be a list of key names, e.g. no_inherit = ["tools"]; '
            f"got {describe(value)}",
            path="no_inherit",
            file=file,
        )
    unknown = [key for key in value if key not in TOP_LEVEL_KEYS]
    if unknown:
        raise ConfigValidationError(
            "; ".join(unknown_key_message(key, TOP_LEVEL_KEYS) for key in unknown),
            path=f"no_inherit[{value.index(unknown[0])}]",
            file=file,
        )
    return {ALIASES.get(key, key) for key in value}


def _drop_inherited(base_data: dict[str, Any], no_inherit: set[str]) -> None:
    for key in no_inherit:
        if key in CONTROLLER_FIELDS:
            controller = base_data.get("controller")
            if isinstance(controller, dict):
                base_data["controller"] = {k: v for k, v in controller.items() if k != key}
        base_data.pop(key, None)


# -- Normalising one file -----------------------------------------------------------------------


def _normalise_layer(data: dict[str, Any], *, file: Path | None) -> dict[str, Any]:
    """Check one file's keys and bring aliases and shorthands into their canonical form.

    Done per file, before merging, so that a base written one way and a child written the
    other way still merge key by key (and entry by entry).
    """
    problems = [
        (str(k), unknown_key_message(k, TOP_LEVEL_KEYS)) for k in data if k not in TOP_LEVEL_KEYS
    ]
    for section, accepted in STRICT_SECTIONS.items():
        table = data.get(section)
        if isinstance(table, dict):
            problems += [
                (f"{section}.{k}", unknown_key_message(k, accepted))
                for k in table
                if k not in accepted
            ]
    raise_problems(problems, file=file)

    data = dict(data)
    for alias, canonical in ALIASES.items():
        if alias in data:
            _move_key(data, alias, data, canonical, problems, where=("", ""))
    controller = data.get("controller")
    controller = dict(controller) if isinstance(controller, dict) else controller
    if controller is None and any(key in data for key in CONTROLLER_FIELDS):
        controller = {}
    if isinstance(controller, dict):
        for key in CONTROLLER_FIELDS:
            if key in data:
                _move_key(data, key, controller, key, problems, where=("", "controller."))
        for key in PROMPT_SWITCHES:
            if key in controller:
                _move_key(controller, key, data, key, problems, where=("controller.", ""))
    if controller is not None:
        data["controller"] = controller
    raise_problems(problems, file=file)

    for key, entry_key in SHORTHAND_KEY.items():
        entries = data.get(key)
        if isinstance(entries, list):
            data[key] = [
                {entry_key: entry} if isinstance(entry, str) else entry for entry in entries
            ]
    for key in MODULE_SHORTHAND:
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
        if key in IDENTITY_LISTS and isinstance(value, list) and isinstance(inherited, list):
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
            data[key] = prepare_entry(data[key], ModuleEntry if key == "input" else OutputEntry)
    output = data.get("output")
    if isinstance(output, dict) and isinstance(output.get("named_outputs"), dict):
        output["named_outputs"] = {
            name: prepare_entry({"type": entry} if isinstance(entry, str) else entry, ModuleEntry)
            for name, entry in output["named_outputs"].items()
        }
    for key, entry_class in ENTRY_CLASSES.items():
        if isinstance(data.get(key), list):
            data[key] = [prepare_entry(entry, entry_class) for entry in data[key]]
    for key in ("controller", "compact", "termination", "startup_trigger"):
        if isinstance(data.get(key), dict):
            data[key] = without_nulls(data[key])
    return structure(without_nulls(data), CreatureConfig, file=file)


def _assemble_prompt(prompt_files: list[Path], inline: Any, file: Path | None) -> str:
    if inline is not None and not isinstance(inline, str):
        raise ConfigValidationError(
            f"expected a string, got {describe(inline)}", path="system_prompt", file=file
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
        raise ConfigError(f"cannot read {path}: {error}", path=key, file=file) from error
