"""``Agent``: one running creature, and the public way to build and drive it.

An agent owns a trio nursery (entered with ``async with agent``) in which one consumer task
runs turns one at a time, in the order they were asked for: ``run`` calls, background-job
completions and trigger firings share one FIFO queue, so turns never interleave and need no
locks. Background tools and triggers run in the same nursery and re-enter through that queue.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

from kt.config import (
    CreatureConfig,
    ModuleEntry,
    OutputEntry,
    load_creature_config,
    module_entry,
)
from kt.errors import (
    AgentNotStartedError,
    AgentStateError,
    AgentStoppedError,
    AgentTerminatedError,
    ConfigError,
    ConfigValidationError,
    UnknownNameError,
)
from kt.events import (
    CreatureStarted,
    CreatureStopped,
    CreatureTerminated,
    ErrorOccurred,
    Event,
    HistoryReplaced,
    MessageAppended,
    ToolCallCompleted,
    ToolCallStarted,
    TurnCompleted,
)
from kt.formats import ToolFormat
from kt.history import merge_user_content, repair
from kt.llm import (
    LLM,
    USE_CONFIG,
    ContentPart,
    LLMProfile,
    LLMRequest,
    Message,
    ToolCall,
    ToolSchema,
    Usage,
    content_text,
)
from kt.plugins.hookspecs import RUNTIME_HOOKS
from kt.plugins.kernel import Kernel
from kt.plugins.manager import new_plugin_manager, plugin_name
from kt.plugins.runner import HookRunner
from kt.results import ToolCallRecord, TurnResult
from kt.runtime import assembly
from kt.runtime.compaction import compact
from kt.runtime.context import TurnContext
from kt.runtime.controller import TurnRequest, run_turn
from kt.runtime.executor import (
    BACKGROUND_ARG,
    execute_call,
    recordable_args,
    result_message_text,
    run_tool,
)
from kt.runtime.jobs import Job
from kt.runtime.sessions import open_session
from kt.runtime.stash import Stash
from kt.runtime.termination import Termination
from kt.specs import PromptSection, RenderedPrompt
from kt.tools import ToolSpec

__all__ = ["Agent", "TurnStream"]

_UseConfig = type(USE_CONFIG)
ConfigSource = CreatureConfig | Mapping[str, Any] | str | os.PathLike[str]
UserInput = str | Sequence[ContentPart]


def _call_soon(token: trio.lowlevel.TrioToken | None, fn: Callable[[], object]) -> None:
    """Run *fn* in the agent's trio thread soon; nothing when that run is over."""
    if token is not None:
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(fn)


class Agent:
    """A creature: its model, tools, plugins, history and the loop that runs its turns.

    Build one with :meth:`build`, enter it with ``async with``, then call :meth:`run` or
    :meth:`run_stream`. Constructing ``Agent`` directly is internal.
    """

    def __init__(
        self,
        *,
        config: CreatureConfig,
        kernel: Kernel,
        llm: LLM,
        llm_name: str,
        tools: dict[str, ToolSpec],
        tool_format: ToolFormat,
        plugins: Sequence[tuple[str, Any]],
        working_dir: Path,
    ) -> None:
        self.config = config
        self.name = config.name
        self.kernel = kernel
        self.llm = llm
        self.llm_name = llm_name
        self.tools = tools
        self.tool_format = tool_format
        self.working_dir = working_dir
        self.stash = Stash()
        self.history: list[Message] = []
        self.usage = Usage()
        self.turn_index = 0
        self.current_turn: TurnRequest | None = None
        self.system_prompt = ""
        self.unsafe_lock = trio.Lock()
        self._plugin_options = {e.name: dict(e.options) for e in config.plugins}
        self._creature_pm = new_plugin_manager()
        for name, plugin in plugins:
            if kernel.pm.is_registered(plugin):
                continue  # its hooks already run for every creature; the entry only adds options
            self._creature_pm.register(plugin, name=name)
        self.runner = HookRunner([kernel.pm, self._creature_pm], on_error=self._hook_failed)
        for hook in RUNTIME_HOOKS:  # refuse wrappers and the like at build time, not mid-turn
            self.runner.impls(hook)
        self._state = "built"
        self._nursery: trio.Nursery | None = None
        self._nursery_cm: Any = None
        self._queue_send: trio.MemorySendChannel[TurnRequest] | None = None
        self._queue_recv: trio.MemoryReceiveChannel[TurnRequest] | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._subscribers: list[trio.MemorySendChannel[Event]] = []
        self._tool_schemas: tuple[ToolSchema, ...] = ()
        self.body_args: dict[str, str] = {}
        self.triggers: list[Any] = []
        self.jobs: dict[str, Job] = {}
        self.outputs: list[Any] = []
        self.input: Any = None  # what serve() runs: an object with async run(agent)
        self.controller: Callable[[Agent, TurnRequest], Awaitable[TurnResult]] = run_turn
        self.termination = Termination(config.termination)
        self._serving: trio.CancelScope | None = None  # serve()'s scope, cancelled on termination
        self._watch_idle = config.termination.idle_timeout is not None
        self.session: Any = None  # the session store's object, when built with session=
        self._system_message: Message | None = None

    # -- Building ------------------------------------------------------------------------------

    @classmethod
    async def build(
        cls,
        config: ConfigSource,
        *,
        llm: LLM | str | None = None,
        tools: Sequence[Any] = (),
        plugins: Sequence[Any] = (),
        pwd: str | os.PathLike[str] | None = None,
        kernel: Kernel | None = None,
        llm_selector: str | None = None,
        env: Mapping[str, str] | None = None,
        input: Any = USE_CONFIG,
        output: Any = USE_CONFIG,
        session: Any = None,
        session_dir: str | os.PathLike[str] | None = None,
    ) -> Agent:
        """Build a creature from a config, resolving everything it names now.

        Args:
            config: A creature folder or file (``creature.toml`` / ``config.yaml``), an
                ``@pack/path`` reference, a plain dict, or a loaded ``CreatureConfig``.
            llm: A model instance (anything with ``stream(request)``), which takes precedence
                over the config so no key or network is needed; or a string, read as
                ``llm_selector`` (a profile name, a preset, ``BACKEND/MODEL``): resolved here,
                so an unknown name fails the build.
            tools: Extra tools: ``@kt.tool`` functions, plain functions or ``ToolSpec``.
            plugins: Extra plugin objects for this creature only (like ``[[plugins]]``).
            pwd: The working directory tools resolve paths against (default: the process's
                current directory when the agent is built); never changes the process's.
            kernel: The plugin set to use (default: ``kt.Kernel.default()``, every installed
                plugin, shared by the creatures built without one).
            llm_selector: A ``BACKEND/MODEL`` selector overriding the config (``--llm``).
            env: Variables for ``${VAR}`` interpolation (default ``os.environ``).
            input: The input module :meth:`serve` runs: a registered name (``"cli"``), a
                config entry (``{"type": "cli", ...}``) or an object with
                ``async run(agent)``; ``None`` for none; not given: the config's ``input``.
            output: The output module that receives every event: a registered name, a
                config entry, or an object with ``async on_event(event)``; ``None`` for none;
                not given: the config's ``output`` entry, if any (a UI that renders the
                stream itself passes ``None``).
            session: Record the creature through the kernel's session store (a plugin such
                as ``kt_sessions``): ``True`` for a new session file in *session_dir*, a path
                for that file (appended to when it exists), or a store object to share one
                file. ``None`` or ``False`` (default): nothing is persisted. The store's
                object becomes one of the creature's plugins and ``agent.session``.
            session_dir: Where ``session=True`` creates the file (default: the store's own,
                ``~/.kt/sessions`` for ``kt_sessions``).

        Returns:
            The agent, not yet started: use ``async with agent``.

        Raises:
            ConfigError: the config is missing, invalid, or names something unknown (the
                message names the key path and the file).
            ModuleLoadError: a custom tool or plugin cannot be imported.
            LLMNotConfiguredError: no ``llm=`` and nothing in the config selects a model.
        """
        kernel = kernel if kernel is not None else Kernel.default()
        if isinstance(config, CreatureConfig):
            creature_config = config
        else:
            creature_config = load_creature_config(
                config,
                base_dir=pwd if isinstance(config, Mapping) else None,
                env=env,
                resolve_ref=kernel.resolve_ref,
            )
        tool_specs = assembly.resolve_tools(creature_config, kernel, tools)
        creature_plugins = assembly.resolve_plugins(creature_config, kernel)
        creature_plugins += [(plugin_name(p), p) for p in plugins]
        tool_format = assembly.resolve_format(creature_config, kernel)
        controller = assembly.resolve_controller(creature_config, kernel)
        if isinstance(llm, str):  # a profile name, preset or selector: resolved (and checked) now
            llm_selector, llm = llm, None
        if isinstance(llm, LLMProfile):  # a profile object: its backend builds the model now
            model, llm_name = assembly.build_profile(llm, kernel), llm.name
        elif llm is not None:
            if not callable(getattr(llm, "stream", None)):
                raise ConfigValidationError(
                    f"llm= takes a model (an object with stream(request)), a kt.LLMProfile, or "
                    f"a profile name, preset or BACKEND/MODEL string, not {type(llm).__name__}",
                    path="llm",
                )
            model, llm_name = llm, type(llm).__name__
        else:
            model, llm_name = assembly.resolve_llm(creature_config, kernel, selector=llm_selector)
        store = None
        if session is not None and session is not False:
            store = open_session(
                kernel,
                session,
                key=creature_config.session_key,
                name=creature_config.name,
                session_dir=session_dir,
                source=config,
            )
            creature_plugins.append(("kt.session", store))
        agent = cls(
            config=creature_config,
            kernel=kernel,
            llm=model,
            llm_name=llm_name,
            tools=tool_specs,
            tool_format=tool_format,
            plugins=creature_plugins,
            working_dir=Path(pwd).resolve() if pwd is not None else Path.cwd(),
        )
        agent.session = store
        agent.controller = controller(agent)
        agent._add_subagents()
        agent._add_triggers()
        agent.input = agent._io_module("input", input, kernel.inputs)
        chosen_output = agent._io_module("output", output, kernel.outputs)
        if chosen_output is not None:
            agent.outputs.append(chosen_output)
        return agent

    @classmethod
    async def resume(
        cls, path: str | os.PathLike[str], *, kernel: Kernel | None = None, **options: Any
    ) -> Agent:
        """Rebuild a recorded creature from its session, through the kernel's session store.

        The store rebuilds the creature from the recorded config, restores its conversation
        (tool calls that were in flight get an "Interrupted" result; nothing is re-run) and
        usage, and keeps recording into the same session. See ``kt_sessions.resume``.

        Args:
            path: The session file, or what the store accepts (a session name or prefix).
            kernel: The plugin set to use (default: ``kt.Kernel.default()``).
            **options: ``Agent.build`` options (``llm=``, ``llm_selector=``, ``tools=``, ...)
                overriding what was recorded.

        Returns:
            The agent, not yet started: use ``async with agent``.

        Raises:
            UnknownNameError: no loaded plugin provides a session store.
        """
        kernel = kernel if kernel is not None else Kernel.default()
        return await kernel.session_store(needs="resume").resume(path, kernel=kernel, **options)

    def _module_object(self, kind: str, entry: Any, registry: Any, path: str) -> Any:
        """Build a trigger or output from a config entry: by ``type`` or ``module``/``class``."""
        file = entry.declared_in or (str(self.config.files[-1]) if self.config.files else None)
        if entry.module:
            cls = assembly.load_object(
                entry.module,
                entry.class_name,
                path=path,
                file=file,
                folder=self.config.folder,
                aliases=self.kernel.module_aliases(),
            )
            return cls(entry, self) if callable(cls) else cls
        spec = registry.get(entry.type)
        if spec is None:
            raise UnknownNameError(
                f"unknown {kind} type '{entry.type}'."
                f"{assembly._did_you_mean(entry.type, registry)} {kind.capitalize()} types come "
                "from plugins; `kt plugins` lists what is loaded.",
                path=f"{path}.type",
                file=file,
            )
        return spec.factory(entry, self)

    def _add_triggers(self) -> None:
        self.triggers = [
            self._module_object("trigger", entry, self.kernel.triggers, f"triggers[{i}]")
            for i, entry in enumerate(self.config.triggers)
        ]

    def _io_module(self, kind: str, chosen: Any, registry: Any) -> Any:
        """The input or output module *chosen* names (``USE_CONFIG``: the config's entry)."""
        if chosen is USE_CONFIG:
            chosen = getattr(self.config, kind)
        elif isinstance(chosen, str | Mapping):
            chosen = module_entry(chosen, output=kind == "output")
        if chosen is None or not isinstance(chosen, ModuleEntry | OutputEntry):
            return chosen  # None, or a ready object
        return self._module_object(kind, chosen, registry, kind)

    def _add_subagents(self) -> None:
        file = str(self.config.files[-1]) if self.config.files else None
        for i, entry in enumerate(self.config.subagents):
            spec = self.kernel.subagents.get(entry.name)
            if spec is None:
                raise UnknownNameError(
                    f"unknown sub-agent '{entry.name}'."
                    f"{assembly._did_you_mean(entry.name, self.kernel.subagents)} Sub-agents "
                    "come from plugins such as kt_subagents.",
                    path=f"subagents[{i}].name",
                    file=file,
                )
            tool_spec = spec.factory(entry, self)
            if tool_spec.name in self.tools:
                raise ConfigValidationError(
                    f"sub-agent '{tool_spec.name}' has the same name as a tool",
                    path=f"subagents[{i}].name",
                    file=file,
                )
            self.tools[tool_spec.name] = tool_spec

    # -- Lifecycle -----------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        """Whether the agent is started and not stopped."""
        return self._state == "running"

    async def start(self) -> None:
        """Start the agent: assemble the prompt, start outputs and triggers, accept turns.

        Prefer ``async with agent``. Idempotent while running. The agent's tasks live in a
        nursery entered here, so :meth:`stop` must be called from the same task.

        Raises:
            AgentStoppedError: the agent was stopped; build a new one.
        """
        if self._state == "running":
            return
        if self._state == "stopped":
            raise AgentStoppedError(f"agent '{self.name}' was stopped; build a new one")
        self._token = trio.lowlevel.current_trio_token()
        self.termination.started_at = self.termination.last_activity = trio.current_time()
        self._nursery_cm = trio.open_nursery()
        self._nursery = await self._nursery_cm.__aenter__()
        self._state = "running"
        try:
            self._queue_send, queue_recv = trio.open_memory_channel[TurnRequest](math.inf)
            self._queue_recv = queue_recv
            await self._offer_tools()
            await self.emit(
                CreatureStarted(
                    config=_config_summary(self.config),
                    plugins=tuple(self.kernel.plugin_names) + tuple(self._creature_pm_names()),
                    tools=tuple(self.tools),
                    model=self.llm_name,
                )
            )
            for output in self.outputs:
                start = getattr(output, "start", None)
                if start is not None:
                    await start()
            await self.runner.notify("kt_creature_started", creature=self)
            self._nursery.start_soon(self._consume, queue_recv)
            if self.termination.timed:
                self._nursery.start_soon(self.termination.watch, self._terminate)
            for trigger in self.triggers:
                await self.add_trigger(trigger)
            if self.config.startup_trigger is not None:
                self.inject(self.config.startup_trigger.prompt, source="startup")
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the agent: cancel running turns, background jobs and triggers; idempotent.

        A running turn ends with status ``cancelled`` (its ``TurnCompleted`` is still
        published); ``kt_creature_stopped`` runs shielded with a deadline.
        """
        if self._state != "running":
            self._state = "stopped"
            return
        self._state = "stopping"
        assert self._nursery is not None and self._queue_send is not None
        self._queue_send.close()
        self._abandon_queued()  # their run() raises AgentStoppedError
        self._nursery.cancel_scope.cancel()
        try:
            await self._nursery_cm.__aexit__(None, None, None)
        finally:
            self._state = "stopped"
            with trio.move_on_after(5, shield=True):
                await self.runner.notify("kt_creature_stopped", creature=self)
                await self.emit(CreatureStopped())
                for output in self.outputs:
                    stop = getattr(output, "stop", None)
                    if stop is not None:
                        await stop()
            for channel in self._subscribers:
                channel.close()

    async def __aenter__(self) -> Agent:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def serve(self) -> None:
        """Serve the creature from its input module until that input ends.

        The input module (``input =`` in the config, or ``Agent.build(input=...)``) reads
        from its source (a terminal, a webhook, ...) and runs turns; its ``run(agent)``
        returning (end of input, ``/exit``) ends this call. Output modules see every event
        meanwhile. The agent stays running: ``async with agent: await agent.serve()``. A
        ``[termination]`` limit ends the serving too (see :mod:`kt.runtime.termination`).

        Raises:
            AgentNotStartedError: the agent is not running.
            ConfigError: the creature has no input module.
        """
        self._check_running()
        if self.input is None:
            raise ConfigError(
                f"creature '{self.name}' has no input module to serve from; set "
                'input = {type = "..."} in its config or pass Agent.build(input=...) '
                "(`kt plugins` lists the input modules that are loaded)"
            )
        if self.termination.reached.is_set():
            return
        # A cancel scope, not a nursery: the input's own errors reach the caller unwrapped.
        with trio.CancelScope() as self._serving:
            await self.input.run(self)

    def _abandon_queued(self) -> None:
        while self._queue_recv is not None:
            try:
                self._queue_recv.receive_nowait().abandon()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break

    def _creature_pm_names(self) -> list[str]:
        return [name for name, _ in self._creature_pm.list_name_plugin()]

    # -- Driving turns -------------------------------------------------------------------------

    def _check_running(self) -> None:
        if self._state == "built":
            raise AgentNotStartedError(
                f"agent '{self.name}' is not started; use `async with agent:` first"
            )
        if self._state != "running":
            raise AgentStoppedError(f"agent '{self.name}' was stopped; build a new one")
        if self.termination.reached.is_set():
            raise AgentTerminatedError(
                f"agent '{self.name}' ended its run: {self.termination.reason}; raise the "
                f"[termination] {self.termination.limit} limit of its config, or build a new agent"
            )

    def run_stream(
        self,
        input: UserInput,
        *,
        timeout: float | None | _UseConfig = USE_CONFIG,
        max_iterations: int | None = None,
    ) -> TurnStream:
        """Run one turn for *input*, yielding its events as they happen.

        The last event is always exactly one :class:`kt.events.TurnCompleted` carrying the
        :class:`TurnResult` (the same one :meth:`run` returns). History-record events
        (``MessageAppended``) are left out; ``agent.subscribe()`` sees everything.

        Leaving the iteration early (``break``, an exception, the caller's scope being
        cancelled) cancels the turn: it ends with status ``cancelled`` and repaired history.
        Use ``async with agent.run_stream(...) as events:`` to make that happen at once.

        Args:
            input: The user message (text, or a list of ``ContentPart``).
            timeout: See :meth:`run`.
            max_iterations: See :meth:`run`.

        Raises:
            AgentNotStartedError: before ``async with agent``.
            AgentStoppedError: after the agent stopped.
            ValueError: for a negative or NaN *timeout*, or *max_iterations* < 1.
        """
        send, receive = trio.open_memory_channel[Event](math.inf)
        request = self._queue_turn(
            input,
            timeout,
            max_iterations,
            deliver=send.send_nowait,
            abandon_reader=send.close,
        )
        return TurnStream(
            receive, functools.partial(_call_soon, self._token, request.cancel), request
        )

    async def run(
        self,
        input: UserInput,
        *,
        timeout: float | None | _UseConfig = USE_CONFIG,
        max_iterations: int | None = None,
    ) -> TurnResult:
        """Run one turn for *input* and return what happened.

        A turn alternates model calls and tool rounds until the model answers without asking
        for a tool. A second ``run`` on the same agent waits for the first (FIFO); turns never
        interleave.

        The turn has its own cancel scope and can end early in three ways; each leaves the
        history valid (every tool call has exactly one result; a partial reply is kept and
        marked ``interrupted``) and the agent ready for the next call:

        * *timeout* expires: the model stream and the turn's running tools are cancelled at
          their next checkpoint; ``status == "timeout"``, nothing is raised. A tool cancelled
          partway may or may not have acted; its record says ``cancelled``.
        * :meth:`interrupt` is called, from any task or thread: the same,
          ``status == "interrupted"``. Background jobs keep running.
        * The *caller's* scope is cancelled: the turn is cancelled and cleaned up, and
          ``trio.Cancelled`` propagates out of this call. Its ``TurnCompleted`` (status
          ``cancelled``) is still published.

        Args:
            input: The user message.
            timeout: Wall-clock limit in seconds, counted from when the turn starts, not from
                when it was queued. Not given: the config's ``controller.turn_timeout``;
                ``None``: no limit of its own.
            max_iterations: At most this many model calls in this turn (default: the config's
                ``max_iterations``, 50). Tools asked for in the last allowed call still run and
                their results are recorded; then the turn ends with ``max_iterations``.

        Returns:
            TurnResult: status, final text, tool calls in call order, usage. Model and tool
            failures are reported here, never raised.

        If the agent stops while the turn runs, the turn ends ``cancelled`` and that result is
        returned; if it stops while the turn is still queued, ``AgentStoppedError`` is raised.

        Raises:
            AgentNotStartedError: before ``async with agent``.
            AgentStoppedError: the agent stopped before the turn started.
            ValueError: if *timeout* is negative or NaN.
        """
        # The same turn as run_stream, without subscribing to its events: the caller wakes
        # once, when the turn ends, instead of once per batch of events.
        request = self._queue_turn(input, timeout, max_iterations)
        try:
            await request.done.wait()
        except trio.Cancelled:
            _call_soon(self._token, request.cancel)
            raise
        if request.result is None:
            raise AgentStoppedError(f"agent '{self.name}' stopped before the turn started")
        return request.result

    def _queue_turn(
        self, input: UserInput, timeout: Any, max_iterations: int | None, **reader: Any
    ) -> TurnRequest:
        """Check the options of ``run`` / ``run_stream`` and queue their turn."""
        self._check_running()
        if timeout is USE_CONFIG:
            timeout = self.config.controller.turn_timeout
        if timeout is not None and (math.isnan(timeout) or timeout < 0):
            raise ValueError(f"timeout must be a non-negative number of seconds, not {timeout!r}")
        if max_iterations is not None and max_iterations < 1:
            raise ValueError(f"max_iterations must be at least 1, not {max_iterations}")
        request = TurnRequest(
            _normalise_input(input), timeout=timeout, max_iterations=max_iterations, **reader
        )
        self._submit(request)
        return request

    def interrupt(self) -> None:
        """Interrupt the running turn, if any; callable from any task or thread.

        Returns at once. The turn ends with status ``interrupted`` at its next checkpoint;
        queued turns and background jobs are not affected.
        """
        token = self._token
        if token is None or self._state != "running":
            return

        def now() -> None:
            if self.current_turn is not None:
                self.current_turn.cancel(interrupt=True)

        try:
            in_loop = trio.lowlevel.current_trio_token() is token
        except RuntimeError:
            in_loop = False
        if in_loop:
            now()
        else:
            _call_soon(token, now)

    def inject(self, input: UserInput, *, source: str = "trigger") -> trio.Event:
        """Queue a turn for *input* that nobody awaits (triggers, channels, background jobs).

        Its events reach ``kt_event``, outputs and :meth:`subscribe` readers. Call from the
        agent's trio thread; from other threads use ``trio.from_thread.run_sync``.

        Returns:
            An event set when that turn has ended (or will never run because the agent
            stopped); a trigger waits on it so its firings never pile up behind a slow turn.
        """
        self._check_running()
        request = TurnRequest(_normalise_input(input), source=source)
        self._submit(request)
        return request.done

    def subscribe(self) -> trio.MemoryReceiveChannel[Event]:
        """A channel receiving every event of this agent from now on, until it stops.

        Close the returned channel when done; events are buffered without limit meanwhile.
        """
        send, recv = trio.open_memory_channel[Event](math.inf)
        self._subscribers.append(send)
        return recv

    async def _consume(self, queue: trio.MemoryReceiveChannel[TurnRequest]) -> None:
        async with queue:
            async for request in queue:
                if request.cancel_requested:
                    request.finished = True  # its caller left while it was queued: never run it
                    request.done.set()
                    continue
                await self.controller(self, request)
                reached = self.termination.after_turn(self)
                if reached is not None:
                    await self._terminate(*reached)

    async def terminate(self, reason: str, *, limit: str = "plugin") -> None:
        """End the creature's run, as a ``[termination]`` limit does; for plugins and callers.

        The running turn ends with status ``terminated``, queued turns are dropped,
        :class:`kt.events.CreatureTerminated` is published, :meth:`serve` returns, and later
        turns raise :class:`kt.errors.AgentTerminatedError`. Idempotent.

        Args:
            reason: Why, for the event and the error (``"the goal is reached"``).
            limit: A short name of what ended it (``"goal"``).
        """
        await self._terminate(limit, reason)

    async def _terminate(self, limit: str, reason: str) -> None:
        """A ``[termination]`` limit was reached: end the running turn and refuse new ones."""
        if self.termination.reached.is_set():
            return
        self.termination.limit, self.termination.reason = limit, reason
        self.termination.reached.set()
        if self._serving is not None:
            self._serving.cancel()  # serve() returns: the run is over
        if self.current_turn is not None:
            self.current_turn.terminate(reason)
        self._abandon_queued()
        await self.emit(CreatureTerminated(limit=limit, reason=reason))

    def _submit(self, request: TurnRequest) -> None:
        self._check_running()
        assert self._queue_send is not None
        self._queue_send.send_nowait(request)

    # -- Background jobs -----------------------------------------------------------------------

    def start_job(
        self,
        fn: Callable[..., Awaitable[Any]],
        *args: Any,
        name: str,
        kind: str = "task",
        job_id: str | None = None,
    ) -> Job:
        """Run ``fn(*args)`` in the agent's nursery as a cancellable, listed job.

        Returns at once. The job ends with the agent at the latest; an exception it raises is
        recorded on the job (``status == "error"``), never propagated.

        Raises:
            AgentNotStartedError / AgentStoppedError: when the agent is not running.
            ValueError: when *job_id* is already taken.
        """
        job = self._new_job(name=name, kind=kind, job_id=job_id)
        self._nursery.start_soon(job._run, fn, args)
        return job

    async def start_service(
        self,
        fn: Callable[..., Awaitable[Any]],
        *args: Any,
        name: str,
        kind: str = "task",
        job_id: str | None = None,
    ) -> Job:
        """Like :meth:`start_job` for ``fn(*args, task_status=...)``: returns once it is ready.

        ``fn`` calls ``task_status.started()`` when it can do its work (a listener is bound, a
        timer is armed), so nothing it should see can happen before it exists.
        """
        job = self._new_job(name=name, kind=kind, job_id=job_id)

        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED):
            await job._run(fn, args, task_status=task_status)

        try:
            await self._nursery.start(run)
        except RuntimeError:
            if job.status != "error":
                raise
            # The job recorded why it failed; say that, not trio's "exited without started()".
            raise RuntimeError(
                f"{kind} '{name}' ({job.id}) failed before it was ready: {job.error}"
            ) from None
        return job

    async def add_trigger(self, trigger: Any, *, job_id: str | None = None) -> Job:
        """Start *trigger* (an object with ``async run(agent, *, task_status)``) as a job.

        The job id is *job_id*, else the trigger's ``id`` attribute when it has a true one,
        else ``trigger_<8 hex>``; ``ValueError`` when a running job already has that id.
        """
        name = getattr(trigger, "name", None) or type(trigger).__name__
        job_id = job_id or getattr(trigger, "id", None) or None
        return await self.start_service(trigger.run, self, name=name, kind="trigger", job_id=job_id)

    def cancel_job(self, job_id: str) -> bool:
        """Cancel a running job by id; ``False`` when there is none or it already ended."""
        job = self.jobs.get(job_id)
        return job.cancel() if job is not None else False

    def _new_job(self, *, name: str, kind: str, job_id: str | None) -> Job:
        self._check_running()
        assert self._nursery is not None
        job_id = job_id or f"{kind}_{uuid.uuid4().hex[:8]}"
        if job_id in self.jobs and self.jobs[job_id].status == "running":
            raise ValueError(f"a job with id '{job_id}' is already running")
        job = Job(id=job_id, kind=kind, name=name)
        self.jobs[job_id] = job
        return job

    def start_background_call(self, spec: ToolSpec, call: ToolCall, ctx: TurnContext) -> None:
        """Run *call* as a job; its result re-enters as a new turn.

        The model was told the result "will arrive", so it always does: the output when the
        job ends, an error when it fails, and a "Cancelled" result when the job is cancelled
        (``stop_task``, :meth:`cancel_job`, a UI). Only stopping the agent ends a job with no
        turn, since no turn can run then; a resumed session names such jobs instead.
        """

        async def job() -> None:
            started, t0 = time.time(), trio.current_time()
            status, output, error = "cancelled", "", "the job was cancelled before it finished"
            images: list[ContentPart] = []  # a result's images come with its note
            try:
                result = await run_tool(self, spec, call, ctx)
                status = "ok" if result.ok else "error"
                output, error = content_text(result.output), result.error
                if not isinstance(result.output, str):
                    images = [part for part in result.output if part.type == "image_url"]
            finally:
                record = ToolCallRecord(
                    id=call.id,
                    name=call.name,
                    args=call.args,
                    status=status,  # type: ignore[arg-type]
                    output=output,
                    error=error,
                    started_at=started,
                    duration=trio.current_time() - t0,
                    background=True,
                )
                with trio.move_on_after(5, shield=True):
                    await self.emit(
                        ToolCallCompleted.from_record(record), turn_index=ctx.turn_index
                    )
                # In the finally, so a cancelled job reports too (its Cancelled goes on up).
                if self._state == "running":
                    verb = "was cancelled" if status == "cancelled" else "finished"
                    note = f"[Background job {call.id} ({call.name}) {verb}]\n"
                    note += result_message_text(record)
                    content = [ContentPart("text", text=note), *images] if images else note
                    self.inject(content, source="tool_complete")

        self.start_job(job, name=call.name, kind="tool", job_id=call.id)

    # -- History -------------------------------------------------------------------------------

    async def append(self, message: Message, *, turn_index: int | None = None) -> None:
        """Append *message* to the history and publish ``MessageAppended``."""
        self.history.append(message)
        await self.emit(MessageAppended(message=message), turn_index=turn_index)

    async def merge_into_last_user(self, content: str | tuple[ContentPart, ...]) -> None:
        """Merge *content* into the trailing user message (after a failed turn)."""
        last = self.history[-1]
        self.history[-1] = attrs.evolve(last, content=merge_user_content(last.content, content))
        await self.emit(HistoryReplaced(messages=tuple(self.history), reason="merge_user_input"))

    async def replace_history(self, messages: Sequence[Message], *, reason: str) -> None:
        """Replace the whole history (compaction, edits) and publish ``HistoryReplaced``."""
        self.history = list(messages)
        await self.emit(HistoryReplaced(messages=tuple(self.history), reason=reason))

    def restore(
        self, messages: Sequence[Message], *, usage: Usage | None = None, turn_index: int = 0
    ) -> None:
        """Load a saved conversation before the agent starts (resuming a session).

        The history is repaired (:func:`kt.history.repair`) so a log cut by a crash is valid:
        calls without results get an "interrupted" result, which the model sees next turn.

        Raises:
            AgentStateError: when the agent has already started.
        """
        if self._state != "built":
            raise AgentStateError("restore() must be called before the agent starts")
        self.history = repair(messages)
        self.usage = usage or Usage()
        self.turn_index = turn_index

    async def clear_history(self, *, reason: str = "clear") -> None:
        """Drop every message (the system prompt is kept: it is not part of the history)."""
        await self.replace_history([], reason=reason)

    async def compact(self, *, keep_recent_turns: int | None = None) -> bool:
        """Fold old history into one summary message now (see :mod:`kt.compaction`).

        Args:
            keep_recent_turns: User turns to keep verbatim (default: the config's
                ``compact.keep_recent_turns``).

        Returns:
            Whether history was compacted. Failures leave history unchanged and publish
            ``CompactionSkipped``; they are not raised.
        """
        keep = (
            self.config.compact.keep_recent_turns
            if keep_recent_turns is None
            else keep_recent_turns
        )
        return await compact(self, keep_recent_turns=keep)

    def set_llm(self, llm: LLM, *, name: str | None = None) -> None:
        """Use another model from the next model call on (a UI's ``/model``).

        A running turn keeps going: its next round already calls *llm*. Sub-agents started
        later get it too; the history and the tools are unchanged.

        Args:
            llm: The model instance (anything with ``stream(request)``); build one from a
                selector with ``Agent.build(agent.config, llm_selector=..., kernel=...)``.
            name: What :attr:`llm_name` shows (default: the class name of *llm*).
        """
        self.llm = llm
        self.llm_name = name if name is not None else type(llm).__name__

    # -- Tools at run time ---------------------------------------------------------------------

    async def add_tools(self, tools: Sequence[Any]) -> list[ToolSpec]:
        """Offer more tools to the model: for plugins that discover tools at run time (MCP).

        The tools join :attr:`tools`. On a running agent the native schemas are prepared again
        and the system prompt is assembled again (``kt_prompt_sections`` runs again), so the
        prompt and the schemas always come from the same set of tools; a turn in progress
        sees the new tools from its next model call. Before ``start()`` the tools are simply
        added, and ``start()`` prepares them with the others.

        Args:
            tools: ``@kt.tool`` functions, plain functions or ``ToolSpec``.

        Returns:
            The specs added, in order.

        Raises:
            ValueError: a name is already taken, or given twice; nothing is added.
            AgentStoppedError: the agent is stopping or stopped.
        """
        if self._state in ("stopping", "stopped"):
            raise AgentStoppedError(f"agent '{self.name}' was stopped; build a new one")
        specs = [assembly._as_tool_spec(t, path="add_tools", file=None) for t in tools]
        names = [spec.name for spec in specs]
        taken = sorted({n for n in names if n in self.tools or names.count(n) > 1})
        if taken:
            raise ValueError(f"tool names already taken: {', '.join(taken)}; rename them")
        self.tools.update((spec.name, spec) for spec in specs)
        if self._state == "running":
            await self._offer_tools()
        return specs

    async def call_tool(
        self, name: str, args: Mapping[str, Any] | str | None = None
    ) -> ToolCallRecord:
        """Run one tool call outside a turn, the way a turn runs it; return its record.

        For hosts that let something other than the model call a creature's tools (serving
        them over MCP, a UI button). The arguments are validated against the tool's schema,
        ``kt_pre_tool_call`` may rewrite or veto the call, the unsafe-tool lock, the timeout
        and the output cap apply, and ``kt_post_tool_call`` sees the result, so a guard plugin
        guards these calls too. ``ToolCallStarted`` and ``ToolCallCompleted`` are published
        with the latest turn's index. The call does not wait for the turn queue, never runs
        in the background, and adds nothing to the history. Cancelling the caller cancels the
        call.

        Args:
            name: The tool's name.
            args: Its arguments: a mapping, or JSON text.

        Returns:
            The call's record: status, output and error, as in ``TurnResult.tool_calls``.

        Raises:
            AgentNotStartedError / AgentStoppedError: when the agent is not running.
        """
        self._check_running()
        args = recordable_args({} if args is None else args)
        call = ToolCall(name, args, id=f"{name}_{uuid.uuid4().hex[:8]}")
        ctx = TurnContext(creature=self, turn_index=self.turn_index)
        await self.emit(ToolCallStarted(call_id=call.id, name=call.name, args=call.args))
        outcome = await execute_call(self, call, ctx, text_format=False, background_ok=False)
        return outcome.record

    # -- Requests and prompt -------------------------------------------------------------------

    def build_request(self) -> LLMRequest:
        """The request for the next model call: system prompt + history (+ tools if native)."""
        history = self.history
        limit = self.config.controller.max_messages
        if limit and len(history) > limit:
            history = _trim(history, limit)
        system = (self._system_message,) if self._system_message else ()
        return LLMRequest(
            messages=(*system, *history),
            tools=self._tool_schemas if self.tool_format.native else (),
            options=assembly.request_options(self.config),
            model=self.config.controller.model,
        )

    async def _offer_tools(self) -> None:
        """Prepare the native schemas and the system prompt, both from :attr:`tools`."""
        schemas = []
        self.body_args = {}
        for spec in self.tools.values():
            params = dict(spec.parameters)
            if not spec.background and BACKGROUND_ARG not in params.get("properties", {}):
                params["properties"] = {
                    **params.get("properties", {}),
                    BACKGROUND_ARG: {
                        "type": "boolean",
                        "description": "Run without waiting; the result arrives later.",
                    },
                }
            schemas.append(ToolSchema(spec.name, spec.description, params))
            self.body_args[spec.name] = spec.text_body_arg
        self._tool_schemas = tuple(schemas)
        self.system_prompt = await self._assemble_prompt()
        self._system_message = Message("system", self.system_prompt)

    async def _assemble_prompt(self) -> str:
        specs = list(self.tools.values())
        tool_sections = []
        if not self.tool_format.native and specs:
            tool_sections.append(
                PromptSection("tools.format", self.tool_format.prompt_section(specs), 50)
            )
        for spec in specs:
            if spec.guidance:
                tool_sections.append(
                    PromptSection(f"tools.guidance.{spec.name}", spec.guidance, 100)
                )
        base = await self._render_base_prompt(tool_sections)
        sections = [PromptSection("base", base.text, 0)]
        if not base.uses_tools:
            sections += tool_sections
        sections += await self.runner.collect("kt_prompt_sections", creature=self)
        sections.sort(key=lambda s: (s.order, s.key))
        return "\n\n".join(s.text.strip() for s in sections if s.text and s.text.strip())

    async def _render_base_prompt(self, tool_sections: list[PromptSection]) -> RenderedPrompt:
        """The config's prompt, rendered by a ``kt_render_prompt`` plugin when one is loaded."""
        text = self.config.system_prompt
        variables: dict[str, Any] = {
            "agent_name": self.name,
            "creature_name": self.config.name,
            "pwd": str(self.working_dir),
            "model": self.llm_name,
            "tools": "\n\n".join(section.text.strip() for section in tool_sections),
            **self.config.prompt_context_files,
        }
        rendered = await self.runner.first(
            "kt_render_prompt", creature=self, text=text, variables=variables
        )
        return rendered if rendered is not None else RenderedPrompt(text)

    def plugin_options(self, name: str) -> Mapping[str, Any]:
        """Options of the creature's ``[[plugins]]`` entry *name* (``{}`` when absent)."""
        return self._plugin_options.get(name, {})

    # -- Events --------------------------------------------------------------------------------

    async def emit(self, event: Event, *, turn_index: int | None = None) -> None:
        """Publish *event*: ``kt_event`` hooks first (durability), then readers and outputs."""
        # The event was just built by the caller and nobody has seen it yet, so stamping it in
        # place is safe; attrs.evolve would cost ~9 µs per event on the streaming hot path.
        object.__setattr__(event, "creature", self.name)
        object.__setattr__(
            event, "turn_index", self.turn_index if turn_index is None else turn_index
        )
        if self._watch_idle:
            self.termination.last_activity = trio.current_time()
        if self.runner.has("kt_event"):
            await self.runner.notify("kt_event", event=event, creature=self)
        self._deliver(event)
        for output in self.outputs:
            try:
                await output.on_event(event)
            except Exception as exc:  # a failing output must not stop the others (R-OUT-1)
                self._deliver(
                    ErrorOccurred(
                        creature=self.name,
                        turn_index=event.turn_index,
                        message=f"output failed: {type(exc).__name__}: {exc}",
                        error_type=type(exc).__name__,
                        source=f"output:{type(output).__name__}",
                    )
                )

    def _deliver(self, event: Event) -> None:
        turn = self.current_turn
        if (
            turn is not None
            and turn.deliver is not None
            and event.turn_index == turn.turn_index
            and not isinstance(event, MessageAppended)
        ):
            try:
                turn.deliver(event)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # the reader left; the turn is being cancelled
        for channel in list(self._subscribers):
            try:
                channel.send_nowait(event)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                self._subscribers.remove(channel)

    async def _hook_failed(self, hook: str, plugin: str, exc: BaseException) -> None:
        event = ErrorOccurred(
            creature=self.name,
            turn_index=self.turn_index,
            message=f"plugin '{plugin}' failed in {hook}: {type(exc).__name__}: {exc}",
            error_type=type(exc).__name__,
            source=f"plugin:{plugin}:{hook}",
        )
        if hook != "kt_event":  # never feed a failing observer its own failure
            await self.runner.notify("kt_event", event=event, creature=self)
        self._deliver(event)


class TurnStream:
    """The events of one turn, as ``Agent.run_stream`` returns them.

    An async iterator and an async context manager. Leaving the ``async with`` block (or
    dropping the stream) before ``TurnCompleted`` cancels the turn.

    Args:
        receive: The channel the turn's events arrive on.
        cancel: Called once when the reader leaves before ``TurnCompleted``: cancels the turn.
        request: The queued turn (internal; ``None`` for a turn that runs elsewhere).
    """

    def __init__(
        self,
        receive: trio.MemoryReceiveChannel[Event],
        cancel: Callable[[], None],
        request: TurnRequest | None = None,
    ) -> None:
        self._recv = receive
        self._cancel = cancel
        self._done = False
        self.request = request

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        if self._done:
            raise StopAsyncIteration
        try:
            # Take buffered events without a scheduler round-trip each (a turn publishes a
            # dozen); block, and so checkpoint, only when none is waiting.
            try:
                event = self._recv.receive_nowait()
            except trio.WouldBlock:
                event = await self._recv.receive()
        except trio.Cancelled:
            self._abandon()
            raise
        except (trio.EndOfChannel, trio.ClosedResourceError):
            self._done = True
            self._ended_early()
            raise StopAsyncIteration from None
        if isinstance(event, TurnCompleted):
            self._done = True
        return event

    def _ended_early(self) -> None:
        """The channel closed before ``TurnCompleted``; a subclass may raise why."""

    async def __aenter__(self) -> TurnStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._abandon()

    async def aclose(self) -> None:
        """Stop reading; cancels the turn if it has not completed."""
        self._abandon()

    def _abandon(self) -> None:
        if self._done:
            return
        self._done = True
        self._recv.close()
        self._cancel()

    def __del__(self) -> None:
        if not self._done:
            self._abandon()


def _normalise_input(input: UserInput) -> str | tuple[ContentPart, ...]:
    if isinstance(input, str):
        return input
    parts = tuple(input)
    if not all(isinstance(p, ContentPart) for p in parts):
        raise TypeError("input must be a str or a sequence of kt.ContentPart")
    return parts


def _trim(history: list[Message], limit: int) -> list[Message]:
    """The newest *limit* messages, starting at a user message so no tool pair is cut."""
    start = len(history) - limit
    while start < len(history) and history[start].role != "user":
        start += 1
    return history[start:]


def _config_summary(config: CreatureConfig) -> dict[str, Any]:
    return {
        "name": config.name,
        "folder": str(config.folder) if config.folder else None,
        "tool_format": config.controller.tool_format,
        "tools": [t.name for t in config.tools],
        "subagents": [s.name for s in config.subagents],
        "plugins": [p.name for p in config.plugins],
    }
