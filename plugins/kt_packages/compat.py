"""Which parts of a pack cannot run on KT Terrarium, and why (kt-biome compatibility).

kt-biome's data files (creature configs, prompts, terrarium recipes, skills) load unchanged.
Its Python code does not: every class a ``kohaku.yaml`` declares (plugins, tools, io, triggers,
commands) and every ``module = "kt_biome.plugins.x"`` entry in its configs is written against
KohakuTerrarium's own class-based module API. KT Terrarium plugins are pluggy hook
implementations found through ``kt.plugins`` entry points instead, so these are reported as
*unsupported*, each with the reason, and installing the pack goes on without them.

A module counts as needing the reference framework's internals when

* it is ``kohakuterrarium`` or one of its modules;
* its source, found in the pack, imports ``kohakuterrarium``;
* it is declared by a ``kohaku.yaml`` (always a class for the reference's module API); or
* it belongs to the Python package of such declarations (``kt_biome`` for kt-biome) and the
  pack does not ship it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from kt.config import read_config_file
from kt_packages.manifest import (
    PackManifest,
    creature_config_file,
    terrarium_recipe_file,
)

__all__ = [
    "Substitute",
    "Unsupported",
    "alias_of",
    "find_substitutes",
    "find_unsupported",
    "installed_aliases",
    "module_support_problem",
    "summarize",
]

REFERENCE_PACKAGE = "kohakuterrarium"
_IMPORTS_REFERENCE = re.compile(rf"^\s*(from|import)\s+{REFERENCE_PACKAGE}\b", re.M)

RUN_HINT = (
    'a creature that lists one fails to build; extend it with no_inherit = ["plugins"] '
    "(or drop the entry) to run it without"
)


@attrs.frozen
class Unsupported:
    """One piece of a pack that cannot run on KT Terrarium.

    Attributes:
        kind: ``plugin``, ``tool``, ``io``, ``trigger``, ``command``, ``user_command``,
            ``subagent``, ``input`` or ``output``.
        name: Its name in the manifest or config entry.
        module: The Python module it needs (``module:Class`` when a class is named).
        file: The file that declares it, relative to the pack root (``kohaku.yaml``).
        key: The key path in that file (``plugins[0]``).
        reason: Why it cannot run here; every reason means "it needs KohakuTerrarium's
            internals".
    """

    kind: str
    name: str
    module: str
    file: str
    key: str
    reason: str

    def line(self) -> str:
        """One line: ``plugin cost_tracker (module:Class) in file key: reason``."""
        return f"{self.kind} {self.name} ({self.module}) in {self.file} {self.key}: {self.reason}"


def summarize(items: list[Unsupported]) -> list[str]:
    """Report lines grouping *items* by reason, then by file and key list.

    Args:
        items: Unsupported pieces (from :func:`find_unsupported`).

    Returns:
        Lines such as ``reason: ...`` followed by ``  kohaku.yaml plugins (12): a, b, ...``.
    """
    lines: list[str] = []
    by_reason: dict[str, dict[tuple[str, str], list[str]]] = {}
    for item in items:
        group = by_reason.setdefault(item.reason, {})
        group.setdefault((item.file, item.key.split("[")[0]), []).append(item.name)
    for reason, groups in by_reason.items():
        lines.append(f"because {reason}:")
        for (file, key), names in groups.items():
            lines.append(f"  {file} {key} ({len(names)}): {', '.join(names)}")
    return lines


def module_support_problem(
    module: str,
    *,
    pack_root: Path | None,
    folder: Path | None = None,
    foreign_packages: frozenset[str] = frozenset(),
) -> str | None:
    """Say why *module* cannot run on KT Terrarium, or ``None`` when nothing says it cannot.

    Args:
        module: A dotted module name, or a ``./file.py`` path relative to *folder*.
        pack_root: The pack's root folder (where a dotted module of the pack would live).
        folder: The folder of the config that names the module.
        foreign_packages: Top-level packages of the pack's kohaku.yaml classes.

    Returns:
        The reason (one sentence without the module's name), or ``None``.
    """
    if module.endswith(".py") or "/" in module:
        source = (folder or pack_root or Path.cwd()) / module
        return _source_problem(source)
    top = module.split(".")[0]
    if top == REFERENCE_PACKAGE:
        return "it is part of KohakuTerrarium itself, which KT Terrarium does not provide"
    source = _module_source(module, pack_root)
    if source is not None:
        return _source_problem(source)
    if top in foreign_packages:
        return (
            f"its package '{top}' is written for KohakuTerrarium's class-based module API and "
            "is not shipped with the pack's data files"
        )
    return None


def _module_source(module: str, pack_root: Path | None) -> Path | None:
    if pack_root is None:
        return None
    base = pack_root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _source_problem(source: Path) -> str | None:
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # a missing custom module is a build error the kernel reports itself
    if _IMPORTS_REFERENCE.search(text):
        return f"its code ({source.name}) imports {REFERENCE_PACKAGE}, the reference framework"
    return None


def installed_aliases() -> Mapping[str, str]:
    """The ``kt_module_aliases`` of the installed plugins: foreign module → ours doing its job."""
    import kt

    return kt.Kernel.default().module_aliases()


def alias_of(module: str, class_name: str | None, aliases: Mapping[str, str]) -> str | None:
    """What loads instead of ``module:class_name`` (``None``: no plugin declares an alias)."""
    return aliases.get(f"{module}:{class_name}") or aliases.get(module)


@attrs.frozen
class Substitute:
    """A piece of a pack that a first-party plugin does the job of (see ``kt_module_aliases``).

    Attributes:
        kind: As in :class:`Unsupported`.
        name: Its name in the manifest or config entry.
        module: The module the pack names (``module:Class``).
        provided_by: What loads instead (``kt_context:ContextFiles``).
    """

    kind: str
    name: str
    module: str
    provided_by: str


def find_substitutes(
    root: Path, manifest: PackManifest, aliases: Mapping[str, str] | None = None
) -> list[Substitute]:
    """The pieces of the pack at *root* that first-party plugins provide, each once."""
    aliases = installed_aliases() if aliases is None else aliases
    found: dict[str, Substitute] = {}
    for kind, name, module, class_name in _named_modules(root, manifest):
        target = alias_of(module, class_name, aliases)
        key = f"{module}:{class_name}" if class_name else module
        if target is not None and key not in found:
            found[key] = Substitute(kind, name, key, target)
    return list(found.values())


def _named_modules(root: Path, manifest: PackManifest) -> Iterator[tuple[str, str, str, Any]]:
    for module in manifest.foreign_modules:
        if module.module:
            yield module.kind, module.name, module.module, module.class_name
    for _, _, kind, item in _config_entries(root, manifest):
        name = str(item.get("name") or item.get("type") or "?")
        yield kind, name, str(item["module"]), item.get("class") or item.get("class_name")


def _config_entries(root: Path, manifest: PackManifest) -> Iterator[tuple[Path, str, str, dict]]:
    """(config file, key path, kind, entry) for each ``module`` entry of the pack's configs."""
    for entry in (*manifest.creatures, *manifest.terrariums):
        folder = root / entry.path
        file = creature_config_file(folder) or terrarium_recipe_file(folder)
        if file is None:
            continue
        try:
            data = read_config_file(file)
        except Exception:  # a broken config is reported by `kt info`, not here
            continue
        for key_path, kind, item in _module_entries(data):
            yield file, key_path, kind, item


def find_unsupported(
    root: Path, manifest: PackManifest, aliases: Mapping[str, str] | None = None
) -> list[Unsupported]:
    """Everything in the pack at *root* that needs the reference framework's internals.

    Reads the manifest's kohaku.yaml classes, then the raw entries of every creature config and
    terrarium recipe (no inheritance: each entry is reported where it is written).

    Args:
        root: The pack folder.
        manifest: Its manifest.
        aliases: Foreign modules that first-party plugins provide (default: those of the
            installed plugins); they are not unsupported.

    Returns:
        The unsupported pieces, manifest first, then configs in pack order.
    """
    aliases = installed_aliases() if aliases is None else aliases
    manifest_file = manifest.file.name if manifest.file else "manifest"
    foreign_packages = frozenset(
        m.module.split(".")[0] for m in manifest.foreign_modules if m.module
    )
    found: list[Unsupported] = []
    counters: dict[str, int] = {}
    for module in manifest.foreign_modules:
        key = {"io": "io", "user_command": "user_commands"}.get(module.kind, f"{module.kind}s")
        index = counters.get(key, 0)
        counters[key] = index + 1
        if alias_of(module.module, module.class_name, aliases):
            continue
        reason = module_support_problem(
            module.module, pack_root=root, foreign_packages=foreign_packages
        ) or (
            "kohaku.yaml classes are written for KohakuTerrarium's module API; KT Terrarium "
            "loads Python plugins through kt.plugins entry points (declare them in a kt-pack.toml)"
        )
        target = f"{module.module}:{module.class_name}" if module.class_name else module.module
        found.append(
            Unsupported(module.kind, module.name, target, manifest_file, f"{key}[{index}]", reason)
        )
    for file, key_path, kind, item in _config_entries(root, manifest):
        module = str(item.get("module") or "")
        class_name = item.get("class") or item.get("class_name")
        if alias_of(module, class_name, aliases):
            continue
        reason = module_support_problem(
            module, pack_root=root, folder=file.parent, foreign_packages=foreign_packages
        )
        if reason is None:
            continue
        target = f"{module}:{class_name}" if class_name else module
        name = str(item.get("name") or item.get("type") or "?")
        where_file = file.relative_to(root).as_posix()
        found.append(Unsupported(kind, name, target, where_file, key_path, reason))
    return found


_ENTRY_LISTS = {
    "plugins": "plugin",
    "tools": "tool",
    "triggers": "trigger",
    "subagents": "subagent",
}


def _module_entries(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str, dict]]:
    """(key path, kind, entry) for each entry naming a ``module`` in a creature or recipe."""
    for key, kind in _ENTRY_LISTS.items():
        items = data.get(key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, Mapping) and item.get("module"):
                    yield f"{prefix}{key}[{i}]", kind, dict(item)
    for key in ("input", "output"):
        item = data.get(key)
        if isinstance(item, Mapping) and item.get("module"):
            yield f"{prefix}{key}", key, dict(item)
    terrarium = data.get("terrarium")
    if isinstance(terrarium, Mapping):
        root = terrarium.get("root")
        if isinstance(root, Mapping):
            yield from _module_entries(root, "terrarium.root.")
        creatures = terrarium.get("creatures")
        if isinstance(creatures, list):
            for i, creature in enumerate(creatures):
                if isinstance(creature, Mapping):
                    yield from _module_entries(creature, f"terrarium.creatures[{i}].")
