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

__all__ = ["terrarium"]

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
def check(recipe: str) -> None:
    """Load and check RECIPE without running it; print its creatures, channels and wiring.

    Exit code 2 (with the key path of the problem) when the recipe is invalid.
    """
    kernel = _kernel()
    from kt_terrarium.recipes import load_recipe

    loaded = load_recipe(recipe, resolve_ref=kernel.resolve_ref)
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
