"""An interactive session with one creature, for any front end: turns, slash commands, notes.

:class:`InteractiveSession` is the session the shared loop (:class:`kt_cli.repl.Repl`) drives
for one creature: in the ``plain`` input (turns only), the ``cli`` input
(:mod:`kt_cli.line_ui`) and the ``tui`` input of the ``kt_tui`` plugin. It holds no terminal:
the loop hands it each line the user entered (:meth:`InteractiveSession.submit`), a front end
shows the :class:`CommandResult` it gives back, and renders the creature's activity from the
notes that :meth:`InteractiveSession.pump_notes` delivers (see :mod:`kt_cli.activity`).

Slash commands (``/help`` lists them) map onto public APIs: ``/compact`` is
``agent.compact()``, ``/clear`` is ``agent.clear_history()``, ``/regen``, ``/edit`` and
``/fork`` are the branching functions of the session plugin (``kt_sessions``), found through
the kernel rather than imported, ``/model`` builds a model the way ``kt.Agent.build`` chooses
one and switches with ``agent.set_llm``.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

import kt
from kt.errors import KTError
from kt_cli.activity import ActivityTracker, Note, Symbols
from kt_cli.repl import Feed
from kt_cli.terminal import History

__all__ = ["CommandResult", "InteractiveSession", "SlashCommand"]

NoteHandler = Callable[[Note], Any]


@attrs.frozen
class CommandResult:
    """What a slash command (or a failed submission) has to say.

    Attributes:
        lines: Lines to show, in order.
        level: ``info``, ``ok`` or ``error``.
        exit: The user asked to leave (``/exit``).
        prefill: Text to put in the input line for the user to edit (``/edit`` without
            text offers the last input this way); ``""`` for none.
    """

    lines: tuple[str, ...] = ()
    level: str = "info"
    exit: bool = False
    prefill: str = ""


def _error(*lines: str) -> CommandResult:
    return CommandResult(tuple(lines), "error")


@attrs.frozen
class SlashCommand:
    """One slash command.

    Attributes:
        name: What the user types after ``/``.
        usage: The arguments, for ``/help`` (``"[TURN] TEXT"``).
        summary: One line for ``/help``.
        run: ``await run(session, args)``, *args* being the text after the name.
        aliases: Other names for it.
        runs_model: Whether it may call the model (a front end shows it busy and lets Ctrl+C
            interrupt it, as for a turn).
    """

    name: str
    usage: str
    summary: str
    run: Callable[[InteractiveSession, str], Awaitable[CommandResult]]
    aliases: tuple[str, ...] = ()
    runs_model: bool = False


class InteractiveSession:
    """One creature driven interactively: what every terminal front end needs.

    Args:
        agent: A running agent (inside ``async with agent``).
        timeout: Time limit per turn in seconds (``None``: the creature's own limit).
        symbols: Marks for activity lines (unicode or ASCII).
        slash_commands: Whether a line starting with ``/`` is a command (``plain`` says no:
            every line is a message).

    Attributes:
        agent: The creature.
        commands: The slash commands, in ``/help`` order (empty without slash commands).
        tracker: Turns events into notes; its ``running`` lists the calls running now.
        busy: A turn or a model-calling command submitted here is running.
        failed_turns: Turns submitted here that ended with an error or timeout.
        history: Input lines entered so far (``lines``, oldest first; ``add(line)``), kept
            between runs in ``$KT_HOME/input-history`` by the ``cli`` and ``tui`` inputs.
    """

    def __init__(
        self,
        agent: kt.Agent,
        *,
        timeout: float | None = None,
        symbols: Symbols | None = None,
        slash_commands: bool = True,
    ) -> None:
        self.agent = agent
        self.timeout = timeout
        self.tracker = ActivityTracker(symbols) if symbols is not None else ActivityTracker()
        self.commands: list[SlashCommand] = list(BUILTIN_COMMANDS) if slash_commands else []
        self.busy = False
        self.failed_turns = 0
        self.history = History()
        self._feed = Feed()

    @property
    def active(self) -> bool:
        """Whether the creature works: a turn from here, or one it started itself."""
        return self.busy or bool(self.tracker.phase)

    # -- Events ----------------------------------------------------------------------------

    async def pump_notes(
        self,
        on_note: NoteHandler,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Deliver the notes of every event the creature publishes to *on_note*, until cancelled.

        Start it with ``await nursery.start(session.pump_notes, on_note)``: it returns once
        subscribed, so no event published afterwards is missed. *on_note* is called
        synchronously, one note at a time, in order.

        Runs until cancelled (cancel the nursery when the front end closes) or until the agent
        stops, which closes the subscription; either way the subscription is closed.

        Args:
            on_note: Called with each :class:`~kt_cli.activity.Note`.
            task_status: For ``nursery.start``.
        """

        def handle(event: Any) -> None:
            for note in self.tracker.handle(event):
                on_note(note)

        with self.agent.subscribe() as events:
            await self._feed.pump(events, handle, task_status=task_status)

    async def caught_up(self) -> None:
        """Wait until every event published so far has been delivered as notes.

        Call it after a turn or command, before showing its result, so the result comes after
        everything the creature did meanwhile. Returns at once when no pump runs. Cancelling
        it has no effect beyond ending the wait.
        """
        await self._feed.caught_up()

    # -- Input -----------------------------------------------------------------------------

    def is_command(self, line: str) -> bool:
        """Whether *line* is a slash command (``//`` starts a message with a slash).

        Never, when the session has no commands (the ``plain`` input).
        """
        return bool(self.commands) and line.startswith("/") and not line.startswith("//")

    def runs_model(self, line: str) -> bool:
        """Whether submitting *line* may call the model (show busy, let Ctrl+C interrupt)."""
        if not self.is_command(line):
            return bool(line.strip())
        command = self.find_command(line[1:].split(maxsplit=1)[0] if line[1:].strip() else "")
        return command is not None and command.runs_model

    async def submit(self, line: str) -> CommandResult | None:
        """Run one line of user input: a slash command, or else a turn.

        Args:
            line: What the user entered (without the newline).

        Returns:
            The command's result; for a turn, a notice when it did not complete (see
            :meth:`turn_report`), else ``None``. Errors of commands are returned as results,
            never raised. Interrupting and cancelling behave as in :meth:`run_turn`; a
            command cancelled partway (``/compact``, ``/fork``) leaves what it had done.
        """
        if self.is_command(line):
            return await self.run_command(line)
        text = line[1:] if self.commands and line.startswith("//") else line
        if not text.strip():
            return None
        return self.turn_report(await self.run_turn(text))

    async def run_turn(self, text: str) -> kt.TurnResult:
        """Run one turn for *text*; its events arrive through :meth:`pump_notes`.

        Args:
            text: The user message.

        Returns:
            The turn's result. :meth:`interrupt` (a front end's Ctrl+C) ends the turn with
            status ``interrupted`` and the session's *timeout* with ``timeout``; neither
            raises. Cancelling the caller cancels the turn (status ``cancelled``, history
            repaired) and ``trio.Cancelled`` propagates.
        """
        limit = {} if self.timeout is None else {"timeout": self.timeout}
        return await self._busy(self.agent.run(text, **limit))

    async def run_command(self, line: str) -> CommandResult:
        """Run a slash command line (``/name args``).

        Args:
            line: The line, starting with ``/``.

        Returns:
            What the command says; an unknown name, a ``KTError`` or any other exception the
            command raised is an ``error`` result.
        """
        name, _, args = line[1:].strip().partition(" ")
        command = self.find_command(name)
        if command is None:
            return _error(
                f"unknown command /{name}; /help lists the commands "
                "(start a line with // to send a message that begins with /)"
            )
        try:
            if command.runs_model:
                return await self._busy(command.run(self, args.strip()))
            return await command.run(self, args.strip())
        except KTError as exc:
            return _error(f"/{command.name}: {exc}")
        except Exception as exc:  # a broken command must not end the user's session
            return _error(f"/{command.name} failed: {type(exc).__name__}: {exc}")

    async def _busy(self, work: Awaitable[Any]) -> Any:
        self.busy = True
        try:
            return await work
        finally:
            self.busy = False

    def find_command(self, name: str) -> SlashCommand | None:
        """The command called *name* (or with that alias), or ``None``."""
        for command in self.commands:
            if name == command.name or name in command.aliases:
                return command
        return None

    def complete(self, before_cursor: str) -> list[str]:
        """Completions of a partly typed command name (``/co`` -> ``["/compact"]``).

        Args:
            before_cursor: The input line up to the cursor.

        Returns:
            Matching ``/name`` strings, or ``[]`` when the line is not a command name.
        """
        if not before_cursor.startswith("/") or " " in before_cursor:
            return []
        typed = before_cursor[1:]
        return sorted(f"/{c.name}" for c in self.commands if c.name.startswith(typed))

    def interrupt(self) -> bool:
        """Interrupt the creature's running turn, if any (a Ctrl+C).

        Returns:
            Whether a turn was running.
        """
        if self.agent.current_turn is None:
            return False
        self.agent.interrupt()
        return True

    # -- What to show ------------------------------------------------------------------------

    def turn_report(self, result: kt.TurnResult) -> CommandResult | None:
        """A notice for a turn that did not complete normally, or ``None``.

        Args:
            result: The turn's result.

        Returns:
            ``turn interrupted`` (info), the creature's own termination (info), or the error
            (error; counted in :attr:`failed_turns`).
        """
        status = result.status
        if status == "completed":
            return None
        if status == "interrupted":
            return CommandResult(("turn interrupted",))
        if status == "terminated":
            return CommandResult((f"the creature ended the turn: {result.reason or 'terminated'}",))
        self.failed_turns += 1
        if status == "max_iterations":
            detail = result.reason or f"it reached its limit of {result.iterations} model calls"
            return _error(
                f"error: the turn stopped without a final answer: {detail} "
                "(raise max_iterations in the creature config)"
            )
        if result.error is not None:
            return _error(f"error: {str(result.error) or type(result.error).__name__}")
        return _error(f"error: the turn ended with status '{status}'")

    def resume_command(self) -> str | None:
        """``kt resume NAME`` for the recorded session, or ``None`` when nothing is recorded."""
        name = getattr(self.agent.session, "name", None)
        return f"kt resume {name}" if name else None

    def running_jobs(self, *, services: bool = False) -> list[kt.Job]:
        """The creature's background jobs that are still running, oldest first.

        Args:
            services: Include plugins' own tasks (kind ``task``: a session's flusher, an MCP
                connection), not only tool calls, sub-agents and triggers.
        """
        return [
            job
            for job in self.agent.jobs.values()
            if job.status == "running" and (services or job.kind != "task")
        ]

    def usage_line(self) -> str:
        """Token usage so far, on one line."""
        usage = self.agent.usage
        line = f"{usage.prompt_tokens} in / {usage.completion_tokens} out tokens"
        cached = getattr(usage, "cached_tokens", 0)
        return line + (f" ({cached} cached)" if cached else "")

    def status_lines(self) -> list[str]:
        """What ``/status`` shows: model, session, conversation, usage, jobs."""
        agent = self.agent
        session = getattr(agent.session, "name", None)
        lines = [
            f"creature  {agent.name}",
            f"model     {agent.llm_name}",
            f"session   {session or 'not recorded'}",
            f"turns     {agent.turn_index}  messages {len(agent.history)}  "
            f"tools {len(agent.tools)}",
            f"usage     {self.usage_line()}",
            f"folder    {agent.working_dir}",
        ]
        jobs = self.running_jobs()
        if jobs:
            lines.append("jobs")
            now = time.time()
            lines += [
                f"  {job.id}  {job.kind} {job.name}  {now - job.started_at:.0f}s" for job in jobs
            ]
        else:
            lines.append("jobs      none running")
        return lines

    # -- Services of other plugins -----------------------------------------------------------

    def sessions_plugin(self, command: str) -> Any:
        """The ``kt_sessions`` plugin module, found through the kernel (never imported).

        Args:
            command: The command needing it, for the error message.

        Raises:
            KTError: the plugin is not loaded, or this run is not recorded.
        """
        plugin = self.agent.kernel.pm.get_plugin("kt_sessions")
        if plugin is None:
            raise KTError(
                f"needs the kt_sessions plugin, which is not in the plugin set (kt plugins "
                f"lists it; add it with --plugins ...,kt_sessions) to {command}"
            )
        if self.agent.session is None:
            raise KTError(
                f"this run is not recorded (it was started with --no-session); {command} "
                "needs a session"
            )
        return plugin


# -- The built-in commands ----------------------------------------------------------------------


async def _help(session: InteractiveSession, args: str) -> CommandResult:
    width = max(len(f"/{c.name} {c.usage}".rstrip()) for c in session.commands)
    lines = ["commands:"]
    for c in session.commands:
        head = f"/{c.name} {c.usage}".rstrip()
        aliases = f" (also {', '.join('/' + a for a in c.aliases)})" if c.aliases else ""
        lines.append(f"  {head.ljust(width)}  {c.summary}{aliases}")
    lines += [
        "keys: Enter sends; Up/Down browse earlier input; Tab completes a command;",
        "      Ctrl+C interrupts a turn (at the prompt: clears the line, twice: exit);",
        "      Ctrl+D on an empty line exits. A line starting with // sends a message that "
        "begins with /.",
    ]
    return CommandResult(tuple(lines))


async def _exit(session: InteractiveSession, args: str) -> CommandResult:
    return CommandResult(exit=True)


async def _status(session: InteractiveSession, args: str) -> CommandResult:
    return CommandResult(tuple(session.status_lines()))


async def _clear(session: InteractiveSession, args: str) -> CommandResult:
    await session.agent.clear_history()
    kept = " (the session file keeps everything)" if session.agent.session is not None else ""
    return CommandResult((f"history cleared{kept}",), "ok")


async def _compact(session: InteractiveSession, args: str) -> CommandResult:
    keep: dict[str, int] = {}
    if args:
        if not args.isdigit() or int(args) < 1:
            return _error("usage: /compact [TURNS], TURNS (at least 1) the user turns to keep")
        keep["keep_recent_turns"] = int(args)
    if await session.agent.compact(**keep):
        return CommandResult(
            (f"history compacted: {len(session.agent.history)} messages now",), "ok"
        )
    return CommandResult(("history not compacted",))


async def _model(session: InteractiveSession, args: str) -> CommandResult:
    agent = session.agent
    if not args:
        lines = [f"model: {agent.llm_name}", "backends and their presets:"]
        for name in sorted(agent.kernel.llm_backends):
            spec = agent.kernel.llm_backends[name]
            presets = ", ".join(p.name for p in spec.profiles[:8])
            more = f" (+{len(spec.profiles) - 8} more)" if len(spec.profiles) > 8 else ""
            lines.append(f"  {name}{': ' + presets + more if presets else ''}")
        lines.append("switch with /model SELECTOR (BACKEND/MODEL, a preset, or scripted:FILE)")
        return CommandResult(tuple(lines))
    if agent.current_turn is not None:
        return _error("/model: a turn is running; wait for it or interrupt it (Ctrl+C)")
    probe = await kt.Agent.build(
        agent.config,
        kernel=agent.kernel,
        llm_selector=args,
        pwd=agent.working_dir,
        output=None,
    )
    agent.set_llm(probe.llm, name=probe.llm_name)
    return CommandResult((f"model switched to {agent.llm_name} for the rest of this run",), "ok")


async def _regen(session: InteractiveSession, args: str) -> CommandResult:
    plugin = session.sessions_plugin("/regen")
    limit = {} if session.timeout is None else {"timeout": session.timeout}
    result = await plugin.regenerate(session.agent, **limit)
    return session.turn_report(result) or CommandResult()


async def _edit(session: InteractiveSession, args: str) -> CommandResult:
    plugin = session.sessions_plugin("/edit")
    turn, text = -1, args
    first, _, rest = args.partition(" ")
    if rest.strip():
        try:
            turn, text = int(first), rest.strip()
        except ValueError:
            pass
    if not text:
        last = next((m for m in reversed(session.agent.history) if m.role == "user"), None)
        content = last.content if last is not None and isinstance(last.content, str) else ""
        return CommandResult(
            (
                "usage: /edit [TURN] NEW TEXT (TURN: 1 is the first user turn, -1 the last); "
                "edit the last input below and press Enter",
            ),
            prefill=f"/edit {content}" if content else "/edit ",
        )
    limit = {} if session.timeout is None else {"timeout": session.timeout}
    result = await plugin.edit(session.agent, text, turn=turn, **limit)
    return session.turn_report(result) or CommandResult()


async def _fork(session: InteractiveSession, args: str) -> CommandResult:
    plugin = session.sessions_plugin("/fork")
    try:
        words = shlex.split(args)
    except ValueError as exc:
        return _error(f"/fork: {exc}")
    at: int | None = None
    name: str | None = None
    while words:
        word = words.pop(0)
        if word == "--name" and words:
            name = words.pop(0)
        elif word.isdigit() and at is None:
            at = int(word)
        else:
            return _error("usage: /fork [EVENT_ID] [--name NAME]")
    path = getattr(session.agent.session, "path", None)
    if path is None:
        return _error("/fork: this run has no session file yet")
    child = await trio.to_thread.run_sync(lambda: plugin.fork(path, at, name=name))
    child_name = child.name.removesuffix(child.suffix)
    return CommandResult((f"forked into {child_name}; continue it with: kt resume {child}",), "ok")


BUILTIN_COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("help", "", "list the commands and keys", _help, ("h", "?")),
    SlashCommand(
        "model", "[SELECTOR]", "show the model and the choices, or switch model", _model, ("llm",)
    ),
    SlashCommand(
        "compact", "[TURNS]", "fold old history into a summary now", _compact, runs_model=True
    ),
    SlashCommand(
        "regen",
        "",
        "ask again: rerun the last input as a new branch",
        _regen,
        ("regenerate", "retry"),
        runs_model=True,
    ),
    SlashCommand(
        "edit",
        "[TURN] TEXT",
        "replace an input (default: the last) and rerun from it",
        _edit,
        runs_model=True,
    ),
    SlashCommand(
        "fork", "[EVENT] [--name N]", "copy the session so far into a new session file", _fork
    ),
    SlashCommand("clear", "", "drop the conversation history (the session file keeps it)", _clear),
    SlashCommand("status", "", "model, session, usage and background jobs", _status, ("info",)),
    SlashCommand("exit", "", "leave (the session is saved)", _exit, ("quit", "q")),
)
"""The commands every interactive session has, in ``/help`` order."""
