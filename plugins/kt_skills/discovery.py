"""Finding skills: SKILL.md bundles in packs, the creature folder, the user home, the project.

A skill is a folder ``<name>/SKILL.md`` (its other files, such as ``scripts/`` or
``references/``, stay reachable through the folder) or a flat ``<name>.md``. Roots are read
from lowest to highest precedence, and a skill found later replaces an earlier one of the same
name:

1. installed packs (``$KT_HOME/packages/<pack>`` or a ``<pack>.link``): the ``[[skills]]``
   entries of ``kt-pack.toml`` (or ``kohaku.yaml``), else the pack's ``skills/`` folder;
2. the creature's folder, base configs first: ``skills/`` and ``prompts/skills/``;
3. the user's ``$KT_HOME/skills`` (``~/.kt/skills``);
4. the project: ``<working dir>/.kt/skills``.

Within one root, the folder form shadows a flat file of the same name. A file that cannot be
read is skipped, with a warning.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from kt_skills.frontmatter import SkillFormatError, split_front_matter

__all__ = ["Skill", "discover", "load_skill", "pack_roots", "skills_in_folder"]

SKILL_FILE = "SKILL.md"


@attrs.frozen
class Skill:
    """One skill.

    Attributes:
        name: The name the model and ``/name`` use (front matter ``name``, else the folder or
            file name).
        description: What it is for; its first line goes into the prompt index.
        body: The instructions (the file after its front matter).
        path: The ``SKILL.md`` or ``<name>.md`` file.
        origin: ``pack:<name>``, ``creature``, ``user`` or ``project``.
        paths: Glob patterns; files matching them in the working folder suggest the skill.
        allowed_tools: Tools the skill expects (informational).
        disable_model_invocation: Kept out of the prompt index (``skill`` and ``/name``
            still work).
        license: The skill's licence, if given.
        extra: Every other front-matter key, as written.
    """

    name: str
    description: str
    body: str
    path: Path
    origin: str
    paths: tuple[str, ...] = ()
    allowed_tools: tuple[str, ...] = ()
    disable_model_invocation: bool = False
    license: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def folder(self) -> Path | None:
        """The bundle folder of a ``SKILL.md`` skill (``None`` for a flat file)."""
        return self.path.parent if self.path.name == SKILL_FILE else None

    @property
    def summary(self) -> str:
        """The first line of the description."""
        return self.description.strip().split("\n", 1)[0].strip()


def _list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise SkillFormatError(f"expected a list or a comma-separated string, got {value!r}")


def load_skill(
    path: Path, *, origin: str, default_name: str | None = None, description: str = ""
) -> Skill:
    """Read one skill file.

    Args:
        path: The ``SKILL.md`` or ``<name>.md`` file.
        origin: Where it was found (``pack:<name>``, ``creature``, ``user``, ``project``).
        default_name: The name when the front matter has none (default: the folder name of a
            ``SKILL.md``, else the file stem).
        description: Used when the front matter gives no description (a pack manifest's).

    Raises:
        SkillFormatError: the file cannot be read or its front matter is invalid (the message
            names the file).
        OSError: the file cannot be opened.
    """
    try:
        meta, body = split_front_matter(path.read_text(encoding="utf-8"))
        fallback = default_name or (path.parent.name if path.name == SKILL_FILE else path.stem)
        extra = {k: v for k, v in meta.items() if k not in _KNOWN}
        return Skill(
            name=str(meta.get("name") or fallback).strip(),
            description=str(meta.get("description") or description or "").strip(),
            body=body.strip(),
            path=path,
            origin=origin,
            paths=_list(meta.get("paths")),
            allowed_tools=_list(meta.get("allowed-tools", meta.get("allowed_tools"))),
            disable_model_invocation=bool(
                meta.get("disable-model-invocation", meta.get("disable_model_invocation", False))
            ),
            license=None if meta.get("license") is None else str(meta["license"]),
            extra=extra,
        )
    except SkillFormatError as exc:
        raise SkillFormatError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise SkillFormatError(f"{path}: not UTF-8 text ({exc.reason})") from None


_KNOWN = {
    "name",
    "description",
    "paths",
    "allowed-tools",
    "allowed_tools",
    "disable-model-invocation",
    "disable_model_invocation",
    "license",
}


def skills_in_folder(folder: Path, *, origin: str, warnings: list[str]) -> list[Skill]:
    """The skills of one root folder, sorted by name; the folder form shadows a flat file."""
    if not folder.is_dir():
        return []
    found: dict[str, Skill] = {}
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    flat = [p for p in entries if p.is_file() and p.suffix == ".md" and not p.name.startswith(".")]
    bundles = [p / SKILL_FILE for p in entries if p.is_dir() and (p / SKILL_FILE).is_file()]
    for path in flat + bundles:  # bundles last: they shadow flat files of the same name
        skill = _try_load(path, origin=origin, warnings=warnings)
        if skill is not None:
            found[skill.name] = skill
    return [found[name] for name in sorted(found)]


def _try_load(path: Path, *, warnings: list[str], **kwargs: Any) -> Skill | None:
    try:
        return load_skill(path, **kwargs)
    except (SkillFormatError, OSError) as exc:
        warnings.append(f"skill skipped: {exc}")
        return None


def pack_roots(kt_home: Path) -> list[tuple[str, Path]]:
    """Installed packs as (name, folder), sorted by name; a ``<name>.link`` wins over a folder."""
    root = kt_home / "packages"
    if not root.is_dir():
        return []
    packs: dict[str, Path] = {}
    for entry in root.iterdir():
        if entry.is_dir() and not entry.name.startswith("."):
            packs.setdefault(entry.name, entry)
    for entry in root.glob("*.link"):
        try:
            target = Path(entry.read_text(encoding="utf-8").strip())
        except OSError:
            continue
        if target.is_dir():
            packs[entry.stem] = target
    return sorted(packs.items())


def _pack_skill_entries(folder: Path) -> list[Mapping[str, Any]] | None:
    """The ``skills`` entries of a pack's manifest; ``None`` when it declares none."""
    manifest = folder / "kt-pack.toml"
    data: Any = None
    if manifest.is_file():
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    else:
        for name in ("kohaku.yaml", "kohaku.yml"):
            if (folder / name).is_file():
                try:
                    import yaml
                except ImportError:
                    return None  # no YAML reader: fall back to the skills/ folder
                data = yaml.safe_load((folder / name).read_text(encoding="utf-8"))
                break
    entries = data.get("skills") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        return None
    return [e if isinstance(e, Mapping) else {"name": str(e)} for e in entries]


def _pack_skills(name: str, folder: Path, warnings: list[str]) -> list[Skill]:
    origin = f"pack:{name}"
    try:
        entries = _pack_skill_entries(folder)
    except (OSError, ValueError) as exc:
        warnings.append(f"pack '{name}': manifest unreadable ({exc}); its skills are skipped")
        return []
    if entries is None:
        return skills_in_folder(folder / "skills", origin=origin, warnings=warnings)
    skills = []
    for entry in entries:
        skill_name = str(entry.get("name", "")).strip()
        if not skill_name:
            continue
        target = folder / str(entry.get("path") or f"skills/{skill_name}")
        if target.is_dir():
            target = target / SKILL_FILE
        elif not target.exists() and target.with_suffix(".md").is_file():
            target = target.with_suffix(".md")
        skill = _try_load(
            target,
            origin=origin,
            warnings=warnings,
            default_name=skill_name,
            description=str(entry.get("description") or ""),
        )
        if skill is not None:
            skills.append(skill)
    return skills


def discover(
    *,
    creature_folders: Iterable[Path] = (),
    kt_home: Path | None = None,
    project: Path | None = None,
) -> tuple[dict[str, Skill], list[str]]:
    """Every skill visible to a creature, by name, after precedence.

    Args:
        creature_folders: The creature's folder and its base configs' folders, base first.
        kt_home: The kt home (packs and user skills); ``None`` skips both.
        project: The working directory (``.kt/skills``); ``None`` skips it.

    Returns:
        The skills by name (sorted), and warnings about files that were skipped.
    """
    warnings: list[str] = []
    layers: list[list[Skill]] = []
    if kt_home is not None:
        for name, folder in pack_roots(kt_home):
            layers.append(_pack_skills(name, folder, warnings))
    for folder in creature_folders:
        for sub in ("skills", "prompts/skills"):
            layers.append(skills_in_folder(folder / sub, origin="creature", warnings=warnings))
    if kt_home is not None:
        layers.append(skills_in_folder(kt_home / "skills", origin="user", warnings=warnings))
    if project is not None:
        layers.append(
            skills_in_folder(project / ".kt" / "skills", origin="project", warnings=warnings)
        )
    found: dict[str, Skill] = {}
    for layer in layers:
        for skill in layer:
            found[skill.name] = skill  # last wins
    return {name: found[name] for name in sorted(found)}, warnings
