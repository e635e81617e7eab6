"""Pack manifests: ``kt-pack.toml`` (ours) and ``kohaku.yaml`` (kt-biome's), read into one shape.

A *pack* is a folder of creatures, terrariums, skills and prompts, optionally with Python
plugins. Its manifest says what it ships::

    [pack]
    name = "acme"                       # the name in @acme/... references
    version = "0.1.0"
    description = "Support creatures for Acme"

    [[creatures]]
    name = "support"                    # folder creatures/support unless path is given
    description = "Answers ticket questions"

    [[terrariums]]
    name = "triage"
    uses = ["support"]                  # creatures of this pack it runs

    [[plugins]]
    name = "kt_acme"                    # an entry point in the kt.plugins group ...
    project = "python"                  # ... of the Python project in this folder (pip-installed)

    [[tools]]
    name = "lookup_ticket"
    plugin = "kt_acme"                  # the pack plugin that provides it

    [[skills]]
    name = "ticket-triage"              # folder skills/ticket-triage (a SKILL.md bundle)

    [[prompts]]
    name = "tone"                       # file prompts/tone.md
    path = "prompts/tone.md"

    [python]
    requirements = ["httpx>=0.27"]      # pip requirements installed with the pack

A kt-biome ``kohaku.yaml`` is read too. Its Python entries (``plugins``, ``tools``, ``io``,
``triggers``, ``commands``, ``user_commands``) name classes written for KohakuTerrarium's own
module API; they are kept as :class:`ForeignModule` records so that installing and ``kt info``
can report them as unsupported (see :mod:`kt_packages.compat`). A folder with neither file is a
pack named after the folder, whose creatures and terrariums are found by looking.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from kt_packages.errors import PackManifestError

__all__ = [
    "KT_PACK_FILE",
    "KOHAKU_FILES",
    "ForeignModule",
    "PackEntry",
    "PackManifest",
    "PluginDecl",
    "ToolDecl",
    "check_pack_name",
    "read_manifest",
]

KT_PACK_FILE = "kt-pack.toml"
KOHAKU_FILES = ("kohaku.yaml", "kohaku.yml")
CREATURE_FILES = ("creature.toml", "config.toml", "config.yaml", "config.yml", "config.json")
TERRARIUM_FILES = ("terrarium.toml", "terrarium.yaml", "terrarium.yml", "recipe.yaml")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@attrs.frozen
class PackEntry:
    """A creature, terrarium, skill or prompt a pack ships.

    Attributes:
        name: Its name within the pack.
        path: Where it is, relative to the pack root (POSIX separators).
        description: One line for listings.
        uses: Terrariums: the pack's creatures they run. Creatures: the creature they extend.
    """

    name: str
    path: str
    description: str = ""
    uses: tuple[str, ...] = ()


@attrs.frozen
class PluginDecl:
    """A Python plugin a ``kt-pack.toml`` ships: an entry point of a pip-installed project.

    Attributes:
        name: The entry-point name in the ``kt.plugins`` group (what ``--plugins`` accepts).
        project: The folder (relative to the pack root) holding the Python project that
            declares the entry point; ``kt install`` runs pip on it.
        description: One line for listings.
    """

    name: str
    project: str = "."
    description: str = ""


@attrs.frozen
class ToolDecl:
    """A tool a pack's plugin provides, declared so that listings and clash checks see it."""

    name: str
    plugin: str = ""
    description: str = ""


@attrs.frozen
class ForeignModule:
    """A Python class a ``kohaku.yaml`` declares for KohakuTerrarium's module API.

    Attributes:
        kind: ``plugin``, ``tool``, ``io``, ``trigger``, ``command`` or ``user_command``.
        name: The name configs use.
        module: The dotted module (``kt_biome.plugins.cost_tracker``).
        class_name: The class in it.
        description: One line for listings.
    """

    kind: str
    name: str
    module: str
    class_name: str = ""
    description: str = ""


@attrs.frozen
class PackManifest:
    """What a pack ships, whichever manifest format described it.

    Attributes:
        name: The pack name: the ``@name`` of references and the folder it installs to.
        format: ``"kt-pack.toml"``, ``"kohaku.yaml"`` or ``""`` (no manifest).
        file: The manifest file, or ``None``.
        python_requirements: pip requirement specs installed with the pack.
        foreign_modules: kohaku.yaml Python classes (reported as unsupported).
    """

    name: str
    format: str = ""
    file: Path | None = None
    version: str = ""
    description: str = ""
    author: str = ""
    repository: str = ""
    creatures: tuple[PackEntry, ...] = ()
    terrariums: tuple[PackEntry, ...] = ()
    skills: tuple[PackEntry, ...] = ()
    prompts: tuple[PackEntry, ...] = ()
    plugins: tuple[PluginDecl, ...] = ()
    tools: tuple[ToolDecl, ...] = ()
    python_requirements: tuple[str, ...] = ()
    foreign_modules: tuple[ForeignModule, ...] = ()

    def global_names(self) -> dict[str, list[str]]:
        """Names that share one namespace across packs, by kind (for clash checks).

        Returns:
            ``{"plugin": [...], "tool": [...], "skill": [...], "prompt": [...]}``.
        """
        return {
            "plugin": [p.name for p in self.plugins],
            "tool": [t.name for t in self.tools],
            "skill": [s.name for s in self.skills],
            "prompt": [p.name for p in self.prompts],
        }


def check_pack_name(name: str, *, where: str) -> str:
    """Return *name* if it can name a pack, else raise.

    Args:
        name: The candidate.
        where: Where it came from, for the message (``"--name"``, a manifest key ...).

    Raises:
        PackManifestError: the name is empty or has characters other than letters, digits,
            ``.``, ``_`` and ``-`` (it becomes a folder name and the ``@name`` of references).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise PackManifestError(
            f"{where}: {name!r} cannot name a pack; use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return name


# -- Reading ------------------------------------------------------------------------------------


def read_manifest(root: Path, *, check_paths: bool = True) -> PackManifest:
    """Read the manifest of the pack at *root*.

    ``kt-pack.toml`` is looked for first, then ``kohaku.yaml`` / ``kohaku.yml``. Without
    either, the pack is named after its folder and its contents are found by looking.

    Args:
        root: The pack folder.
        check_paths: Also check that every creature, terrarium, skill, prompt and plugin
            project the manifest declares exists, and that terrariums use declared creatures.

    Returns:
        The manifest.

    Raises:
        PackManifestError: the file cannot be parsed, has unknown keys or wrong types, or
            (with *check_paths*) declares something the pack does not contain. The error's
            ``file`` and ``path`` say where.
    """
    root = Path(root)
    kt_pack = root / KT_PACK_FILE
    if kt_pack.is_file():
        manifest = _read_kt_pack(kt_pack)
    else:
        kohaku = next((root / n for n in KOHAKU_FILES if (root / n).is_file()), None)
        if kohaku is not None:
            manifest = _read_kohaku(kohaku)
        else:
            manifest = PackManifest(name=root.resolve().name)
    manifest = _with_discovered(root, manifest)
    if check_paths:
        _check_contents(root, manifest)
    return manifest


def _fail(message: str, *, path: str, file: Path) -> PackManifestError:
    return PackManifestError(message, path=path, file=str(file))


_KT_PACK_KEYS = {
    "pack": {"name", "version", "description", "author", "repository"},
    "creatures": {"name", "path", "description", "base"},
    "terrariums": {"name", "path", "description", "uses"},
    "skills": {"name", "path", "description"},
    "prompts": {"name", "path", "description"},
    "plugins": {"name", "project", "description"},
    "tools": {"name", "plugin", "description"},
    "python": {"requirements"},
}


def _read_kt_pack(file: Path) -> PackManifest:
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _fail(f"cannot read the manifest ({exc}); fix the TOML", path="", file=file) from exc
    unknown = sorted(set(data) - set(_KT_PACK_KEYS))
    if unknown:
        raise _fail(
            f"unknown key {unknown[0]!r}; a kt-pack.toml has {', '.join(sorted(_KT_PACK_KEYS))}",
            path=unknown[0],
            file=file,
        )
    pack = _table(data.get("pack"), key="pack", file=file)
    _no_unknown(pack, _KT_PACK_KEYS["pack"], key="pack", file=file)
    if "name" not in pack:
        raise _fail('the [pack] table needs a name: name = "my-pack"', path="pack.name", file=file)
    name = check_pack_name(_text(pack["name"], key="pack.name", file=file), where=f"{file}")
    python = _table(data.get("python"), key="python", file=file)
    _no_unknown(python, _KT_PACK_KEYS["python"], key="python", file=file)
    return PackManifest(
        name=name,
        format=KT_PACK_FILE,
        file=file,
        version=_text(pack.get("version", ""), key="pack.version", file=file),
        description=_text(pack.get("description", ""), key="pack.description", file=file),
        author=_text(pack.get("author", ""), key="pack.author", file=file),
        repository=_text(pack.get("repository", ""), key="pack.repository", file=file),
        creatures=_entries(data, "creatures", "creatures/{}", strict=True, file=file),
        terrariums=_entries(data, "terrariums", "terrariums/{}", strict=True, file=file),
        skills=_entries(data, "skills", "skills/{}", strict=True, file=file),
        prompts=_entries(data, "prompts", "prompts/{}.md", strict=True, file=file),
        plugins=tuple(
            PluginDecl(
                name=_text(item["name"], key=f"plugins[{i}].name", file=file),
                project=_text(item.get("project", "."), key=f"plugins[{i}].project", file=file),
                description=_text(
                    item.get("description", ""), key=f"plugins[{i}].description", file=file
                ),
            )
            for i, item in _items(data, "plugins", strict=True, file=file)
        ),
        tools=tuple(
            ToolDecl(
                name=_text(item["name"], key=f"tools[{i}].name", file=file),
                plugin=_text(item.get("plugin", ""), key=f"tools[{i}].plugin", file=file),
                description=_text(
                    item.get("description", ""), key=f"tools[{i}].description", file=file
                ),
            )
            for i, item in _items(data, "tools", strict=True, file=file)
        ),
        python_requirements=_strings(
            python.get("requirements", []), key="python.requirements", file=file
        ),
    )


_FOREIGN_KINDS = {
    "plugins": "plugin",
    "tools": "tool",
    "io": "io",
    "triggers": "trigger",
    "commands": "command",
    "user_commands": "user_command",
}


def _read_kohaku(file: Path) -> PackManifest:
    try:
        import yaml
    except ImportError:
        raise _fail(
            "reading a kohaku.yaml needs PyYAML; install it with "
            "`pip install 'kt-terrarium[yaml]'`",
            path="",
            file=file,
        ) from None
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _fail(f"cannot read the manifest ({exc}); fix the YAML", path="", file=file) from exc
    if not isinstance(data, Mapping):
        raise _fail("the manifest must be a mapping of keys", path="", file=file)
    name = data.get("name") or file.parent.resolve().name
    check_pack_name(str(name), where=f"{file}: name")
    foreign = []
    for key, kind in _FOREIGN_KINDS.items():
        for i, item in _items(data, key, strict=False, file=file):
            foreign.append(
                ForeignModule(
                    kind=kind,
                    name=_text(item["name"], key=f"{key}[{i}].name", file=file),
                    module=str(item.get("module") or ""),
                    class_name=str(item.get("class") or item.get("class_name") or ""),
                    description=str(item.get("description") or ""),
                )
            )
    templates = _entries(data, "templates", "prompts/{}.md", strict=False, file=file)
    return PackManifest(
        name=str(name),
        format=file.name,
        file=file,
        version=str(data.get("version") or ""),
        description=str(data.get("description") or ""),
        author=str(data.get("author") or ""),
        repository=str(data.get("repository") or ""),
        creatures=_entries(data, "creatures", "creatures/{}", strict=False, file=file),
        terrariums=_entries(data, "terrariums", "terrariums/{}", strict=False, file=file),
        skills=_entries(data, "skills", "skills/{}", strict=False, file=file),
        prompts=_entries(data, "prompts", "prompts/{}.md", strict=False, file=file) + templates,
        python_requirements=_strings(
            data.get("python_dependencies") or [], key="python_dependencies", file=file
        ),
        foreign_modules=tuple(foreign),
    )


def _items(data: Mapping[str, Any], key: str, *, strict: bool, file: Path):
    """(index, table) for each entry of list *key*; a bare string is ``{name: string}``."""
    value = data.get(key) or []
    if not isinstance(value, list):
        raise _fail(f"{key} must be a list of tables", path=key, file=file)
    for i, item in enumerate(value):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping):
            raise _fail("expected a table with a name", path=f"{key}[{i}]", file=file)
        if "name" not in item:
            raise _fail("required key 'name' is missing", path=f"{key}[{i}].name", file=file)
        if strict:
            _no_unknown(item, _KT_PACK_KEYS[key], key=f"{key}[{i}]", file=file)
        yield i, item


def _entries(
    data: Mapping[str, Any], key: str, default_path: str, *, strict: bool, file: Path
) -> tuple[PackEntry, ...]:
    entries = []
    for i, item in _items(data, key, strict=strict, file=file):
        name = _text(item["name"], key=f"{key}[{i}].name", file=file)
        uses = item.get("uses", [item["base"]] if item.get("base") else [])
        entries.append(
            PackEntry(
                name=name,
                path=_relative(
                    item.get("path") or default_path.format(name), key=f"{key}[{i}].path", file=file
                ),
                description=" ".join(str(item.get("description") or "").split()),
                uses=_strings(uses, key=f"{key}[{i}].uses", file=file),
            )
        )
    return tuple(entries)


def _relative(value: Any, *, key: str, file: Path) -> str:
    text = _text(value, key=key, file=file).strip().rstrip("/")
    path = Path(text)
    if not text or path.is_absolute() or ".." in path.parts:
        raise _fail(
            f"{text!r} must be a path inside the pack (relative, without '..')", path=key, file=file
        )
    return path.as_posix()


def _table(value: Any, *, key: str, file: Path) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(f"[{key}] must be a table", path=key, file=file)
    return value


def _no_unknown(table: Mapping[str, Any], allowed: set[str], *, key: str, file: Path) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(
            f"unknown key {unknown[0]!r}; allowed here: {', '.join(sorted(allowed))}",
            path=f"{key}.{unknown[0]}",
            file=file,
        )


def _text(value: Any, *, key: str, file: Path) -> str:
    if not isinstance(value, str):
        raise _fail(f"expected a string, got {value!r}", path=key, file=file)
    return value


def _strings(value: Any, *, key: str, file: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(f"expected a list of strings, got {value!r}", path=key, file=file)
    return tuple(value)


# -- Contents -----------------------------------------------------------------------------------


def creature_config_file(folder: Path) -> Path | None:
    """The creature config in *folder* (same names and order as the kernel), or ``None``."""
    return next((folder / n for n in CREATURE_FILES if (folder / n).is_file()), None)


def terrarium_recipe_file(folder: Path) -> Path | None:
    """The terrarium recipe in *folder*, or ``None``."""
    return next((folder / n for n in TERRARIUM_FILES if (folder / n).is_file()), None)


def _with_discovered(root: Path, manifest: PackManifest) -> PackManifest:
    """Add creature and terrarium folders the manifest does not declare."""
    found: dict[str, tuple[PackEntry, ...]] = {}
    for kind, has_config in (
        ("creatures", creature_config_file),
        ("terrariums", terrarium_recipe_file),
    ):
        declared: tuple[PackEntry, ...] = getattr(manifest, kind)
        paths = {e.path for e in declared}
        names = {e.name for e in declared}
        extra = []
        folder = root / kind
        if folder.is_dir():
            for sub in sorted(folder.iterdir()):
                rel = f"{kind}/{sub.name}"
                if sub.is_dir() and rel not in paths and sub.name not in names and has_config(sub):
                    extra.append(PackEntry(name=sub.name, path=rel))
        found[kind] = declared + tuple(extra)
    return attrs.evolve(manifest, **found)


def _check_contents(root: Path, manifest: PackManifest) -> None:
    file = manifest.file or root
    checks = (
        ("creatures", manifest.creatures, creature_config_file, "a creature config"),
        ("terrariums", manifest.terrariums, terrarium_recipe_file, "a terrarium recipe"),
    )
    for key, entries, finder, what in checks:
        _no_duplicates(key, [e.name for e in entries], file=file)
        for i, entry in enumerate(entries):
            folder = root / entry.path
            if finder(folder) is None and not (folder.is_file() and key == "creatures"):
                raise _fail(
                    f"{key[:-1]} '{entry.name}' is declared at {entry.path}, which holds no "
                    f"{what}; add it or fix the path",
                    path=f"{key}[{i}].path",
                    file=file,
                )
    for key, entries in (("skills", manifest.skills), ("prompts", manifest.prompts)):
        _no_duplicates(key, [e.name for e in entries], file=file)
        for i, entry in enumerate(entries):
            if not (root / entry.path).exists():
                raise _fail(
                    f"{key[:-1]} '{entry.name}' is declared at {entry.path}, which does not "
                    "exist; add it or fix the path",
                    path=f"{key}[{i}].path",
                    file=file,
                )
    creatures = {e.name for e in manifest.creatures}
    for i, terrarium in enumerate(manifest.terrariums):
        for used in terrarium.uses:
            if used not in creatures:
                raise _fail(
                    f"terrarium '{terrarium.name}' uses creature '{used}', which this pack "
                    f"does not declare (its creatures: {', '.join(sorted(creatures)) or 'none'})",
                    path=f"terrariums[{i}].uses",
                    file=file,
                )
    _no_duplicates("plugins", [p.name for p in manifest.plugins], file=file)
    _no_duplicates("tools", [t.name for t in manifest.tools], file=file)
    for i, plugin in enumerate(manifest.plugins):
        project = root / plugin.project
        if not any((project / n).is_file() for n in ("pyproject.toml", "setup.py", "setup.cfg")):
            raise _fail(
                f"plugin '{plugin.name}' names the Python project {plugin.project!r}, which has "
                "no pyproject.toml; point project at the folder that declares the entry point",
                path=f"plugins[{i}].project",
                file=file,
            )
    plugins = {p.name for p in manifest.plugins}
    for i, tool in enumerate(manifest.tools):
        if tool.plugin and tool.plugin not in plugins:
            raise _fail(
                f"tool '{tool.name}' names plugin '{tool.plugin}', which this pack does not "
                f"declare (its plugins: {', '.join(sorted(plugins)) or 'none'})",
                path=f"tools[{i}].plugin",
                file=file,
            )


def _no_duplicates(key: str, names: list[str], *, file: Path) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise _fail(
                f"{key[:-1]} '{name}' is declared twice", path=f"{key}[{i}].name", file=file
            )
        seen.add(name)
