"""``skill_manage``: the model writes down a procedure that worked, as a skill for next time.

Skills a creature creates are ordinary SKILL.md bundles (the agentskills.io layout: a folder
named after the skill, ``SKILL.md`` with ``name`` and ``description`` front matter, then the
instructions), written to the project's ``.kt/skills`` (``scope = "project"``, the default) or
the user's ``$KT_HOME/skills`` (``scope = "user"``). Pack and creature skills are read-only
here: the tool never edits files it did not create a home for.

Actions: ``list`` (every skill the creature sees, with where it lives), ``view`` (a skill's
SKILL.md), ``create`` (a new skill; refuses to replace one) and ``patch`` (replace one exact
piece of text in a project or user skill, like ``edit`` does for files). A created or patched
skill is usable at once through the ``skill`` tool.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import kt
from kt.config.home import kt_home
from kt_skills.discovery import SKILL_FILE
from kt_skills.skills import refresh_skills, skill_set

__all__ = ["NAME_PATTERN", "skill_manage"]

NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
MAX_DESCRIPTION = 1024
WRITABLE_ORIGINS = ("project", "user")


def _root(scope: str, ctx: kt.ToolContext) -> Path:
    if scope == "user":
        return kt_home(ctx.agent.kernel.env) / "skills"
    return ctx.working_dir / ".kt" / "skills"


def _front_matter(name: str, description: str) -> str:
    quoted = description.replace("\\", "\\\\").replace('"', '\\"')
    return f'---\nname: {name}\ndescription: "{quoted}"\n---\n\n'


@kt.tool(concurrency_safe=False)
async def skill_manage(
    action: Literal["list", "view", "create", "patch"],
    ctx: kt.ToolContext,
    name: str = "",
    description: str = "",
    body: str = "",
    old: str = "",
    new: str = "",
    scope: Literal["project", "user"] = "project",
) -> kt.ToolResult:
    """List, view, create or patch skills: reusable step-by-step instructions for a kind of task.

    Create a skill after you worked out a procedure that will be needed again; patch one when
    you find it was wrong or incomplete.

    Args:
        action: list, view, create or patch.
        ctx: Injected by the kernel.
        name: The skill's name: lowercase letters, digits and hyphens (view, create, patch).
        description: For create: what the skill is for and when to use it, one or two lines.
        body: For create: the instructions, in Markdown.
        old: For patch: the exact text to replace (it must occur exactly once).
        new: For patch: the replacement text.
        scope: For create: project (this project's .kt/skills) or user (every project).
    """
    found = skill_set(ctx.agent)
    if action == "list":
        if not found.skills:
            return kt.ToolResult(output="No skills yet.")
        lines = [
            f"{s.name} ({s.origin}{'' if found.enabled[s.name] else ', disabled'}): "
            f"{s.description.splitlines()[0] if s.description else ''}"
            for s in found.skills.values()
        ]
        return kt.ToolResult(output="\n".join(lines))
    if not NAME_PATTERN.match(name):
        return kt.ToolResult(
            error=f"'{name}' is not a skill name: use 1-64 lowercase letters, digits and "
            "hyphens, starting and ending with a letter or digit"
        )
    if action == "view":
        if name not in found.skills:
            return kt.ToolResult(error=f"unknown skill '{name}'; list shows the skills")
        return kt.ToolResult(output=found.skills[name].path.read_text(encoding="utf-8"))
    if action == "create":
        return _create(ctx, name, description, body, scope)
    return _patch(ctx, name, old, new)


def _create(
    ctx: kt.ToolContext, name: str, description: str, body: str, scope: str
) -> kt.ToolResult:
    description = " ".join(description.split())
    if not description or len(description) > MAX_DESCRIPTION:
        return kt.ToolResult(
            error=f"a skill needs a description of 1-{MAX_DESCRIPTION} characters saying what it "
            "is for and when to use it"
        )
    if not body.strip():
        return kt.ToolResult(error="a skill needs a body: the instructions to follow")
    folder = _root(scope, ctx) / name
    if folder.exists() or name in skill_set(ctx.agent).skills:
        return kt.ToolResult(
            error=f"a skill '{name}' exists already; patch it, or choose another name"
        )
    folder.mkdir(parents=True)
    path = folder / SKILL_FILE
    path.write_text(_front_matter(name, description) + body.strip() + "\n", encoding="utf-8")
    refresh_skills(ctx.agent)
    return kt.ToolResult(
        output=f"Created skill '{name}' at {path}; load it with the skill tool.",
        metadata={"skill": name, "path": str(path)},
    )


def _patch(ctx: kt.ToolContext, name: str, old: str, new: str) -> kt.ToolResult:
    found = skill_set(ctx.agent)
    skill = found.skills.get(name)
    if skill is None:
        return kt.ToolResult(error=f"unknown skill '{name}'; list shows the skills")
    if skill.origin not in WRITABLE_ORIGINS:
        return kt.ToolResult(
            error=f"skill '{name}' comes from {skill.origin} and is read-only here; create a "
            "project skill with another name instead"
        )
    text = skill.path.read_text(encoding="utf-8")
    count = text.count(old) if old else 0
    if count != 1:
        return kt.ToolResult(
            error=f"old text occurs {count} times in {skill.path.name}; give text that occurs "
            "exactly once (view the skill to copy it)"
        )
    skill.path.write_text(text.replace(old, new, 1), encoding="utf-8")
    refresh_skills(ctx.agent)
    return kt.ToolResult(output=f"Patched skill '{name}' ({skill.path}).")
