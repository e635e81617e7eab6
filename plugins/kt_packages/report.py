"""What the pack commands print: install summaries, ``kt list`` and ``kt info`` reports.

Kept apart from :mod:`kt_packages.cli` so that listing ``kt``'s commands (``kt --help``) does
not import the manifest, store and report machinery; a command imports this module when it
runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click

import kt
from kt_packages.compat import summarize
from kt_packages.describe import (
    BROKEN,
    MISSING,
    OK,
    UNSUPPORTED,
    CreatureReport,
    PackReport,
    TerrariumReport,
    describe_creature,
    describe_pack,
    describe_terrarium,
    find_local,
    foreign_packages_of,
)
from kt_packages.manifest import (
    KOHAKU_FILES,
    KT_PACK_FILE,
    creature_config_file,
    terrarium_recipe_file,
)
from kt_packages.refs import resolve
from kt_packages.store import InstallReport, PackStore, split_ref

__all__ = ["print_install", "show_info", "show_list", "warn"]

UNSUPPORTED_NOTE = (
    "a creature that lists an unsupported plugin fails to build; extend it with "
    'no_inherit = ["plugins"] to run it without them'
)


def warn(message: str) -> None:
    """Print ``kt: warning: MESSAGE`` on stderr."""
    click.echo(f"kt: warning: {message}", err=True)


def _names(items: Iterable[Any]) -> str:
    return ", ".join(item.name for item in items) or "none"


def _print_unsupported(items: Sequence[Any]) -> None:
    click.echo(f"Not supported ({len(items)}), left out: they need KohakuTerrarium's internals,")
    for line in summarize(list(items)):
        click.echo(f"  {line}")
    click.echo(f"  note: {UNSUPPORTED_NOTE}")


def print_install(report: InstallReport) -> None:
    """Print what ``kt install`` did: contents, unsupported parts, warnings, a next step."""
    pack, manifest = report.pack, report.manifest
    version = f" {manifest.version}" if manifest.version else ""
    how = {
        "editable": f"linked to {pack.root} (editable)",
        "git": f"cloned from {pack.source}",
        "copy": f"copied from {pack.source}",
    }[pack.kind]
    verb = "Reinstalled" if report.replaced else "Installed"
    where = "" if pack.kind == "editable" else f" in {pack.root}"
    click.echo(f"{verb} {pack.name}{version}{where}, {how}.")
    click.echo(f"  creatures ({len(manifest.creatures)}): {_names(manifest.creatures)}")
    click.echo(f"  terrariums ({len(manifest.terrariums)}): {_names(manifest.terrariums)}")
    if manifest.skills or manifest.prompts:
        click.echo(f"  skills: {_names(manifest.skills)}; prompts: {_names(manifest.prompts)}")
    if manifest.plugins:
        click.echo(f"  Python plugins: {_names(manifest.plugins)} (installed with pip)")
    if report.unsupported:
        _print_unsupported(report.unsupported)
    for warning in report.warnings:
        warn(warning)
    if manifest.creatures:
        first = f"@{pack.name}/{manifest.creatures[0].path}"
        if report.unsupported:  # its creatures may list those plugins: check before running
            click.echo(f"Check one before running it: kt info {first}")
        else:
            click.echo(f"Run one: kt run {first}")


def show_list(path: Path) -> None:
    """Print installed packs, then creature and terrarium folders under *path*."""
    store = PackStore()
    packs = store.installed()
    click.echo(f"Installed packs ({store.root}):" if packs else f"No packs in {store.root}.")
    for pack in packs:
        if pack.broken:
            click.echo(f"  {pack.name} (editable, broken: {pack.root} is gone)")
            continue
        try:
            manifest = pack.manifest()
        except kt.errors.KTError as exc:
            click.echo(f"  {pack.name} (cannot read its manifest: {exc})")
            continue
        version = f" {manifest.version}" if manifest.version else ""
        kind = f" ({pack.kind})" if pack.kind != "copy" else ""
        click.echo(f"  {pack.name}{version}{kind}  {pack.root}")
        if manifest.description:
            click.echo(f"    {manifest.description}")
        click.echo(f"    creatures: {_names(manifest.creatures)}")
        click.echo(f"    terrariums: {_names(manifest.terrariums)}")
    found = list(find_local(path))
    if found:
        click.echo(f"Local creatures and terrariums under {path}:")
        for kind, folder in found:
            shown = folder.relative_to(path) if folder.is_relative_to(path) else folder
            click.echo(f"  {kind:<10} {shown}")
    if packs:
        click.echo(f"Run one: kt run @{packs[0].name}/creatures/NAME   (details: kt info @NAME)")


def show_info(target: str, kernel: kt.Kernel) -> None:
    """Print what *target* is (creature, terrarium or pack), checked against *kernel*."""
    store = PackStore()
    foreign = foreign_packages_of([p.root for p in store.installed() if not p.broken])
    if target.startswith("@"):
        name, sub = split_ref(target)
        if not sub:
            pack = store.require(name)
            _print_pack(
                describe_pack(
                    pack.root, kernel, kind=pack.kind, source=pack.source, foreign=foreign
                )
            )
            return
        path = resolve(target, kernel=kernel)
    else:
        path = Path(target).expanduser()
        if not path.exists():
            pack = store.get(target)
            if pack is None:
                raise kt.errors.ConfigNotFoundError(
                    f"{target} is not a folder, a file, an @pack/path reference or an installed "
                    "pack; `kt list` shows what is installed and found here"
                )
            _print_pack(
                describe_pack(
                    pack.root, kernel, kind=pack.kind, source=pack.source, foreign=foreign
                )
            )
            return
    folder = path if path.is_dir() else path.parent
    is_manifest = path.is_file() and path.name in (KT_PACK_FILE, *KOHAKU_FILES)
    if is_manifest:
        _print_pack(describe_pack(folder, kernel, foreign=foreign))
    elif path.is_dir() and terrarium_recipe_file(path) is not None or _is_recipe(path):
        _print_terrarium(describe_terrarium(path, kernel, foreign=foreign))
    elif path.is_file() or creature_config_file(path) is not None:
        _print_creature(describe_creature(path, kernel, foreign=foreign), full=True)
    elif (
        any((folder / n).is_file() for n in (KT_PACK_FILE, *KOHAKU_FILES))
        or (folder / "creatures").is_dir()
    ):
        _print_pack(describe_pack(folder, kernel, foreign=foreign))
    else:
        raise kt.errors.ConfigNotFoundError(
            f"{path} holds no creature config, terrarium recipe or pack manifest"
        )


def _is_recipe(path: Path) -> bool:
    return path.is_file() and path.name.startswith(("terrarium.", "recipe."))


_LABELS = {OK: "ok", MISSING: "MISSING", UNSUPPORTED: "UNSUPPORTED", BROKEN: "BROKEN"}


def _summary(report: CreatureReport) -> str:
    parts = []
    for kind in ("tools", "sub-agents", "triggers", "plugins"):
        total = report.count(kind)
        if total:
            resolved = report.count(kind, OK)
            parts.append(f"{total} {kind} ({resolved} resolved)")
    return ", ".join(parts) or "no tools"


def _problem_lines(report: CreatureReport) -> list[str]:
    """Names that do not resolve, one line per kind and status (compact listings)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for kind, check in report.problems():
        groups.setdefault((kind, check.status), []).append(check.name)
    why = {
        MISSING: "nothing loaded provides them (`kt plugins` lists what is loaded)",
        UNSUPPORTED: "they need KohakuTerrarium's internals",
        BROKEN: "their code fails to load (`kt info NAME` shows the error)",
    }
    return [
        f"{_LABELS[status]} {kind} ({len(names)}): {', '.join(names)}: {why[status]}"
        for (kind, status), names in groups.items()
    ]


def _print_creature(report: CreatureReport, *, full: bool, indent: str = "") -> None:
    if report.error is not None:
        click.echo(f"{indent}creature {report.name} ({report.where}): cannot load: {report.error}")
        return
    click.echo(f"{indent}creature {report.name}  ({report.where})")
    if report.description:
        click.echo(f"{indent}  {report.description}")
    model = report.model or "not set: choose one with --llm BACKEND/MODEL or llm in [controller]"
    click.echo(f"{indent}  model: {model}")
    if full:
        click.echo(f"{indent}  config: {' <- '.join(reversed(report.files))}")
        for kind, checks in report.checks.items():
            if not checks:
                continue
            resolved = sum(1 for c in checks if c.status == OK)
            click.echo(f"{indent}  {kind} ({len(checks)}, {resolved} resolved):")
            width = max(len(c.name) for c in checks)
            for check in checks:
                label = _LABELS[check.status]
                click.echo(f"{indent}    {check.name:<{width}}  {label:<11}  {check.detail}")
    else:
        click.echo(f"{indent}  {_summary(report)}")
        for line in _problem_lines(report):
            click.echo(f"{indent}  {line}")
    if full and any(c.status == UNSUPPORTED for _, c in report.problems()):
        click.echo(f"{indent}  note: {UNSUPPORTED_NOTE}")


def _print_terrarium(report: TerrariumReport, *, indent: str = "", full: bool = True) -> None:
    if report.error is not None:
        click.echo(f"{indent}terrarium {report.name} ({report.where}): {report.error}")
        return
    click.echo(f"{indent}terrarium {report.name}  ({report.where})")
    if report.description:
        click.echo(f"{indent}  {report.description}")
    click.echo(f"{indent}  creatures: {_names(report.creatures)}")
    click.echo(f"{indent}  channels: {', '.join(report.channels) or 'none'}")
    for problem in report.problems:
        click.echo(f"{indent}  PROBLEM {problem}")
    if full:
        for creature in report.creatures:
            _print_creature(creature, full=False, indent=indent + "  ")


def _print_pack(report: PackReport) -> None:
    manifest = report.manifest
    version = f" {manifest.version}" if manifest.version else ""
    click.echo(f"pack {manifest.name}{version}  ({report.root})")
    if manifest.description:
        click.echo(f"  {manifest.description}")
    if report.kind:
        source = f" from {report.source}" if report.source else ""
        click.echo(f"  installed: {report.kind}{source}")
    click.echo(f"  manifest: {manifest.format or 'none'}")
    click.echo(f"  skills: {_names(manifest.skills)}")
    click.echo(f"  prompts: {_names(manifest.prompts)}")
    for check in report.plugins:
        click.echo(f"  plugin {check.name}: {_LABELS[check.status]} {check.detail}")
    click.echo(f"creatures ({len(report.creatures)}):")
    for creature in report.creatures:
        _print_creature(creature, full=False, indent="  ")
    click.echo(f"terrariums ({len(report.terrariums)}):")
    for terrarium in report.terrariums:
        _print_terrarium(terrarium, indent="  ", full=False)
    if report.substitutes:
        click.echo(f"Provided by first-party plugins ({len(report.substitutes)}):")
        for item in report.substitutes:
            click.echo(f"  {item.kind} {item.name}: {item.module} -> {item.provided_by}")
    if report.unsupported:
        _print_unsupported(report.unsupported)
