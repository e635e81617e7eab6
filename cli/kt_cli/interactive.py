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

import inspect
import shlex
import sys
import time
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any

import attrs
import trio

import kt
from kt.errors import KTError
from kt.llm import ImageError
from kt_cli.activity import ActivityTracker, Note, Symbols, clip
from kt_cli.repl import Feed
from kt_cli.requests import APPROVAL_MODES, ApprovalPolicy, Pending, restored_requests
from kt_cli.terminal import History

__all__ = [
    "CommandResult",
    "InteractiveSession",
    "SlashCommand",
    "channel_lines",
    "creature_channel_lines",
]

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


EXPAND_LINES = 200
"""Lines of a tool's output ``/expand`` shows at most."""


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")  # what an `@path` mention attaches


def _tokens(count: int) -> str:
    """``950``, ``12.3k``, ``1.2M``."""
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"


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
        approvals: str = "ask",
        surface: str = "cli",
    ) -> None:
        self.agent = agent
        self.approvals = ApprovalPolicy(approvals, agent.working_dir)
        self.surface = surface
        self.timeout = timeout
        self.tracker = ActivityTracker(symbols) if symbols is not None else ActivityTracker()
        self.commands: list[SlashCommand] = list(BUILTIN_COMMANDS) if slash_commands else []
        self.command_problems: list[str] = []
        if slash_commands:
            self._add_plugin_commands()
        self.busy = False
        self.failed_turns = 0
        self.history = History()
        self._feed = Feed()
        self._answers: trio.Nursery | None = None

    def _add_plugin_commands(self) -> None:
        """Add the commands of the ``kt_cli_slash_commands`` hook; note the ones refused."""
        pm = self.agent.kernel.pm
        caller = getattr(pm.hook, "kt_cli_slash_commands", None)
        if caller is None:
            return
        for impl in reversed(caller.get_hookimpls()):  # registration order
            try:
                offered = impl.function() or []
            except Exception as exc:  # a broken plugin must not end the session
                self.command_problems.append(
                    f"plugin {impl.plugin_name}: slash commands failed: {type(exc).__name__}: {exc}"
                )
                continue
            for item in offered:
                command = plugin_command(item)
                taken = {n for c in self.commands for n in (c.name, *c.aliases)}
                clash = {command.name, *command.aliases} & taken
                if clash:
                    self.command_problems.append(
                        f"plugin {impl.plugin_name}: /{sorted(clash)[0]} is taken; left out"
                    )
                    continue
                self.commands.append(command)

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
                self._deliver(note, on_note)

        async with trio.open_nursery() as answers:
            self._answers = answers
            try:
                with self.agent.subscribe() as events:
                    for event in restored_requests(self.agent):
                        handle(event)
                    await self._feed.pump(events, handle, task_status=task_status)
            finally:
                self._answers = None
                answers.cancel_scope.cancel()

    def _deliver(self, note: Note, on_note: NoteHandler) -> None:
        """Pass *note* on; a request the approval mode settles is answered here instead."""
        if note.kind == "request":
            pending = self.tracker.requests[note.call_id]
            decided = self.approvals.decide(pending)
            if decided is not None:
                del self.tracker.requests[note.call_id]  # nobody is asked: never shown as waiting
                verdict = "approved" if decided != "deny" else "refused"
                on_note(
                    Note(
                        "notice",
                        f"{pending.tool} {verdict} by the approval mode '{self.approvals.mode}'",
                        "ok" if decided != "deny" else "warning",
                    )
                )
                self.answer_soon(pending, decided, source=f"policy:{self.approvals.mode}")
                return
        on_note(note)

    # -- Requests ----------------------------------------------------------------------------

    @property
    def waiting_request(self) -> Pending | None:
        """The oldest request waiting for the person (the one to answer next), or ``None``."""
        return next(iter(self.tracker.requests.values()), None)

    def answer_typed(self, typed: str) -> CommandResult | None:
        """Answer the oldest waiting request with what the person typed.

        Returns:
            ``None`` when the answer was sent; an error result naming the accepted answers
            when *typed* is not one of them (the request stays open).
        """
        pending = self.waiting_request
        if pending is None:
            return _error("no question is waiting for an answer")
        answer = pending.resolve(typed)
        if answer is None:
            return _error(f"answer with {pending.hint()}")
        self.answer_soon(pending, answer, source=self.surface)
        return None

    async def answer_from(
        self, lines: Any, pending: Pending, show: Callable[[CommandResult], Any]
    ) -> bool:
        """Answer *pending* with lines read from *lines* (a ``LineReader``) until one fits.

        Lines that are not an accepted answer are reported through *show* and another is
        read. Returns ``False`` when the input ended first (the request is still open).
        """
        while pending.request_id in self.tracker.requests:
            line = await lines.readline()
            if line is None:
                return False
            problem = self.answer_typed(line)
            if problem is None:
                return True
            show(problem)
        return True

    def withdraw_soon(self, pending: Pending, *, source: str) -> None:
        """Close *pending* unanswered (nobody can choose one of its answers here)."""
        self.answer_soon(pending, None, source=source)

    def answer_soon(self, pending: Pending, answer: str | None, *, source: str) -> None:
        """Send *answer* to *pending* from a task (key handlers cannot wait); ``None`` withdraws."""

        async def send() -> None:
            try:
                if answer is None:
                    await pending.withdraw(self.agent, source=source)
                else:
                    await pending.answer(self.agent, answer, source=source)
            except KTError as exc:  # answered meanwhile, timed out: say so, keep going
                self.tracker.requests.pop(pending.request_id, None)
                await self.agent.emit(
                    kt.events.AgentWarning(message=f"answer not sent: {exc}", source="kt_cli")
                )

        if self._answers is None:
            raise KTError("answers can be sent only while the session delivers notes")
        self._answers.start_soon(send)

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
        name = line[1:].split(maxsplit=1)[0] if line[1:].strip() else ""
        command = self.find_command(name)
        if command is None:
            return name in self.skill_names()
        return command.runs_model

    def skill_names(self) -> list[str]:
        """The creature's enabled skills (``kt_skills``), which ``/NAME ARGS`` runs as a turn."""
        skills = sys.modules.get("kt_skills")  # loaded when the creature has skills
        if skills is None or self.agent.kernel.pm.get_plugin("kt_skills") is None:
            return []
        try:
            return list(skills.enabled_skills(self.agent))
        except Exception:  # no skill set for this creature
            return []

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
        return self.turn_report(await self.run_turn(self.attach_images(text)))

    def attach_images(self, text: str) -> str | list[kt.ContentPart]:
        """*text*, with the image of each ``@path`` mention that names one attached after it.

        A mention of a ``.png``, ``.jpg``, ``.jpeg``, ``.gif`` or ``.webp`` file (relative to
        the working directory) attaches the image; the mention stays in the text, so the model
        knows which file it sees. A mention of anything else, or of a file that is missing or
        not an image, stays plain text (the model can still ``read`` it).
        """
        images = []
        for word in text.split():
            if word.startswith("@") and Path(word).suffix.lower() in IMAGE_SUFFIXES:
                try:
                    images.append(kt.ContentPart.image(self.agent.working_dir / word[1:]))
                except ImageError:
                    continue
        return [kt.ContentPart("text", text=text), *images] if images else text

    async def run_turn(self, text: str | list[kt.ContentPart]) -> kt.TurnResult:
        """Run one turn for *text*; its events arrive through :meth:`pump_notes`.

        Args:
            text: The user message: text, or text and the images it attaches.

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
        if command is None and name in self.skill_names():
            return self.turn_report(await self.run_turn(line)) or CommandResult()
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
        """Completions of a command name (``/co`` -> ``["/compact"]``) or an ``@file``.

        Args:
            before_cursor: The input line up to the cursor.

        Returns:
            Matching ``/name`` strings, or ``[]`` when the line is not a command name.
        """
        word = before_cursor.rsplit(maxsplit=1)[-1] if before_cursor.strip() else ""
        if word.startswith("@") and not before_cursor.endswith(" "):
            head = before_cursor[: len(before_cursor) - len(word)]
            return [f"{head}@{path}" for path in self.file_candidates(word[1:])]
        if not before_cursor.startswith("/") or " " in before_cursor:
            return []
        typed = before_cursor[1:]
        return sorted(f"/{c.name}" for c in self.commands if c.name.startswith(typed))

    def file_candidates(self, typed: str, limit: int = 50) -> list[str]:
        """Paths in the working directory starting with *typed* (folders end with ``/``).

        Hidden entries are offered only when *typed* names them (``@.git``).
        """
        root = self.agent.working_dir
        folder, _, prefix = typed.rpartition("/")
        base = (root / folder).resolve()
        if base != root.resolve() and root.resolve() not in base.parents:
            return []  # @../ stays inside the working directory
        try:
            entries = sorted(base.iterdir(), key=lambda p: p.name)
        except OSError:
            return []
        found = []
        for entry in entries:
            if not entry.name.startswith(prefix) or (entry.name[0] == "." and prefix[:1] != "."):
                continue
            path = f"{folder}/{entry.name}" if folder else entry.name
            found.append(path + ("/" if entry.is_dir() else ""))
        return found[:limit]

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

    def expand(self, back: int = 1) -> CommandResult:
        """The whole output of a finished tool call: the latest (*back* 1), or earlier ones."""
        finished = self.tracker.finished
        if not 1 <= back <= len(finished):
            if not finished:
                return CommandResult(("no finished tool call to expand yet",))
            return _error(f"/expand: give 1 to {len(finished)} (1 is the latest call)")
        line, output = finished[-back]
        lines = output.splitlines() or ["(no output)"]
        if len(lines) > EXPAND_LINES:
            lines = [*lines[:EXPAND_LINES], f"… {len(lines) - EXPAND_LINES} more lines"]
        return CommandResult((line, *(f"  {text}" for text in lines)))

    def footer(self) -> str:
        """One line for a footer: model, context use, tokens in and out, cost, approval mode.

        The context is what the latest model call used, against the model's
        ``context_window`` when it declares one; tokens count the running turn's calls too.
        """
        agent = self.agent
        parts = [agent.llm_name]
        used = self.tracker.context_tokens
        window = getattr(agent.llm, "context_window", None)
        if window:
            parts.append(f"context {_tokens(used)}/{_tokens(window)} ({used * 100 // window}%)")
        elif used:
            parts.append(f"context {_tokens(used)}")
        spent, replied = self.tracker.turn_usage
        tokens_in = agent.usage.prompt_tokens + spent
        tokens_out = agent.usage.completion_tokens + replied
        parts.append(f"{_tokens(tokens_in)} in · {_tokens(tokens_out)} out")
        cost = self.cost_text()
        if cost:
            parts.append(cost)
        if self.approvals.mode != "ask":
            parts.append(f"approvals: {self.approvals.mode}")
        return " · ".join(parts)

    def cost_text(self, *, turn: bool = False) -> str:
        """The session's cost so far (``$0.0123``; ``$0.0123+`` when a call had no prices).

        ``""`` before the first priced call (or without ``kt_llm``, which prices calls). With
        *turn*, the latest turn's cost follows in brackets.
        """
        if self.tracker.cost is None:
            return ""
        session, last_turn, complete = self.tracker.cost
        text = f"${session:.4f}{'' if complete else '+'}"
        return text + (f" (last turn ${last_turn:.4f})" if turn else "")

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
        "keys: Enter sends; Ctrl+J, Alt+Enter or Shift+Enter add a line (a paste is one message);",
        "      Up/Down browse earlier input; Tab completes a command or an @file;",
        "      Ctrl+O shows the whole output of the latest tool call; Esc interrupts a turn;",
        "      a question waiting for you takes the next line as its answer (y/a/n for an",
        "      approval: allow once, allow for this session, deny);",
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


MODEL_PRESETS_SHOWN = 8
"""Presets ``/model`` numbers per backend (the rest are selected by name)."""


def model_choices(agent: kt.Agent) -> list[tuple[str, list[str], str]]:
    """What ``/model`` offers: ``(provider, selectors, note)`` per backend, endpoints last.

    With ``kt_llm`` (it resolved the creature's model, so its catalog is loaded) the list is
    its catalog's: every backend with its presets, then the user's custom endpoints from
    ``llm.toml`` with the model and URL each serves. Without it, the kernel's backends and
    their presets.
    """
    catalog = sys.modules.get("kt_llm.catalog")
    settings = sys.modules.get("kt_llm.settings")
    if catalog is not None and settings is not None and agent.kernel.pm.get_plugin("kt_llm"):
        try:
            providers = catalog.Catalog(agent.kernel, settings.Settings()).ordered()
        except KTError:  # a broken llm.toml: kt model check says what; offer the backends
            providers = None
        if providers is not None:
            return [
                (
                    p.name,
                    [f"{p.name}/{preset.name}" for preset in p.presets]
                    or ([p.name] if p.custom else []),
                    f"custom endpoint: {p.model or 'no default model'} at {p.base_url}"
                    if p.custom
                    else "",
                )
                for p in providers
            ]
    return [
        (name, [f"{name}/{p.name}" for p in spec.profiles], "")
        for name, spec in sorted(agent.kernel.llm_backends.items())
    ]


async def _model(session: InteractiveSession, args: str) -> CommandResult:
    agent = session.agent
    choices = model_choices(agent)
    numbered = [s for _, selectors, _ in choices for s in selectors[:MODEL_PRESETS_SHOWN]]
    if not args:
        lines = [f"model: {agent.llm_name}", "choices (/model N picks one):"]
        for provider, selectors, note in choices:
            shown = selectors[:MODEL_PRESETS_SHOWN]
            picks = ", ".join(
                f"{numbered.index(s) + 1}) {s.removeprefix(provider + '/')}" for s in shown
            )
            more = f" (+{len(selectors) - len(shown)} more)" if len(selectors) > len(shown) else ""
            lines.append(f"  {provider}{': ' + picks + more if picks else ''}")
            if note:
                lines.append(f"    {note}")
        lines.append(
            "switch with /model N or /model SELECTOR (BACKEND/MODEL, a preset, an endpoint, "
            "or scripted:FILE)"
        )
        return CommandResult(tuple(lines))
    if agent.current_turn is not None:
        return _error("/model: a turn is running; wait for it or interrupt it (Ctrl+C)")
    selector = args.strip()
    if selector.isdigit():
        if not 1 <= int(selector) <= len(numbered):
            return _error(f"/model: pick 1 to {len(numbered)} (/model lists them)")
        selector = numbered[int(selector) - 1]
    probe = await kt.Agent.build(
        agent.config,
        kernel=agent.kernel,
        llm_selector=selector,
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


async def _approvals(session: InteractiveSession, args: str) -> CommandResult:
    if not args:
        lines = [f"approval mode: {session.approvals.mode}"]
        lines += [f"  {name:<13} {text}" for name, text in APPROVAL_MODES.items()]
        lines.append("switch with /approvals MODE")
        return CommandResult(tuple(lines))
    session.approvals.set(args.strip())
    return CommandResult((f"approval mode: {session.approvals.mode}",), "ok")


async def _cost(session: InteractiveSession, args: str) -> CommandResult:
    lines = [f"tokens    {session.usage_line()}", f"context   {session.footer()}"]
    cost = session.cost_text(turn=True)
    lines.append(f"cost      {cost}" if cost else "cost      none yet (no priced model call)")
    if cost.split(" ")[0].endswith("+"):
        lines.append("          + some calls had no known prices (kt model show lists them)")
    return CommandResult(tuple(lines))


async def _jobs(session: InteractiveSession, args: str) -> CommandResult:
    jobs = session.running_jobs(services=args.strip() == "--all")
    if not jobs:
        return CommandResult(("no background jobs running",))
    now = time.time()
    return CommandResult(
        tuple(f"{job.id}  {job.kind} {job.name}  {now - job.started_at:.0f}s" for job in jobs)
    )


async def _stop(session: InteractiveSession, args: str) -> CommandResult:
    job_id = args.strip()
    if not job_id:
        return _error("usage: /stop JOB (/jobs lists them)")
    if not session.agent.cancel_job(job_id):
        return _error(f"/stop: no running job '{job_id}' (/jobs lists them)")
    return CommandResult((f"job {job_id} stopped",), "ok")


async def _expand(session: InteractiveSession, args: str) -> CommandResult:
    if args.strip() and not args.strip().isdigit():
        return _error("usage: /expand [N], N counting back from the latest tool call (1)")
    return session.expand(int(args.strip() or 1))


_SECRET_NAMES = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")


async def _env(session: InteractiveSession, args: str) -> CommandResult:
    import os

    wanted = args.strip().upper()
    lines = []
    for name in sorted(os.environ):
        if wanted and wanted not in name.upper():
            continue
        secret = any(part in name.upper() for part in _SECRET_NAMES)
        lines.append(f"{name}={'(hidden)' if secret else clip(os.environ[name], 100)}")
    return CommandResult(tuple(lines) or ("no matching variables",))


async def _system_prompt(session: InteractiveSession, args: str) -> CommandResult:
    request = session.agent.build_request()
    system = next((m for m in request.messages if m.role == "system"), None)
    if system is None or not isinstance(system.content, str):
        return CommandResult(("this creature has no system prompt",))
    return CommandResult(tuple(system.content.splitlines()))


async def _plugin(session: InteractiveSession, args: str) -> CommandResult:
    kernel = session.agent.kernel
    lines = [f"plugins: {', '.join(kernel.plugin_names) or 'none'}"]
    lines += [f"  failed: {f.name}: {f.reason}" for f in getattr(kernel, "failures", ())]
    return CommandResult(tuple(lines))


async def _workspace(session: InteractiveSession, args: str) -> CommandResult:
    folder = session.agent.working_dir
    entries = sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name))[:40]
    lines = [f"working directory: {folder}"]
    lines += [f"  {p.name}{'/' if p.is_dir() else ''}" for p in entries]
    return CommandResult(tuple(lines))


async def _scratchpad(session: InteractiveSession, args: str) -> CommandResult:
    tools = sys.modules.get("kt_tools.data")  # loaded when the creature has the scratchpad
    pad = tools.scratchpad_of(session.agent) if tools is not None else {}
    if not pad:
        return CommandResult(("the scratchpad is empty",))
    return CommandResult(tuple(f"{key}: {clip(value, 200)}" for key, value in pad.items()))


async def _skill(session: InteractiveSession, args: str) -> CommandResult:
    names = session.skill_names()
    if not args.strip():
        if not names:
            return CommandResult(("no skills enabled (the kt_skills plugin finds them)",))
        return CommandResult(("skills (run one with /NAME ARGS):", *(f"  /{n}" for n in names)))
    name = args.split(maxsplit=1)[0]
    if name not in names:
        return _error(f"/skill: no enabled skill '{name}'; /skill lists them")
    return session.turn_report(await session.run_turn(f"/{args.strip()}")) or CommandResult()


async def _branch(session: InteractiveSession, args: str) -> CommandResult:
    plugin = session.sessions_plugin("/branch")
    if not args.strip():
        found = plugin.branches(session.agent)
        if not found:
            return CommandResult(("no branches yet (/regen and /edit make them)",))
        lines = []
        for branch in found:
            path = ".".join(map(str, branch.path))
            mark = "*" if branch.live else " "
            lines.append(f"{mark} {path:<8} {branch.reason or 'asked'}: {clip(branch.input, 60)}")
        return CommandResult(("branches (* live; switch with /branch PATH):", *lines))
    try:
        path = tuple(int(part) for part in args.strip().split("."))
    except ValueError:
        return _error("usage: /branch [PATH], PATH as /branch lists it (1.2)")
    await plugin.select_branch(session.agent, path)
    return CommandResult((f"switched to branch {args.strip()}",), "ok")


def channel_lines(
    channels: Any, *, me: str | None = None, sendable: Collection[str] = ()
) -> list[str]:
    """Lines describing a team's *channels* (``ChannelInfo``-shaped objects), for ``/channels``.

    Shared by ``kt run`` (a creature hosted in a team) and ``kt terrarium run``. With *me*,
    ``>`` marks the channels that creature may send on (*sendable*: a privileged creature may
    send on every one, not only where it has a send edge) and ``<`` those it listens to.
    """
    found = list(channels)
    if not found:
        return ["no channels in this team"]
    lines = ["channels (> you may send on it, < you listen to it):" if me else "channels:"]
    for info in found:
        marks = ""
        if me:
            marks = (">" if info.name in sendable else " ") + ("<" if me in info.listeners else " ")
            marks += " "
        backlog = f", {info.backlog} waiting" if info.backlog else ""
        lines.append(
            f"  {marks}{info.name} ({info.kind}, {info.message_count} sent{backlog})"
            + (f": {clip(info.description, 80)}" if info.description else "")
        )
        lines.append(
            f"      listeners {', '.join(info.listeners) or 'none'} · "
            f"senders {', '.join(info.senders) or 'none'}"
        )
    return lines


def creature_channel_lines(agent: kt.Agent) -> list[str] | None:
    """``/channels`` for a creature hosted in a team (its channel service), else ``None``."""
    service = agent.stash.get(kt.CHANNEL_SERVICE, None)
    if service is None:
        return None
    return channel_lines(service.list(), me=service.creature_id, sendable=set(service.channels()))


async def _channels(session: InteractiveSession, args: str) -> CommandResult:
    lines = creature_channel_lines(session.agent)
    if lines is None:
        return CommandResult(
            (
                "this creature is not part of a team, so it has no channels "
                "(kt terrarium run runs a team)",
            )
        )
    return CommandResult(tuple(lines))


async def _triggers(session: InteractiveSession, args: str) -> CommandResult:
    jobs = [j for j in session.agent.jobs.values() if j.kind == "trigger" and j.status == "running"]
    if not jobs:
        return CommandResult(("no triggers running",))
    return CommandResult(tuple(f"{job.id}  {job.name}" for job in jobs))


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
    SlashCommand("approvals", "[MODE]", "show or switch the approval mode", _approvals),
    SlashCommand("cost", "", "tokens, context use and cost of this session", _cost),
    SlashCommand("jobs", "[--all]", "background jobs running now", _jobs),
    SlashCommand("expand", "[N]", "the whole output of a tool call (Ctrl+O: the latest)", _expand),
    SlashCommand("stop", "JOB", "stop a background job", _stop),
    SlashCommand("triggers", "", "triggers running now", _triggers),
    SlashCommand("channels", "", "the team's channels, who listens and who sends", _channels),
    SlashCommand("skill", "[NAME ARGS]", "list the skills, or run one", _skill, runs_model=True),
    SlashCommand("branch", "[PATH]", "list the conversation's branches, or switch", _branch),
    SlashCommand("scratchpad", "", "the creature's scratchpad notes", _scratchpad),
    SlashCommand("system_prompt", "", "the system prompt the model gets", _system_prompt),
    SlashCommand("workspace", "", "the working directory and what it holds", _workspace),
    SlashCommand("plugin", "", "the plugins of this run", _plugin, ("plugins",)),
    SlashCommand("env", "[FILTER]", "environment variables (secrets hidden)", _env),
    SlashCommand("exit", "", "leave (the session is saved)", _exit, ("quit", "q")),
)
"""The commands every interactive session has, in ``/help`` order."""


def plugin_command(item: Any) -> SlashCommand:
    """A command a plugin offered (an object or a dict; see ``kt_cli_slash_commands``)."""

    def get(key: str, default: Any = None) -> Any:
        return item.get(key, default) if isinstance(item, dict) else getattr(item, key, default)

    function = get("run")

    async def run(session: InteractiveSession, args: str) -> CommandResult:
        said = function(session, args)
        if inspect.isawaitable(said):
            said = await said
        if isinstance(said, CommandResult):
            return said
        if said is None:
            return CommandResult()
        return CommandResult((said,) if isinstance(said, str) else tuple(map(str, said)))

    return SlashCommand(
        str(get("name")),
        str(get("usage", "")),
        str(get("summary", "")),
        run,
        tuple(get("aliases", ()) or ()),
        bool(get("runs_model", False)),
    )
