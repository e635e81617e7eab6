"""The ``kt_cli`` plugin: its hook specifications and the terminal input and output modules.

Modules it contributes (``kt plugins`` lists them; ``docs/reference/cli.md`` describes them):

* inputs ``plain`` (each line of stdin is a turn) and ``cli`` (the line interface);
* output ``stdout`` (the replies streamed to stdout, tool activity on stderr).

It also reopens the requests for the person (``kt.events.UserRequest``) a resumed session left
unanswered (``kt_session_restore``), so the terminal inputs can ask them again.

This module is the ``kt_cli`` entry point in the ``kt.plugins`` group, so every process that
loads the default plugin set imports it (a web server, a script calling ``kt.Kernel()``). It
therefore imports neither click nor trio; the modules' classes are imported when a creature
builds one.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

import pluggy

from kt import InputSpec, OutputSpec, hookimpl
from kt_cli import hookspecs

if TYPE_CHECKING:
    import kt
    from kt_cli.output import TextPrinter
    from kt_cli.repl import TerminalInput


def add_cli_hookspecs(pm: pluggy.PluginManager) -> None:
    """Add :mod:`kt_cli.hookspecs` to *pm* unless it is there already.

    The ``kt`` command calls this for kernels whose plugin set leaves ``kt_cli`` out, so
    plugins can always contribute commands; calling it twice is harmless.

    Args:
        pm: A kernel's plugin manager.
    """
    caller = getattr(pm.hook, "kt_cli_commands", None)
    if caller is None or caller.spec is None:
        pm.add_hookspecs(hookspecs)


def host(kernel: kt.Kernel) -> kt.Kernel:
    """Give *kernel* what the ``kt`` command needs whatever the plugin set: hooks and modules.

    The ``kt`` command talks to creatures through its own modules, as pytest always has its
    essential plugins: when the plugin set leaves ``kt_cli`` out (``--no-plugins``,
    ``KT_PLUGINS=""``), its hook specs are added to the kernel and its inputs and output to
    the kernel's registries (under the plugin name ``kt_cli``; names another plugin already
    registered are left alone). ``kt plugins`` still shows the set as chosen. Idempotent.

    Args:
        kernel: The invocation's kernel.

    Returns:
        *kernel*.
    """
    add_cli_hookspecs(kernel.pm)
    if kernel.pm.is_registered(sys.modules[__name__]) or kernel.pm.has_plugin("kt_cli"):
        return kernel
    for registry, specs in ((kernel.inputs, kt_inputs()), (kernel.outputs, kt_outputs())):
        for spec in specs:
            if spec.name not in registry:
                registry.add(spec.name, spec, "kt_cli")
    return kernel


@hookimpl
def kt_addhookspecs(pm: pluggy.PluginManager) -> None:
    """Declare ``kt_cli_commands`` so other plugins can add ``kt`` commands."""
    add_cli_hookspecs(pm)


def _plain_input(entry: Any, agent: Any) -> TerminalInput:
    from kt_cli.plain import PlainInput

    return PlainInput.from_entry(entry, agent)


def _cli_input(entry: Any, agent: Any) -> TerminalInput:
    from kt_cli.line_ui import CliInput

    return CliInput.from_entry(entry, agent)


def _stdout_output(entry: Any, agent: Any) -> TextPrinter:
    from kt_cli.output import TextPrinter

    options = getattr(entry, "options", None) or {}
    return TextPrinter(
        sys.stdout, sys.stderr, show_tools=bool(options.get("show_tools", False)), agent=agent
    )


@hookimpl
def kt_inputs() -> list[InputSpec]:
    """Contribute the ``plain`` and ``cli`` inputs (``input = {type = "cli"}``)."""
    return [
        InputSpec(
            "plain",
            _plain_input,
            "each line of standard input is one turn; pair it with the stdout output "
            "(options: timeout, prompt)",
        ),
        InputSpec(
            "cli",
            _cli_input,
            "a line interface on the terminal: streaming replies, tool activity, spinner, "
            "slash commands (options: timeout, prompt, show_tools)",
        ),
    ]


@hookimpl
def kt_outputs() -> list[OutputSpec]:
    """Contribute the ``stdout`` output (``output = {type = "stdout"}``)."""
    return [
        OutputSpec(
            "stdout",
            _stdout_output,
            "streams the creature's text to standard output as it arrives "
            "(option show_tools = true adds tool activity lines on stderr)",
        )
    ]


@hookimpl
def kt_session_restore(creature: kt.Agent, reader: Any) -> None:
    """Reopen the requests (questions, cards) a resumed creature left unanswered.

    The front ends list them when the run starts (``kt_cli.requests.restored_requests``), so a
    question pending when the process stopped can be answered after ``kt resume``.
    """
    from kt.events import EVENT_TYPES, UserAnswered, UserRequest, restore_requests

    types = [n for n, c in EVENT_TYPES.items() if issubclass(c, UserRequest | UserAnswered)]
    logged = reader.events(type=types, creature=creature.name)
    restore_requests(creature, [entry.wire for entry in logged])


_EVENTS = logging.getLogger("kt.events")  # see kt_cli.logs: the kt command sends it to a file
_EVENTS.addHandler(logging.NullHandler())  # elsewhere, nothing is printed unless asked for


@hookimpl
def kt_event(event: Any, creature: Any) -> None:
    """Log the creature's event on ``kt.events``: what happened, never what was said.

    Turns, model calls, tool calls, sub-agents and compactions at ``info`` (``debug`` for the
    rest); warnings and errors at ``warning``. Reply text (a delta per few characters) is not
    logged, and no message or tool output is: only names, statuses, durations and counts.
    """
    kind = event.type
    if kind in ("warning", "error"):
        who = getattr(creature, "name", "?")
        _EVENTS.warning("%s: %s: %s", who, kind, getattr(event, "message", ""))
        return
    if kind == "text_delta" or not _EVENTS.isEnabledFor(logging.INFO):
        return
    who = getattr(creature, "name", "?")
    if kind == "turn_started":
        _EVENTS.info("%s: turn %s started (%s)", who, event.turn_index, event.source)
    elif kind == "turn_completed":
        result = event.result
        _EVENTS.info(
            "%s: turn %s %s after %s model calls%s",
            who,
            event.turn_index,
            result.status,
            result.iterations,
            f": {type(result.error).__name__}: {result.error}" if result.error else "",
        )
    elif kind == "llm_call_completed":
        usage = event.usage
        _EVENTS.info(
            "%s: model call %s: %s in / %s out tokens, %s%s",
            who,
            event.iteration,
            usage.prompt_tokens,
            usage.completion_tokens,
            event.finish_reason or "no finish reason",
            f", error: {event.error}" if event.error else "",
        )
    elif kind in ("tool_call_completed", "subagent_completed"):
        _EVENTS.info(
            "%s: %s %s %s%s%s",
            who,
            "tool" if kind == "tool_call_completed" else "sub-agent",
            event.name,
            event.status,
            f" in {event.duration:.2f}s" if getattr(event, "duration", None) is not None else "",
            f": {event.error}" if event.error else "",
        )
    elif kind == "compaction_completed":
        _EVENTS.info("%s: compacted %s messages", who, event.messages_compacted)
    elif _EVENTS.isEnabledFor(logging.DEBUG):
        _EVENTS.debug("%s: %s", who, kind)
