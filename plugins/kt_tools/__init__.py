"""The built-in tools: shell, files, search, notebooks, notes, the user, channels, jobs, web.

Twenty-one tools, each offered to creatures that name it (``tools = [{name = "bash"}]``, or the
kt-biome form ``- { name: bash, type: builtin }``):

========================  ==================================================================
shell                     ``bash``, ``python``
files                     ``read``, ``write``, ``edit``, ``multi_edit``
search                    ``glob``, ``grep``, ``tree``
notebooks                 ``notebook_read``, ``notebook_edit``
structured data, notes    ``json_read``, ``json_write``, ``scratchpad``
manuals, the user         ``info``, ``ask_user``, ``show_card``
channels, jobs            ``send_message``, ``stop_task``
web                       ``web_fetch``, ``web_search``
========================  ==================================================================

Paths resolve against the creature's working directory, never the process's. Tools that change
files refuse a file the creature has not read, or that changed since it read it. A path guard
keeps file tools inside the working directory unless a creature's config allows more, and they
open what it admitted without following links (:mod:`kt_tools.nofollow`). Commands run without
the process's secret variables, optionally in an OS sandbox (:mod:`kt_tools.isolation`), and
every tool's result has known key values redacted (:mod:`kt_tools.secrets`). Every tool takes
options in its config entry; ``docs/reference/builtin-tools.md`` lists them all.

Public names for front ends and Python code: the events :class:`UserQuestion`,
:class:`CardShown`, :class:`UserReply` and :class:`ScratchpadWritten`; :func:`answer` and
:func:`pending_questions` to answer ``ask_user`` / ``show_card``; :data:`TOOLS`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import attrs

import kt

if TYPE_CHECKING:  # for type checkers; at run time each module loads on first use
    from kt_tools.data import ScratchpadWritten, scratchpad_of
    from kt_tools.interact import CardShown, UserQuestion, UserReply, answer, pending_questions

__all__ = [
    "TOOLS",
    "CardShown",
    "ScratchpadWritten",
    "UserQuestion",
    "UserReply",
    "answer",
    "pending_questions",
    "scratchpad_of",
]

TOOL_MODULES: dict[str, str] = {
    "bash": "shell",
    "python": "shell",
    "read": "files",
    "write": "files",
    "edit": "files",
    "multi_edit": "files",
    "glob": "search",
    "grep": "search",
    "tree": "search",
    "notebook_read": "notebook",
    "notebook_edit": "notebook",
    "json_read": "data",
    "json_write": "data",
    "scratchpad": "data",
    "info": "interact",
    "ask_user": "interact",
    "send_message": "comms",
    "stop_task": "comms",
    "web_fetch": "web",
    "web_search": "web",
    "show_card": "interact",
}
"""Every tool this plugin offers -> the module (under ``kt_tools``) that defines it, under the
tool's name. Tool modules are imported when a tool is first used, not when the plugin loads:
building a kernel then costs no tool's imports and schema (``kernel.tools`` loads each entry
when it is read)."""

_PUBLIC = {
    "CardShown": "interact",
    "UserQuestion": "interact",
    "UserReply": "interact",
    "answer": "interact",
    "pending_questions": "interact",
    "ScratchpadWritten": "data",
    "scratchpad_of": "data",
}

_SCRATCHPAD_WRITE = "scratchpad_write"  # ScratchpadWritten.type, without importing its module


def __getattr__(name: str) -> Any:
    if name == "TOOLS":  # every tool with default options, in TOOL_MODULES' order
        return tuple(_tool(tool) for tool in TOOL_MODULES)
    if name in _PUBLIC:
        return getattr(importlib.import_module(f"kt_tools.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module 'kt_tools' has no attribute {name!r}")


def _tool(name: str) -> kt.ToolSpec:
    return getattr(importlib.import_module(f"kt_tools.{TOOL_MODULES[name]}"), name)


@kt.hookimpl
def kt_tools() -> list[kt.LazySpec]:
    """Offer the built-in tools, each imported when it is first used."""
    return [kt.LazySpec(name, f"kt_tools.{module}:{name}") for name, module in TOOL_MODULES.items()]


@kt.hookimpl
def kt_post_tool_call(call: kt.ToolCall, result: kt.ToolResult, ctx: Any) -> kt.ToolResult | None:
    """Replace known secret values (provider keys) in every tool's output and error.

    Applies to every tool of the creature, not only the built-in ones: what a tool returns is
    stored in the session and sent to the model, and no key may be (see
    :mod:`kt_tools.secrets`).
    """
    from kt_tools.secrets import backend_key_vars, known_secrets, redact

    kernel = getattr(ctx.creature, "kernel", None)
    environ = getattr(kernel, "env", None) or {}
    secrets = known_secrets(environ, key_vars=backend_key_vars(kernel))
    if not secrets:
        return None
    if isinstance(result.output, str):
        output: Any = redact(result.output, secrets)
    else:
        output = tuple(
            attrs.evolve(part, text=redact(part.text, secrets)) if part.text else part
            for part in result.output
        )
    error = None if result.error is None else redact(result.error, secrets)
    if output == result.output and error == result.error:
        return None
    return attrs.evolve(result, output=output, error=error)


@kt.hookimpl
def kt_session_restore(creature: Any, reader: Any) -> None:
    """Rebuild a resumed creature's scratchpad from its recorded ``scratchpad_write`` events."""
    from kt_tools.data import ScratchpadWritten, apply_scratchpad_event

    for logged in reader.events(type=ScratchpadWritten.type, creature=creature.name):
        wire = logged.wire
        apply_scratchpad_event(
            creature,
            ScratchpadWritten(
                action=wire["action"], key=wire.get("key", ""), value=wire.get("value", "")
            ),
        )


@kt.hookimpl
def kt_event(event: kt.events.Event, creature: Any) -> None:
    """Apply ``scratchpad_write`` events to the creature's scratchpad.

    The tool applies its own changes at once; this makes a replay of recorded events (session
    resume) rebuild the scratchpad. Applying a change twice is harmless.
    """
    if event.type == _SCRATCHPAD_WRITE:  # the tool's module is loaded: it made the event
        from kt_tools.data import ScratchpadWritten, apply_scratchpad_event

        if isinstance(event, ScratchpadWritten):
            apply_scratchpad_event(creature, event)
