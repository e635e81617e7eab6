"""``kt run``: run a creature, reading turns from stdin."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import click

from kt_cli.state import CliState, common_options, pass_state

RUN_MODES = ("plain", "cli", "tui")


def _default_mode() -> str:
    return "cli" if sys.stdin.isatty() and sys.stdout.isatty() else "plain"


def _check_mode(mode: str) -> None:
    if mode != "tui":
        return
    from importlib.metadata import entry_points

    if entry_points(group="kt.plugins", name="kt_tui"):
        reason = "this version of kt_cli cannot start it yet; use --mode plain or --mode cli"
    else:
        reason = "not installed: pip install 'kt-terrarium[tui]'; or use --mode plain"
    raise click.BadParameter(
        f"mode 'tui' needs the kt_tui plugin ({reason})", param_hint="'--mode'"
    )


@click.command("run")
@click.argument("target")
@click.option(
    "--mode",
    type=click.Choice(RUN_MODES),
    default=None,
    help="How to talk to the creature: plain (a line of stdin is a turn, replies on stdout), "
    "cli (plain with a prompt), tui (full screen, needs kt_tui). "
    "Default: cli on a terminal, plain otherwise.",
)
@click.option(
    "--llm",
    "llm_selector",
    metavar="SELECTOR",
    help="The model: BACKEND/MODEL, or scripted:FILE to play replies from a TOML/JSON file "
    "offline. Overrides the creature's [controller] llm.",
)
@click.option(
    "--pwd",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Working directory the creature's tools resolve paths against "
    "(default: the current directory).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Time limit for each turn; a turn that runs out ends with an error and the run goes on.",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not print tool activity on stderr.")
@click.option(
    "--session",
    "session_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Record the run into this session file (default: a new file in ~/.kt/sessions when a "
    "session store such as kt_sessions is installed).",
)
@click.option("--no-session", is_flag=True, help="Do not record the run.")
@common_options
@pass_state
def run(
    state: CliState,
    target: str,
    mode: str | None,
    llm_selector: str | None,
    pwd: Path | None,
    timeout: float | None,
    quiet: bool,
    session_path: Path | None,
    no_session: bool,
) -> None:
    """Run the creature at TARGET: each line of stdin is one turn.

    TARGET is a creature folder, its creature.toml / config.yaml, or @pack/path. The reply
    streams to stdout as it arrives; tool activity (one line per call start and end),
    notices and failed turns go to stderr. A failed turn is reported as `kt: error: ...` and
    the run goes on with the next line. End of input ends the run.

    Ctrl+C during a turn interrupts that turn; a second Ctrl+C, or one while waiting for
    input, exits (code 130). Exit code 1 when any turn failed.

    \b
    Examples:
      echo "hello" | kt run ./my-creature --llm scripted:replies.toml
      kt run ./my-creature --llm openai/gpt-4o-mini --timeout 120 < questions.txt
    """  # noqa: D301 (click reads \b as "keep this paragraph as written")
    mode = mode or _default_mode()
    _check_mode(mode)
    if no_session and session_path is not None:
        raise click.UsageError("--session and --no-session exclude each other")
    kernel = state.kernel()
    if no_session:
        session: object = None
    elif session_path is not None:
        session = session_path
    else:  # record by default when a session store is installed; resume with `kt resume`
        session = True if len(kernel.session_stores) else None

    import trio

    from kt_cli.plain import run_creature

    code = trio.run(
        partial(
            run_creature,
            target,
            kernel=kernel,
            stdin=sys.stdin,
            stdout=sys.stdout,
            stderr=sys.stderr,
            llm_selector=llm_selector,
            pwd=pwd,
            timeout=timeout,
            prompt="> " if mode == "cli" else None,
            show_tools=not quiet,
            session=session,
        )
    )
    click.get_current_context().exit(code)
