"""``kt hooks``: every hook the loaded plugin set declares, from the specifications themselves.

The kernel declares the hooks that several plugins call or implement
(``kt.plugins.hookspecs``); a plugin declares its own hooks through ``kt_addhookspecs`` (as
``kt_cli`` declares ``kt_cli_commands``). Both kinds end up in the kernel's plugin manager, so
the reference is read from there: a hook added anywhere appears here, with the docstring its
author wrote. ``docs/reference/hooks.md`` is ``kt hooks --markdown`` with the first-party plugin
set (``tests/cli/test_cli_hooks.py`` fails when they differ).
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import click

from kt_cli.state import CliState, common_options, pass_state

KERNEL_SPECS = "kt.plugins.hookspecs"

_INTRO = """# Hook reference

Generated from the hook specifications by `kt hooks --markdown` (with every first-party plugin
loaded); do not edit by hand. `kt hooks` lists the hooks of your own installation, including
those of third-party plugins.

Implement a hook with `@kt.hookimpl` on a module-level function or a method of a plugin object.
An implementation may take any subset of the arguments listed (by name). See
[Writing a plugin](../guides/writing-a-plugin.md) for a walk-through.
"""


def _markdown(text: str) -> str:
    """Docstring markup (reST roles, double backticks) as Markdown."""
    text = re.sub(r":(?:class|func|meth|attr|mod|data|exc):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _specs(kernel: Any) -> list[tuple[str, Any, dict[str, Any]]]:
    """(name, spec function, options) of every hook declared in *kernel*'s plugin manager."""
    found = []
    for name in dir(kernel.pm.hook):
        caller = getattr(kernel.pm.hook, name)
        spec = getattr(caller, "spec", None)
        if name.startswith("kt_") and spec is not None:
            found.append((name, spec.function, dict(spec.opts)))
    return found


def _heading(name: str, function: Any, opts: dict[str, Any]) -> str:
    params = ", ".join(inspect.signature(function).parameters)
    flags = [flag for flag in ("firstresult", "historic") if opts.get(flag)]
    return f"### `{name}({params})`" + (f" *({', '.join(flags)})*" if flags else "")


def render_markdown(kernel: Any) -> str:
    """The hook reference of *kernel*'s plugin set, as Markdown."""
    import kt.plugins.hookspecs as kernel_specs

    specs = _specs(kernel)
    parts = [_INTRO, "## How hooks are called\n"]
    parts.append(_markdown((inspect.getdoc(kernel_specs) or "").split("\n", 1)[1].strip()) + "\n")
    kernel_owned = sorted(
        (s for s in specs if s[1].__module__ == KERNEL_SPECS),
        key=lambda s: s[1].__code__.co_firstlineno,
    )
    sections = (
        ("Registration hooks", [s for s in kernel_owned if s[0] not in kernel_specs.RUNTIME_HOOKS]),
        ("Runtime hooks", [s for s in kernel_owned if s[0] in kernel_specs.RUNTIME_HOOKS]),
    )
    for title, chosen in sections:
        parts.append(f"## {title}\n")
        for name, function, opts in chosen:
            parts += [_heading(name, function, opts) + "\n", _doc(function)]
    by_module: dict[str, list[tuple[str, Any, dict[str, Any]]]] = {}
    for spec in specs:
        if spec[1].__module__ != KERNEL_SPECS:
            by_module.setdefault(spec[1].__module__, []).append(spec)
    if by_module:
        parts.append("## Hooks that plugins declare\n")
        parts.append(
            "A plugin may declare hooks of its own for other plugins to implement. They exist "
            "only when the declaring plugin is loaded.\n"
        )
    for module in sorted(by_module):
        parts.append(f"### Declared by `{module.split('.')[0]}`\n")
        chosen = sorted(by_module[module], key=lambda s: s[1].__code__.co_firstlineno)
        for name, function, opts in chosen:
            parts += ["#" + _heading(name, function, opts) + "\n", _doc(function)]
    return "\n".join(parts).rstrip() + "\n"


def _doc(function: Any) -> str:
    return _markdown((inspect.getdoc(function) or "").strip()) + "\n"


@click.command("hooks")
@click.option("--markdown", is_flag=True, help="Print the whole reference as Markdown.")
@common_options
@pass_state
def hooks(state: CliState, markdown: bool) -> None:
    """List every hook the loaded plugins can implement, and who declares it.

    The kernel declares most hooks; a plugin may declare hooks of its own (they exist when it
    is loaded). With --markdown, print the full reference with each hook's documentation:
    docs/reference/hooks.md is that output with every first-party plugin loaded.
    """
    kernel = state.kernel()
    if markdown:
        click.echo(render_markdown(kernel), nl=False)
        return
    for name, function, opts in sorted(_specs(kernel), key=lambda s: s[0]):
        declared = function.__module__.split(".")[0]
        first = (inspect.getdoc(function) or "").strip().split("\n", 1)[0]
        flags = "".join(f" [{flag}]" for flag in ("firstresult", "historic") if opts.get(flag))
        click.echo(f"{name}{flags}  ({declared})  {_markdown(first)}")
