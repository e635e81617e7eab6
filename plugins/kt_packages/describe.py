"""What ``kt info`` and ``kt list`` show: creatures, terrariums and packs, checked against a kernel.

A creature's tools, sub-agents, triggers and plugins are resolved the way ``Agent.build`` would
resolve them (the kernel's registries, installed entry points, importable modules), but
nothing is built: every name gets a status instead of the first missing one raising. So a
creature whose built-ins come from plugins that are not installed yet still lists, with those
names marked missing, and kt-biome's Python plugins are marked unsupported with the reason.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

import kt
from kt.config import read_config_file
from kt.errors import ConfigError, KTError
from kt_packages.compat import (
    Substitute,
    Unsupported,
    alias_of,
    find_substitutes,
    find_unsupported,
    module_support_problem,
)
from kt_packages.manifest import (
    KOHAKU_FILES,
    KT_PACK_FILE,
    PackManifest,
    creature_config_file,
    read_manifest,
    terrarium_recipe_file,
)

__all__ = [
    "Check",
    "CreatureReport",
    "PackReport",
    "TerrariumReport",
    "describe_creature",
    "describe_pack",
    "describe_terrarium",
    "find_local",
]

OK, MISSING, UNSUPPORTED, BROKEN = "ok", "missing", "unsupported", "broken"


@attrs.frozen
class Check:
    """One name a config uses, and whether it resolves.

    Attributes:
        name: The name (a tool, sub-agent, trigger type or plugin).
        status: ``ok``, ``missing``, ``unsupported`` or ``broken`` (found, but loading it
            fails: the error says why).
        detail: Who provides it (``kt_tools``, ``module x:Y``), or why it does not resolve.
    """

    name: str
    status: str
    detail: str = ""


@attrs.frozen
class CreatureReport:
    """A creature as ``kt info`` shows it.

    Attributes:
        name: Its name.
        where: Its folder (or the recipe it is part of).
        description: One line.
        files: Its config chain, base first.
        model: The selector it names (``openai/gpt-4o``), or ``None`` when it chooses none.
        checks: ``{"tools": [...], "sub-agents": [...], "triggers": [...], "plugins": [...],
            "io": [...]}``.
        error: Why its config could not be loaded (then *checks* is empty).
    """

    name: str
    where: str
    description: str = ""
    files: tuple[str, ...] = ()
    model: str | None = None
    checks: Mapping[str, tuple[Check, ...]] = attrs.field(factory=dict)
    error: str | None = None

    def count(self, kind: str, status: str | None = None) -> int:
        """How many *kind* names there are (with *status*, when given)."""
        return sum(1 for c in self.checks.get(kind, ()) if status is None or c.status == status)

    def problems(self) -> list[tuple[str, Check]]:
        """(kind, check) for every name that does not resolve."""
        return [(k, c) for k, checks in self.checks.items() for c in checks if c.status != OK]


@attrs.frozen
class TerrariumReport:
    """A terrarium recipe: its creatures (each checked) and the problems of its wiring."""

    name: str
    where: str
    description: str = ""
    creatures: tuple[CreatureReport, ...] = ()
    channels: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    error: str | None = None


@attrs.frozen
class PackReport:
    """A pack: its manifest, creatures, terrariums and what it cannot run here."""

    manifest: PackManifest
    root: Path
    kind: str = ""
    source: str = ""
    creatures: tuple[CreatureReport, ...] = ()
    terrariums: tuple[TerrariumReport, ...] = ()
    plugins: tuple[Check, ...] = ()
    unsupported: tuple[Unsupported, ...] = ()
    substitutes: tuple[Substitute, ...] = ()


# -- Creatures ----------------------------------------------------------------------------------


def _entry_point_names() -> set[str]:
    return {ep.name for ep in importlib.metadata.entry_points(group="kt.plugins")}


def _module_check(
    name: str,
    module: str,
    class_name: str | None,
    *,
    folder: Path | None,
    foreign: frozenset[str],
    kernel: kt.Kernel,
) -> Check:
    target = f"{module}:{class_name}" if class_name else module
    provided_by = alias_of(module, class_name, kernel.module_aliases())
    if provided_by is not None:
        return Check(name, OK, f"{target} is provided by {provided_by}")
    reason = module_support_problem(
        module, pack_root=_pack_root_of(folder), folder=folder, foreign_packages=foreign
    )
    if reason is not None:
        return Check(name, UNSUPPORTED, f"{target} needs KohakuTerrarium's internals: {reason}")
    if module.endswith(".py") or "/" in module:
        exists = (folder or Path.cwd()).joinpath(module).is_file()
    else:
        try:
            exists = importlib.util.find_spec(module.split(".")[0]) is not None
        except (ImportError, ValueError):
            exists = False
    if not exists:
        return Check(name, MISSING, f"module {target} cannot be found; install the package")
    try:  # loaded as a build would load it: a file that raises on import is not "ok"
        kernel.load_object(module, class_name, folder=folder)
    except KTError as exc:
        return Check(name, BROKEN, str(exc))
    return Check(name, OK, f"module {target}")


def _pack_root_of(folder: Path | None) -> Path | None:
    """The pack folder a creature folder belongs to (the parent of ``creatures/``)."""
    if folder is None:
        return None
    for parent in [folder, *folder.parents]:
        if any((parent / n).is_file() for n in (KT_PACK_FILE, *KOHAKU_FILES)):
            return parent
    return None


def _registry_check(name: str, registry: Any, what: str) -> Check:
    if name in registry:
        return Check(name, OK, registry.origin(name))
    return Check(
        name,
        MISSING,
        f"no loaded plugin provides the {what} '{name}' (`kt plugins` lists what is loaded)",
    )


def describe_creature(
    source: Any,
    kernel: kt.Kernel,
    *,
    description: str = "",
    base_dir: Path | None = None,
    where: str | None = None,
    foreign: frozenset[str] = frozenset(),
) -> CreatureReport:
    """Load a creature config and check every name it uses against *kernel*.

    Args:
        source: A creature folder or file, an ``@pack/path`` reference, or a config mapping.
        kernel: The plugin set to resolve names against.
        description: A description to show when the config has none (from a manifest).
        base_dir: For a mapping: the folder its relative paths start from.
        where: What to show as its location (default: its folder).
        foreign: Top-level packages of kohaku.yaml classes (see :mod:`kt_packages.compat`).

    Returns:
        The report; a config that does not load gives a report with ``error`` set.
    """
    try:
        config = kt.config.load_creature_config(
            source, base_dir=base_dir, resolve_ref=kernel.resolve_ref
        )
    except KTError as exc:
        name = source.get("name", "?") if isinstance(source, Mapping) else Path(str(source)).name
        return CreatureReport(name=str(name), where=where or str(source), error=str(exc))
    folder = config.folder
    controller = config.controller
    model = controller.llm or (
        f"{controller.provider}/{controller.model or ''}" if controller.provider else None
    )
    checks: dict[str, list[Check]] = {"tools": [], "sub-agents": [], "triggers": [], "plugins": []}
    for entry in config.tools:
        if entry.module:
            checks["tools"].append(
                _module_check(
                    entry.name,
                    entry.module,
                    entry.class_name,
                    folder=folder,
                    foreign=foreign,
                    kernel=kernel,
                )
            )
        else:
            checks["tools"].append(_registry_check(entry.name, kernel.tools, "tool"))
    for entry in config.subagents:
        checks["sub-agents"].append(_registry_check(entry.name, kernel.subagents, "sub-agent"))
    for entry in config.triggers:
        if entry.module:
            label = entry.name or entry.type
            checks["triggers"].append(
                _module_check(
                    label,
                    entry.module,
                    entry.class_name,
                    folder=folder,
                    foreign=foreign,
                    kernel=kernel,
                )
            )
        else:
            checks["triggers"].append(_registry_check(entry.type, kernel.triggers, "trigger"))
    entry_points = None
    for entry in config.plugins:
        if entry.module:
            checks["plugins"].append(
                _module_check(
                    entry.name,
                    entry.module,
                    entry.class_name,
                    folder=folder,
                    foreign=foreign,
                    kernel=kernel,
                )
            )
            continue
        entry_points = _entry_point_names() if entry_points is None else entry_points
        if kernel.pm.has_plugin(entry.name) or entry.name in entry_points:
            checks["plugins"].append(Check(entry.name, OK, "installed plugin"))
        else:
            checks["plugins"].append(
                Check(entry.name, MISSING, f"plugin '{entry.name}' is not installed")
            )
    io = []
    for kind, entry, registry in (
        ("input", config.input, kernel.inputs),
        ("output", config.output, kernel.outputs),
    ):
        if entry is None:
            continue
        if entry.module:
            io.append(
                _module_check(
                    kind,
                    entry.module,
                    entry.class_name,
                    folder=folder,
                    foreign=foreign,
                    kernel=kernel,
                )
            )
        else:
            check = _registry_check(entry.type, registry, kind)
            io.append(attrs.evolve(check, name=f"{kind} {entry.type}"))
    if io:
        checks["io"] = io
    return CreatureReport(
        name=config.name,
        where=where or str(folder or source),
        description=config.description or description,
        files=tuple(str(f) for f in config.files),
        model=model,
        checks={k: tuple(v) for k, v in checks.items()},
    )


# -- Terrariums ---------------------------------------------------------------------------------

_MEMBER_ONLY_KEYS = ("channels", "privileged")


def describe_terrarium(
    recipe: Path, kernel: kt.Kernel, *, description: str = "", foreign: frozenset[str] = frozenset()
) -> TerrariumReport:
    """Read a terrarium recipe (TOML, or the kt-biome YAML shape) and check its creatures.

    Each member (the root included) is loaded as a creature config relative to the recipe's
    folder. The wiring is checked too: every channel a member listens or sends on is declared,
    and every output-wiring target is a member or ``root``.

    Args:
        recipe: The recipe file, or its folder.
        kernel: The plugin set to resolve names against.
        description: A description to show (from a manifest).
        foreign: Top-level packages of kohaku.yaml classes.

    Returns:
        The report; a recipe that cannot be read gives a report with ``error`` set.
    """
    file = terrarium_recipe_file(recipe) if recipe.is_dir() else recipe
    if file is None:
        return TerrariumReport(recipe.name, str(recipe), error="no terrarium recipe here")
    try:
        data = read_config_file(file)
    except Exception as exc:
        return TerrariumReport(file.parent.name, str(file), error=f"cannot read {file}: {exc}")
    body = data.get("terrarium", data)
    if not isinstance(body, Mapping):
        return TerrariumReport(file.parent.name, str(file), error="'terrarium' must be a table")
    name = str(body.get("name") or file.parent.name)
    channels = body.get("channels") or {}
    channel_names = tuple(channels) if isinstance(channels, Mapping) else ()
    members: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(body.get("root"), Mapping):
        members.append(("root", body["root"]))
    for i, member in enumerate(body.get("creatures") or []):
        if isinstance(member, Mapping):
            members.append((str(member.get("name") or f"creatures[{i}]"), member))
    member_names = {n for n, _ in members}
    problems: list[str] = []
    reports = []
    for member_name, member in members:
        config = {k: v for k, v in member.items() if k not in _MEMBER_ONLY_KEYS}
        config.setdefault("name", member_name)
        reports.append(
            describe_creature(
                config,
                kernel,
                base_dir=file.parent,
                where=f"{file} ({member_name})",
                foreign=foreign,
            )
        )
        member_channels = member.get("channels") or {}
        if isinstance(member_channels, Mapping):
            for key in ("listen", "can_send"):
                for channel in member_channels.get(key) or []:
                    if channel not in channel_names:
                        problems.append(
                            f"{member_name}: {key} names channel '{channel}', which the recipe "
                            "does not declare"
                        )
        for wire in member.get("output_wiring") or []:
            target = wire.get("to") if isinstance(wire, Mapping) else wire
            if target not in member_names and target != "root":
                problems.append(
                    f"{member_name}: output_wiring targets '{target}', which is not a creature "
                    "of this terrarium"
                )
    if not members:
        problems.append("the recipe declares no creatures")
    return TerrariumReport(
        name=name,
        where=str(file),
        description=description,
        creatures=tuple(reports),
        channels=channel_names,
        problems=tuple(problems),
    )


# -- Packs --------------------------------------------------------------------------------------


def describe_pack(
    root: Path,
    kernel: kt.Kernel,
    *,
    kind: str = "",
    source: str = "",
    foreign: frozenset[str] = frozenset(),
) -> PackReport:
    """Describe a pack folder: its manifest, every creature and terrarium checked.

    Args:
        root: The pack folder.
        kernel: The plugin set to resolve names against.
        kind: How it is installed (``copy``, ``git``, ``editable``), if it is.
        source: Where it was installed from.
        foreign: Top-level packages of other packs' kohaku.yaml classes.

    Returns:
        The report.

    Raises:
        PackManifestError: the manifest is invalid.
    """
    manifest = read_manifest(root, check_paths=False)
    foreign = foreign | {m.module.split(".")[0] for m in manifest.foreign_modules if m.module}
    creatures = tuple(
        describe_creature(
            root / entry.path,
            kernel,
            description=entry.description,
            where=entry.path,
            foreign=frozenset(foreign),
        )
        for entry in manifest.creatures
    )
    terrariums = tuple(
        describe_terrarium(
            root / entry.path, kernel, description=entry.description, foreign=frozenset(foreign)
        )
        for entry in manifest.terrariums
    )
    visible = _entry_point_names() if manifest.plugins else set()
    aliases = kernel.module_aliases()
    plugins = tuple(
        Check(p.name, OK, "installed plugin")
        if p.name in visible or kernel.pm.has_plugin(p.name)
        else Check(p.name, MISSING, f"not installed; run `kt update {manifest.name}`")
        for p in manifest.plugins
    )
    return PackReport(
        manifest=manifest,
        root=root,
        kind=kind,
        source=source,
        creatures=creatures,
        terrariums=terrariums,
        plugins=plugins,
        unsupported=tuple(find_unsupported(root, manifest, aliases)),
        substitutes=tuple(find_substitutes(root, manifest, aliases)),
    )


# -- Local folders ------------------------------------------------------------------------------

_SKIP_DIRS = {"__pycache__", "node_modules", "venv", "site-packages", "build", "dist"}


def find_local(top: Path, *, depth: int = 3, limit: int = 5000) -> Iterator[tuple[str, Path]]:
    """Creature and terrarium folders under *top*: (``"creature"`` / ``"terrarium"``, folder).

    Hidden folders, virtual environments and build output are skipped; a creature's own
    sub-folders are not searched.

    Args:
        top: Where to start.
        depth: How many folder levels below *top* to look.
        limit: Stop after visiting this many folders (a safety net for huge trees).
    """
    visited = 0
    stack: list[tuple[Path, int]] = [(top, 0)]
    while stack and visited < limit:
        folder, level = stack.pop()
        visited += 1
        if terrarium_recipe_file(folder) is not None:
            yield "terrarium", folder
            continue
        if folder != top and creature_config_file(folder) is not None:
            yield "creature", folder
            continue
        if level >= depth:
            continue
        try:
            children = sorted(
                (p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True
            )
        except OSError:
            continue
        for child in children:
            if child.name.startswith(".") or child.name in _SKIP_DIRS:
                continue
            if child.name.endswith(".egg-info"):
                continue
            stack.append((child, level + 1))


def foreign_packages_of(roots: list[Path]) -> frozenset[str]:
    """Top-level packages of the kohaku.yaml classes of the packs at *roots*."""
    found: set[str] = set()
    for root in roots:
        try:
            manifest = read_manifest(root, check_paths=False)
        except (ConfigError, OSError):
            continue
        found |= {m.module.split(".")[0] for m in manifest.foreign_modules if m.module}
    return frozenset(found)
