"""``kt run``: build a creature and serve it from an input module (plain, cli, tui, ...)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click

from kt_cli.state import CliState, common_options, pass_state


@click.command("run")
@click.argument("target")
@click.option(
    "--mode",
    metavar="MODE",
    default=None,
    help="The input module to talk through: plain (a line of stdin is a turn, replies on "
    "stdout), cli (a line interface with streaming, tool activity and slash commands), tui "
    "(full screen, needs the kt_tui plugin), or another plugin's input. Default: the "
    "creature's configured input, else cli on a terminal and plain otherwise.",
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
    help="Time limit for each turn; a turn that runs out ends with an error and the run goes "
    "on. Set on the input module (plain, cli, tui and webhook take one).",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not show tool activity.")
@click.option(
    "--approvals",
    type=click.Choice(["ask", "accept-edits", "bypass", "deny"]),
    default=None,
    help="Tool calls that need approval (kt_guard permissions): ask (default) asks you; "
    "accept-edits approves file edits inside the working directory; bypass approves all; "
    "deny refuses all without asking. Switch during the run with /approvals.",
)
@click.option(
    "--session",
    "session_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Record the run into this session file (default: a new file in ~/.kt/sessions when a "
    "session store such as kt_sessions is installed).",
)
@click.option("--no-session", is_flag=True, help="Do not record the run.")
@click.option(
    "--skip-unavailable",
    is_flag=True,
    help="Run without the creature's [[plugins]] entries that cannot load (not installed, "
    "failing to import), with a warning naming each, instead of failing.",
)
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
    approvals: str | None,
    session_path: Path | None,
    no_session: bool,
    skip_unavailable: bool,
) -> None:
    """Run the creature at TARGET: each line of input is one turn.

    TARGET is a creature folder, its creature.toml / config.yaml, or @pack/path. With --mode
    the creature is served from that input module (with the stdout output unless the input
    shows the replies itself); without it, from the input and output its config names
    (input = {type = "..."}), else from cli on a terminal and plain otherwise.

    In plain mode the reply streams to stdout as it arrives; tool activity (one line per call
    start and end), notices and failed turns go to stderr. A failed turn is reported as
    `kt: error: ...` and the run goes on with the next line; end of input ends the run (exit
    code 1 when any turn failed). In cli mode, type /help for the slash commands; Ctrl+D
    leaves. Ctrl+C during a turn interrupts that turn; a second Ctrl+C exits (code 130).

    The run is recorded into a session file when a session store (kt_sessions) is installed;
    the command to continue it (kt resume NAME) is printed at the end.

    \b
    Examples:
      kt run examples/demo
      echo "hello" | kt run ./my-creature --llm scripted:replies.toml
      kt run ./my-creature --llm openai/gpt-4o-mini --timeout 120 < questions.txt
    """  # noqa: D301 (click reads \b as "keep this paragraph as written")
    from kt_cli.modes import ModeError, find_mode

    if no_session and session_path is not None:
        raise click.UsageError("--session and --no-session exclude each other")
    kernel = state.kernel()
    if mode is not None:  # checked before the creature is built: building may cost
        try:
            find_mode(mode, kernel)
        except ModeError as exc:
            raise click.BadParameter(str(exc), param_hint="'--mode'") from exc
    if no_session:
        session: object = None
    elif session_path is not None:
        session = session_path
    else:  # record by default when a session store is installed; resume with `kt resume`
        session = True if len(kernel.session_stores) else None

    import trio

    code = trio.run(
        partial(
            _build_and_interact,
            target,
            state=state,
            mode=mode,
            llm_selector=llm_selector,
            pwd=pwd,
            timeout=timeout,
            show_tools=not quiet,
            approvals=approvals,
            session=session,
            skip_unavailable=skip_unavailable,
        )
    )
    click.get_current_context().exit(code)


async def _build_and_interact(
    target: str,
    *,
    state: CliState,
    mode: str | None,
    llm_selector: str | None,
    pwd: Path | None,
    timeout: float | None,
    show_tools: bool,
    approvals: str | None,
    session: object,
    skip_unavailable: bool = False,
) -> int:
    from kt import USE_CONFIG, Agent

    configured = USE_CONFIG if mode is None else None  # --mode: the mode's modules only
    source: object = target
    if skip_unavailable:  # the policy is a config key: set it on the loaded config
        import attrs

        from kt.config import load_creature_config

        loaded = load_creature_config(target, resolve_ref=state.kernel().resolve_ref)
        source = attrs.evolve(loaded, skip_unavailable_plugins=True)
    agent = await Agent.build(
        source,
        kernel=state.kernel(),
        llm_selector=llm_selector,
        pwd=pwd,
        input=configured,
        output=configured,
        session=session,
    )
    return await state.interact(
        agent, mode=mode, timeout=timeout, show_tools=show_tools, approvals=approvals
    )
