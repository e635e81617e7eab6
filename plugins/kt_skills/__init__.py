"""Procedural skills: SKILL.md bundles a creature's model can load, and a user can invoke.

A skill is a markdown file of instructions for one kind of task, with YAML front matter::

    skills/release-notes/SKILL.md
    ---
    name: release-notes
    description: Write release notes from the git log since the last tag.
    paths: ["CHANGELOG.md"]
    ---
    1. Run `git describe --tags --abbrev=0` ...

Skills come from installed packs, the creature's folder, ``~/.kt/skills`` and the project's
``.kt/skills`` (later ones win by name; pack skills start disabled unless the creature's
``skills`` list names them or holds ``"*"``). A creature that lists the ``skill`` tool gets an
index of its skills in the system prompt (within ``skill_index_budget_bytes``) and loads one
with ``skill(name=...)``; a user message ``/release-notes v2.1`` runs one directly. See
``docs/guides/skills.md``.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs

import kt
from kt.errors import PluginBlockError
from kt.events import AgentWarning
from kt_skills.discovery import Skill, discover, load_skill
from kt_skills.frontmatter import SkillFormatError, parse_yaml_subset, split_front_matter
from kt_skills.skills import (
    INDEX_ORDER,
    UnknownSkillError,
    index_text,
    invocation_text,
    matching_skills,
    parse_slash,
    paths_hint,
    skill_set,
    skill_text,
)

__all__ = [
    "Skill",
    "SkillFormatError",
    "UnknownSkillError",
    "disable_skill",
    "discover",
    "enable_skill",
    "enabled_skills",
    "load_skill",
    "parse_yaml_subset",
    "skill",
    "skills_of",
    "split_front_matter",
]

TOOL_NAME = "skill"


# -- Python API ---------------------------------------------------------------------------------


def skills_of(agent: kt.Agent) -> dict[str, Skill]:
    """Every skill *agent* can see, by name (enabled or not), after precedence."""
    return dict(skill_set(agent).skills)


def enabled_skills(agent: kt.Agent) -> list[str]:
    """The names of *agent*'s enabled skills, sorted."""
    found = skill_set(agent)
    return [name for name in found.skills if found.enabled[name]]


def enable_skill(agent: kt.Agent, name: str) -> None:
    """Enable a skill (for example a pack skill) for *agent*'s life.

    Called before ``async with agent``, the change also reaches the prompt index; afterwards
    it reaches the ``skill`` tool and ``/name`` at once, and the index at the next start.

    Raises:
        UnknownSkillError: no such skill.
    """
    found = skill_set(agent)
    found.get(name)
    found.enabled[name] = True


def disable_skill(agent: kt.Agent, name: str) -> None:
    """Disable a skill for *agent*'s life (see :func:`enable_skill` for when it shows).

    Raises:
        UnknownSkillError: no such skill.
    """
    found = skill_set(agent)
    found.get(name)
    found.enabled[name] = False


# -- The skill tool -----------------------------------------------------------------------------


async def _skill(name: str, ctx: kt.ToolContext, arguments: str = "") -> kt.ToolResult:
    """Load a skill, step-by-step instructions for one kind of task, by its listed name.

    The skills are listed under "Skills" in your instructions. Call this before you start such
    a task, then follow what it returns.

    Args:
        name: The skill's name, as listed.
        ctx: The call's context (given by the kernel, not by the model).
        arguments: What to apply the skill to, in your own words (optional).
    """
    found = skill_set(ctx.agent)
    if not found.skills:
        return kt.ToolResult(
            error="no skills are installed for this creature (skills live in the creature "
            "folder's skills/, ~/.kt/skills or .kt/skills of the project)"
        )
    if name not in found.skills:
        enabled = ", ".join(n for n in found.skills if found.enabled[n]) or "none"
        return kt.ToolResult(error=f"unknown skill '{name}'; available skills: {enabled}")
    if not found.enabled[name]:
        return kt.ToolResult(error=_disabled(name))
    return kt.ToolResult(output=skill_text(found.skills[name], arguments), metadata={"skill": name})


@functools.cache
def _skill_tool() -> kt.ToolSpec:
    """The ``skill`` tool, built when first offered: building it reads the docstring above."""
    return kt.tool(_skill, name=TOOL_NAME)


def __getattr__(name: str) -> Any:
    """``skill``, the tool (built at first use, PEP 562)."""
    if name != "skill":
        raise AttributeError(f"module 'kt_skills' has no attribute {name!r}")
    return _skill_tool()


def _disabled(name: str) -> str:
    return (
        f"skill '{name}' is disabled for this creature; enable it with skills = [\"{name}\"] in "
        "the creature config (pack skills start disabled) or kt_skills.enable_skill()"
    )


# -- Hooks --------------------------------------------------------------------------------------


@kt.hookimpl
def kt_tools() -> list[kt.ToolSpec | kt.LazySpec]:
    """Offer the ``skill`` and ``skill_manage`` tools to creatures that list them."""
    return [
        kt.LazySpec(TOOL_NAME, "kt_skills:skill"),
        kt.LazySpec("skill_manage", "kt_skills.manage:skill_manage"),
    ]


@kt.hookimpl
def kt_triggers() -> list[kt.TriggerSpec]:
    """The ``skill_nudge`` trigger type."""

    def skill_nudge_trigger(entry: Any, agent: Any) -> Any:
        from kt_skills.nudge import skill_nudge_trigger

        return skill_nudge_trigger(entry, agent)

    return [
        kt.TriggerSpec(
            "skill_nudge",
            skill_nudge_trigger,
            "every N user turns without a saved skill, ask whether one is worth saving",
        )
    ]


@kt.hookimpl
def kt_module_aliases() -> dict[str, str]:
    """kt-biome's skill-writing tool and skill nudge are ``skill_manage`` and ``skill_nudge``."""
    return {
        "kt_biome.tools.skill_manage:SkillManageTool": "kt_skills.manage:skill_manage",
        "kt_biome.triggers.skill_nudge:SkillNudgeTrigger": "kt_skills.nudge:skill_nudge_trigger",
    }


@kt.hookimpl
async def kt_creature_started(creature: kt.Agent) -> None:
    """Report skill files that could not be read; offer ``skill`` where skills are enabled.

    A config whose ``skills`` list names skills (or ``"*"``) asks for them to be used, so the
    ``skill`` tool (and with it the index in the prompt) is offered even when the ``tools``
    list does not name it, as packs written for the reference framework expect.
    """
    found = skill_set(creature)
    for warning in found.warnings:
        await creature.emit(AgentWarning(message=warning, source="kt_skills"))
    if creature.config.skills and TOOL_NAME not in creature.tools and any(found.enabled.values()):
        await creature.add_tools([_skill_tool()])


@kt.hookimpl
def kt_prompt_sections(creature: kt.Agent) -> list[kt.PromptSection]:
    """The skills index, for creatures that offer the ``skill`` tool."""
    if TOOL_NAME not in creature.tools:
        return []
    text = index_text(skill_set(creature).model_visible(), creature.config.skill_index_budget_bytes)
    return [kt.PromptSection("kt_skills.index", text, INDEX_ORDER)] if text else []


_SEEN = kt.StashKey[bool]()  # on the turn: its first model call was looked at


@kt.hookimpl
async def kt_pre_llm_call(request: kt.LLMRequest, ctx: kt.TurnContext) -> kt.LLMRequest | None:
    """On a turn's first model call: expand ``/name args`` input; hint at matching skills."""
    if ctx.stash.get(_SEEN, False):
        return None
    ctx.stash[_SEEN] = True
    agent = ctx.creature
    found = skill_set(agent)
    if not found.skills:
        return None
    expanded = await _expand_slash(agent, request)
    if expanded is not None:
        return expanded
    if TOOL_NAME not in agent.tools:
        return None
    new = [s for s in matching_skills(found, agent.working_dir) if s.name not in found.announced]
    if not new:
        return None
    found.announced |= {s.name for s in new}  # each skill is suggested once per creature
    return _with_note(request, paths_hint(new))


async def _expand_slash(agent: kt.Agent, request: kt.LLMRequest) -> kt.LLMRequest | None:
    history = agent.history
    last = history[-1] if history else None
    if last is None or last.role != "user" or not isinstance(last.content, str):
        return None
    parsed = parse_slash(last.content)
    found = skill_set(agent)
    if parsed is None or parsed[0] not in found.skills:
        return None  # not a skill: left to whoever handles other slash commands
    name, arguments = parsed
    if not found.enabled[name]:
        raise PluginBlockError(_disabled(name))
    text = invocation_text(found.skills[name], arguments)
    replacement = attrs.evolve(
        last, content=text, meta={**last.meta, "skill": name, "skill_input": last.content}
    )
    await agent.replace_history([*history[:-1], replacement], reason="skill_invocation")
    messages = list(request.messages)
    for index in range(len(messages) - 1, -1, -1):
        sent = messages[index]
        if sent.role == "user" and isinstance(sent.content, str):
            if sent.content.startswith(last.content):  # keep notes other plugins appended
                extra = sent.content[len(last.content) :]
                messages[index] = attrs.evolve(replacement, content=replacement.content + extra)
            break
    return attrs.evolve(request, messages=tuple(messages))


def _with_note(request: kt.LLMRequest, note: str) -> kt.LLMRequest:
    """The request with *note* appended to its last user message (the history is unchanged)."""
    messages = list(request.messages)
    last = messages[-1] if messages else None
    if last is not None and last.role == "user" and isinstance(last.content, str):
        messages[-1] = attrs.evolve(last, content=f"{last.content}\n\n{note}")
    else:
        messages.append(kt.Message("user", note))
    return attrs.evolve(request, messages=tuple(messages))
