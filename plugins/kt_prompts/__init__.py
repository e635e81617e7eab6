"""Prompt templates: a creature's system prompt rendered as a sandboxed Jinja template.

Implements ``kt_render_prompt``. The prompt files of a creature's config chain (base first)
and its inline prompt are one template. It sees the variables the runtime passes
(``agent_name``, ``creature_name``, ``pwd``, ``model``, ``tools`` and each
``prompt_context_files`` variable); a variable it does not know renders empty, so a prompt
written for more variables than a run has still reads well.

``{% include "name" %}`` finds a fragment ``name`` (or ``name.md``, ``name.txt``,
``name.j2``) in the ``prompts/`` folder of the creature, then of each base config, then of the
pack each config belongs to: a pack's shared fragments (kt-biome's ``git-safety``) are found
from every creature in it.

The environment is Jinja's sandbox: a prompt from a pack cannot reach Python objects beyond
the strings it is given. A template error does not stop the creature: the raw text is used
and an ``AgentWarning`` names the file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kt
from kt.plugins import require_modules

require_modules("jinja2")  # imported when a prompt has template syntax: keeps start-up cheap

if TYPE_CHECKING:
    import jinja2

__all__ = ["fragment_folders", "render"]

PACK_MANIFESTS = ("kt-pack.toml", "kohaku.yaml", "kohaku.yml")
FRAGMENT_SUFFIXES = ("", ".md", ".txt", ".j2", ".jinja")
_MARKERS = ("{{", "{%", "{#")


def fragment_folders(config_files: Sequence[Path]) -> list[Path]:
    """Where ``{% include %}`` looks, in order.

    Each config's ``prompts/`` folder, child first, then the ``prompts/`` of the packs those
    configs belong to.
    """
    folders: list[Path] = []
    packs: list[Path] = []
    for file in reversed(config_files):
        folders.append(file.parent / "prompts")
        root = _pack_root(file.parent)
        if root is not None and root not in packs:
            packs.append(root)
    folders += [root / "prompts" for root in packs]
    return list(dict.fromkeys(folders))


def _pack_root(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if any((candidate / name).is_file() for name in PACK_MANIFESTS):
            return candidate
    return None


def _load_fragment(folders: Sequence[Path]) -> Callable[[str], tuple[str, str, Any] | None]:
    def load(name: str) -> tuple[str, str, Any] | None:
        for folder in folders:
            for suffix in FRAGMENT_SUFFIXES:
                path = folder / f"{name}{suffix}"
                if path.is_file():
                    return path.read_text(encoding="utf-8"), str(path), _unchanged(path)
        return None

    return load


def _unchanged(path: Path) -> Callable[[], bool]:
    """Jinja's "is the cached fragment still current" check for *path*."""
    mtime = path.stat().st_mtime
    return lambda: path.is_file() and path.stat().st_mtime == mtime


def render(
    text: str, variables: dict[str, Any], *, config_files: Sequence[Path] = ()
) -> kt.RenderedPrompt:
    """Render *text* as a sandboxed template.

    Args:
        text: The template.
        variables: The values it may use; anything else renders empty.
        config_files: The creature's config chain, base first (where includes are found).

    Returns:
        The rendered prompt, and whether it placed ``tools`` itself.

    Raises:
        jinja2.TemplateError: a syntax error, a missing include, or a sandbox violation.
    """
    import jinja2.meta
    import jinja2.sandbox

    env = jinja2.sandbox.SandboxedEnvironment(
        loader=jinja2.FunctionLoader(_load_fragment(fragment_folders(config_files))),
        undefined=jinja2.ChainableUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # a prompt is text for a model, not HTML
    )
    uses_tools = "tools" in jinja2.meta.find_undeclared_variables(env.parse(text))
    return kt.RenderedPrompt(env.from_string(text).render(variables), uses_tools)


@kt.hookimpl
async def kt_render_prompt(
    creature: kt.Agent, text: str, variables: dict[str, Any]
) -> kt.RenderedPrompt | None:
    if not any(marker in text for marker in _MARKERS):
        return None  # plain text: nothing to render
    import jinja2

    config = creature.config
    try:
        return render(text, variables, config_files=config.files)
    except jinja2.TemplateError as exc:
        where = _where(exc, text, config)
        await creature.emit(
            kt.events.AgentWarning(
                message=f"the system prompt template {where}could not be rendered "
                f"({type(exc).__name__}: {exc}); using it as written. Fix the template, or "
                "escape literal braces with {% raw %}...{% endraw %}"
            )
        )
        return kt.RenderedPrompt(text)


def _where(exc: jinja2.TemplateError, text: str, config: Any) -> str:
    """``"at FILE line N "`` for an error in the prompt, mapped back to the file it came from."""
    line = getattr(exc, "lineno", None)
    name = getattr(exc, "filename", None)
    if name:  # the error is inside an included fragment
        return f"at {name} line {line} " if line else f"in {name} "
    if not line:
        return ""
    # The prompt is the prompt files (base first) and then the inline prompt, each stripped of
    # blank edges and joined by one blank line: walk them to find the one holding the line.
    sources = [(path, path.read_text(encoding="utf-8")) for path in config.system_prompt_files]
    consumed = "\n\n".join(part.strip("\n") for _, part in sources if part.strip())
    inline = text[len(consumed) :].lstrip("\n") if text.startswith(consumed) else ""
    if inline and config.files:
        sources.append((config.files[-1], inline))
    start = 1
    for path, part in sources:
        body = part.strip("\n")
        if not body.strip():
            continue
        count = body.count("\n") + 1
        if line < start + count:
            return f"at {path} line {line - start + 1} "
        start += count + 1
    return f"at line {line} "
