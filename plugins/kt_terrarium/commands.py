"""The ``kt terrarium`` click group: ``run`` and ``check``.

Imported only when ``kt`` collects plugin commands, so click is never imported by a process
that merely loads the plugin.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import click

import kt
from kt_cli.modes import default_mode

__all__ = ["build_without_starting", "terrarium"]

RUN_MODES = ("plain", "cli")


def _kernel() -> kt.Kernel:
    """The kernel of this ``kt`` invocation (the plugin set ``kt`` chose), else a new one.

    ``kt`` keeps it on the click context object (``kt_cli.state.CliState.kernel()``); the
    group can also run under another click program, so it is looked up by duck typing.
    """
    state = click.get_current_context().find_root().obj
    make = getattr(state, "kernel", None)
    return make() if callable(make) else kt.Kernel()


@click.group("terrarium")
def terrarium() -> None:
    """Run and check terrarium recipes: teams of creatures joined by channels and wires."""


@terrarium.command("run")
@click.argument("recipe")
@click.option(
    "--mode",
    type=click.Choice(RUN_MODES),
    default=None,
    help="plain (a line of stdin is a turn of the root, its replies on stdout) or cli (the "
    "same with a prompt). Default: cli on a terminal, plain otherwise.",
)
@click.option(
    "--llm",
    "llm_selector",
    metavar="SELECTOR",
    help="The model of every creature: BACKEND/MODEL, or scripted:FILE. Overrides the "
    "creatures' [controller] llm.",
)
@click.option(
    "--pwd",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Working directory of the creatures (default: the current directory).",
)
@click.option(
    "--focus",
    metavar="CREATURE",
    help="The creature you talk to (default: the recipe's root, else its first creature).",
)
@click.option(
    "--session-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Record the team's events in this folder: one .ktsession file per graph session, "
    "read like a creature's session (needs the kt_sessions plugin).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Time limit for each turn of the focus creature.",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not print the team's activity on stderr.")
def run(
    recipe: str,
    mode: str | None,
    llm_selector: str | None,
    pwd: Path | None,
    focus: str | None,
    session_dir: Path | None,
    timeout: float | None,
    quiet: bool,
) -> None:
    """Run the terrarium RECIPE and talk to its root: each line of stdin is one turn.

    RECIPE is a recipe folder (terrarium.toml or terrarium.yaml inside), a recipe file, or
    @pack/path. Every creature starts; the root's replies stream to stdout. The rest of the
    team's activity goes to stderr, one line each: [CHANNEL] sender -> receivers: text,
    [wire] source -> target, [CREATURE] its finished turn. After each line, kt waits until the
    whole team is idle. End of input ends the run once the team is idle.

    Ctrl+C while the team works interrupts every running turn; a second Ctrl+C exits (130).
    Exit code 1 when a turn of the root failed, 2 for an invalid recipe.

    \b
    Examples:
      echo "Reverse a string in Python" | kt terrarium run examples/terrariums/swe_team
      kt terrarium run @kt-biome/terrariums/swe_team --llm openai/gpt-4o-mini
    """  # noqa: D301 (click reads \b as "keep this paragraph as written")
    mode = mode or default_mode()
    kernel = _kernel()

    import trio

    from kt_terrarium.session import run_recipe

    code = trio.run(
        partial(
            run_recipe,
            recipe,
            kernel=kernel,
            stdin=sys.stdin,
            stdout=sys.stdout,
            stderr=sys.stderr,
            llm_selector=llm_selector,
            pwd=pwd,
            session_dir=session_dir,
            timeout=timeout,
            prompt="> " if mode == "cli" else None,
            focus=focus,
            show_activity=not quiet,
        )
    )
    click.get_current_context().exit(code)


@terrarium.command("check")
@click.argument("recipe")
@click.option(
    "--llm",
    "llm_selector",
    metavar="SELECTOR",
    help="The model `kt terrarium run` will get; checked too. Without it, a creature with no "
    "usable model of its own is a warning (run needs --llm), not an error.",
)
def check(recipe: str, llm_selector: str | None) -> None:
    """Check RECIPE the way running it does, without starting anything; print its shape.

    Every creature is built as `kt terrarium run` builds it (tools, plugins, sub-agents,
    triggers, prompts, model backend), channels and wires are laid out, then everything is
    closed again: no model is called and no creature starts. Exit code 2 (with the key path
    of the problem) when the recipe is invalid.
    """
    kernel = _kernel()
    import trio

    from kt_terrarium.recipes import load_recipe

    loaded = load_recipe(recipe, resolve_ref=kernel.resolve_ref)
    for warning in trio.run(partial(build_without_starting, loaded, kernel, llm_selector)):
        click.echo(f"kt: warning: {warning}", err=True)
    click.echo(
        f"terrarium {loaded.name}" + (f": {loaded.description}" if loaded.description else "")
    )
    click.echo("channels:")
    for channel in loaded.channels:
        about = f"  {channel.description}" if channel.description else ""
        click.echo(f"  {channel.name} ({channel.kind}){about}")
    click.echo("creatures:")
    for creature in loaded.creatures:
        role = " [root]" if creature.is_root else (" [privileged]" if creature.privileged else "")
        click.echo(f"  {creature.name}{role}")
        if creature.listen:
            click.echo(f"    listens: {', '.join(creature.listen)}")
        if creature.can_send:
            click.echo(f"    sends:   {', '.join(creature.can_send)}")
        for wire in creature.output_wiring:
            ping = "" if wire.with_content else " (ping)"
            click.echo(f"    wire ->  {wire.to}{ping}")
    for warning in loaded.warnings:
        click.echo(f"kt: warning: {warning}", err=True)


class _NoModel:
    """Stands in for a model a creature will only get at run time (``--llm``); never called."""

    def stream(self, request: object) -> object:
        raise kt.errors.LLMNotConfiguredError("no model: pass --llm to kt terrarium run")


async def build_without_starting(
    recipe: object, kernel: kt.Kernel, llm_selector: str | None = None
) -> list[str]:
    """Build *recipe* in a throwaway engine exactly as running it would, start nothing.

    Returns:
        Warnings: creatures that have no usable model unless one is given at run time.

    Raises:
        ConfigError: what ``apply_recipe`` would raise (key paths name the recipe's keys).
    """
    from kt_terrarium.engine import Terrarium

    warnings: list[str] = []
    async with Terrarium(kernel=kernel) as engine:
        try:
            await engine.apply_recipe(recipe, llm_selector=llm_selector, start=False)
        except kt.errors.LLMNotConfiguredError as exc:
            if llm_selector is not None:
                raise
            warnings.append(f"{exc} (kt terrarium run needs --llm SELECTOR)")
            await engine.apply_recipe(recipe, llm=_NoModel(), start=False)
    return warnings
