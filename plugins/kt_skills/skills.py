"""A creature's skills at run time: which are enabled, the prompt index, and the three ways in.

1. **The prompt index.** Enabled skills (except ``disable-model-invocation`` ones) are listed,
   sorted by name, in a "Skills" section of the system prompt, within
   ``skill_index_budget_bytes``. It is added only when the creature offers the ``skill`` tool,
   since that is how the model acts on it.
2. **The ``skill`` tool.** The model loads a skill's instructions by name.
3. **``/name args``.** A user message that starts with ``/`` and an enabled skill's name is
   replaced, in the history, by a message asking the model to follow that skill, with its
   instructions and the arguments. The original text is kept in the message's
   ``meta["skill_input"]``.

Files in the working folder that match a skill's ``paths`` globs put a one-time hint into the
model's next request, suggesting the skill tool.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections import deque
from pathlib import Path

import attrs

import kt
from kt.config.home import kt_home
from kt.errors import KTError
from kt_skills.discovery import Skill, discover

__all__ = [
    "SkillSet",
    "UnknownSkillError",
    "index_text",
    "invocation_text",
    "skill_set",
    "skill_text",
]

SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", "env", "build"}
    | {"dist", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "target", ".cache"}
)
SCAN_DEPTH = 3
SCAN_LIMIT = 500
INDEX_ORDER = 600  # after plugin sections (500): the index reads as the prompt's last part
_SLASH = re.compile(r"^/(?P<name>[A-Za-z0-9][\w.:-]*)(?:[ \t]+(?P<args>.*))?$", re.DOTALL)


class UnknownSkillError(KTError):
    """No skill of that name is visible to the creature; the message lists the ones that are."""


@attrs.define(eq=False)
class SkillSet:
    """The skills one creature sees, and which of them are enabled."""

    skills: dict[str, Skill]
    enabled: dict[str, bool]
    warnings: list[str]
    announced: frozenset[str] = frozenset()
    scan: tuple[tuple[str, int], list[str]] | None = None

    def get(self, name: str) -> Skill:
        """The skill called *name*.

        Raises:
            UnknownSkillError: listing the skills that exist.
        """
        try:
            return self.skills[name]
        except KeyError:
            known = ", ".join(self.skills) or "none"
            raise UnknownSkillError(f"unknown skill '{name}'; available skills: {known}") from None

    def model_visible(self) -> list[Skill]:
        """Enabled skills the prompt index may list, by name."""
        return [
            s
            for s in self.skills.values()
            if self.enabled[s.name] and not s.disable_model_invocation
        ]


_SKILLS = kt.StashKey[SkillSet]()


def refresh_skills(agent: kt.Agent) -> SkillSet:
    """Find *agent*'s skills again (after one was written), keeping what was enabled."""
    before = agent.stash.get(_SKILLS, None)
    if before is not None:
        del agent.stash[_SKILLS]
    found = skill_set(agent)
    if before is not None:
        for name, enabled in before.enabled.items():
            if name in found.enabled:
                found.enabled[name] = enabled
        found.announced = before.announced
    return found


def skill_set(agent: kt.Agent) -> SkillSet:
    """The creature's skills, found on first use and kept for its life."""
    found = agent.stash.get(_SKILLS, None)
    if found is None:
        config = agent.config
        folders = list(dict.fromkeys(f.parent for f in config.files))
        if not folders and config.folder is not None:
            folders = [config.folder]
        skills, warnings = discover(
            creature_folders=folders, kt_home=kt_home(agent.kernel.env), project=agent.working_dir
        )
        wanted = set(config.skills)
        enabled = {
            name: not skill.origin.startswith("pack:") or "*" in wanted or name in wanted
            for name, skill in skills.items()
        }
        for name in sorted(wanted - set(skills) - {"*"}):
            warnings.append(f"skills: '{name}' names no skill this creature can see")
        found = SkillSet(skills, enabled, warnings)
        agent.stash[_SKILLS] = found
    return found


# -- What the model reads -----------------------------------------------------------------------


def index_text(skills: list[Skill], budget: int) -> str:
    """The "Skills" prompt section: one line per skill, within *budget* UTF-8 bytes.

    The first entry is always listed, even past the budget; entries that do not fit are
    counted in a closing note. ``budget == 0`` or no skills: no section (``""``).
    """
    if not skills or budget <= 0:
        return ""
    header = (
        "## Skills\nSkills are instructions for particular tasks. When one fits your task, "
        "call the `skill` tool with its name (and any arguments) before you begin, then follow "
        "what it says."
    )
    lines = [header]
    used = len(header.encode("utf-8"))
    for shown, skill in enumerate(skills):
        line = f"- `{skill.name}` — {skill.summary}" if skill.summary else f"- `{skill.name}`"
        size = len(line.encode("utf-8")) + 1
        if shown and used + size > budget:
            lines.append(f"({len(skills) - shown} more skill(s) not listed for lack of space.)")
            break
        lines.append(line)
        used += size
    return "\n".join(lines)


def skill_text(skill: Skill, arguments: str = "") -> str:
    """What the ``skill`` tool returns: heading, description, arguments, folder, body."""
    head = [f"## Skill: {skill.name}"]
    if skill.description:
        head.append(skill.description)
    if arguments:
        head.append(f"Arguments: {arguments}")
    if skill.folder is not None:
        head.append(f"Skill folder (scripts, references): {skill.folder}")
    return "\n".join(head) + ("\n\n" + skill.body if skill.body else "")


def invocation_text(skill: Skill, arguments: str) -> str:
    """The user message a ``/name args`` line becomes."""
    lines = [f"Follow the skill `{skill.name}` below for this request."]
    if arguments:
        lines.append(f"Arguments the user provided: {arguments}")
    return "\n".join(lines) + "\n\n" + skill_text(skill)


def parse_slash(text: str) -> tuple[str, str] | None:
    """``"/deploy prod now"`` → ``("deploy", "prod now")``; ``None`` when not a slash line."""
    match = _SLASH.match(text.strip())
    if match is None:
        return None
    return match["name"], (match["args"] or "").strip()


# -- Paths auto-activation ----------------------------------------------------------------------


def scan_files(folder: Path) -> list[str]:
    """Files under *folder*, breadth first: at most 3 levels and 500 files, relative, ``/``.

    Version-control, virtual-env, cache and build folders are skipped.
    """
    found: list[str] = []
    queue = deque([(folder, 0)])
    while queue and len(found) < SCAN_LIMIT:
        current, depth = queue.popleft()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if depth + 1 < SCAN_DEPTH and entry.name not in SKIP_DIRS:
                    queue.append((Path(entry.path), depth + 1))
            elif entry.is_file():
                found.append(Path(entry.path).relative_to(folder).as_posix())
                if len(found) >= SCAN_LIMIT:
                    break
    return found


def _matches(path: str, pattern: str) -> bool:
    candidates = {pattern, pattern.replace("**/", ""), pattern.replace("/**/", "/")}
    if "/" not in pattern:
        candidates.add("*/" + pattern)
    return any(fnmatch.fnmatchcase(path, c) for c in candidates)


def matching_skills(skills: SkillSet, folder: Path) -> list[Skill]:
    """Model-visible skills with ``paths`` that match a file in *folder* (scan cached)."""
    candidates = [s for s in skills.model_visible() if s.paths]
    if not candidates:
        return []
    try:
        key = (str(folder), folder.stat().st_mtime_ns)
    except OSError:
        return []
    if skills.scan is None or skills.scan[0] != key:
        skills.scan = (key, scan_files(folder))
    files = skills.scan[1]
    return [s for s in candidates if any(_matches(f, p) for p in s.paths for f in files)]


def paths_hint(matched: list[Skill]) -> str:
    """The note telling the model which skills the working folder suggests."""
    listed = ", ".join(f"`{s.name}` ({', '.join(s.paths)})" for s in matched)
    return (
        f"[Skill context] Files in the working folder match these skills: {listed}. If one "
        "fits the task, load it with the `skill` tool first."
    )
