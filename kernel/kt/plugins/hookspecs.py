"""Hook specifications for kt plugins: this module is the reference for plugin authors.

``docs/reference/hooks.md`` is generated from these docstrings (``kt hooks --markdown``, which
adds the hooks plugins declare) and a test fails when the two differ.

Two kinds of hooks:

* **Registration hooks** (``kt_tools``, ``kt_llm_backends`` ...) are called once per plugin when
  a :class:`kt.Kernel` loads its plugin set. Each returns a list of specs that the kernel puts
  in a registry; when two plugins register one name, the first registration is kept and the
  clash is recorded in ``kernel.clashes`` (``kt plugins`` and ``kt doctor`` show it, with how
  to choose the other). A plugin whose registration hook raises is recorded as failed
  (``kt plugins`` shows why) and the others carry on.
* **Runtime hooks** (``kt_pre_tool_call``, ``kt_event`` ...) are called per creature while it
  runs, with the objects involved and a :class:`kt.TurnContext` ``ctx``. They may be
  ``async def``: the kernel awaits each implementation in pluggy's order (last registered first;
  ``tryfirst`` / ``trylast`` move one). Implementations may take any subset of the arguments.

  A ``kt_pre_*`` / ``kt_post_*`` hook is *chained*: each implementation receives the value
  returned by the one before; ``None`` passes it on unchanged. A pre hook vetoes by raising
  :class:`kt.errors.PluginBlockError`: later implementations are skipped and the model sees
  the message as the error of that operation in the same turn. Any other exception is reported
  as an :class:`kt.events.ErrorOccurred` event; in a pre hook it also vetoes (a check that
  breaks refuses: it never waves the operation through), in a post hook it counts as ``None``.
  Async runtime hooks cannot be wrappers; write a pre/post pair instead.

Plugins listed in a creature config (``[[plugins]]``) are registered for that creature only and
see its runtime hooks only; registration hooks are read from the kernel's plugin set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # annotations only: keeps `import kt` cheap
    from pathlib import Path

    import kt  # kt.Agent and kt.Kernel by their public names: both modules import this one
    from kt.config import CreatureConfig
    from kt.events import Event
    from kt.formats import ToolFormatSpec
    from kt.llm import LLMBackendSpec, LLMProfile, LLMRequest, LLMResult, Message, ToolCall
    from kt.results import TurnResult
    from kt.runtime.context import TurnContext
    from kt.specs import (
        ControllerSpec,
        InputSpec,
        OutputSpec,
        PromptSection,
        RenderedPrompt,
        SessionStoreSpec,
        SubAgentSpec,
        TransportSpec,
        TriggerSpec,
    )
    from kt.tools import ToolResult, ToolSpec

hookspec = pluggy.HookspecMarker("kt")

# -- Plugin set ---------------------------------------------------------------------------------


@hookspec(historic=True)
def kt_addhookspecs(pm: pluggy.PluginManager) -> None:
    """Add hook specifications of your own (e.g. ``kt_cli_commands``) to the plugin manager.

    Called once for every plugin of a kernel's plugin set, right after it is registered; plugins
    registered later are called too (the hook is historic). Call ``pm.add_hookspecs(module)``.

    Args:
        pm: The kernel's ``pluggy.PluginManager``.

    Use in creature plugins:
        Not called: creature plugins cannot add hook specifications.
    """


# -- Registration hooks: called once per plugin when a Kernel loads ------------------------------


@hookspec
def kt_llm_backends() -> list[LLMBackendSpec]:
    """Contribute model backends by name (``openai``, ``anthropic``, ``scripted`` ...).

    Called once when the kernel loads. A user selects a backend with ``--llm NAME/model`` or the
    ``llm`` key of a creature's ``[controller]``; an ``llm=`` instance passed to
    ``Agent.build`` bypasses backends entirely.

    Returns:
        A list of :class:`kt.LLMBackendSpec`.

    Use in creature plugins:
        Not called.
    """


@hookspec
def kt_tools() -> list[ToolSpec]:
    """Contribute tools that creature configs can name (``tools = [{name = "bash"}]``).

    Called once when the kernel loads. A contributed tool is offered to a creature only when
    its config lists it (or ``Agent.build(tools=...)`` passes it).

    Returns:
        A list of :class:`kt.ToolSpec` (a ``@kt.tool`` function is one), or of
        :class:`kt.LazySpec` (``kt.LazySpec("bash", "kt_tools.shell:bash")``): a tool whose
        module is imported when the tool is first used, so loading the plugin stays cheap.

    Use in creature plugins:
        Not called.
    """


@hookspec
def kt_subagents() -> list[SubAgentSpec]:
    """Contribute sub-agents that creature configs can name (``subagents = ["explore"]``).

    Called once when the kernel loads.

    Returns:
        A list of :class:`kt.SubAgentSpec`.

    Use in creature plugins:
        Not called.
    """


@hookspec
def kt_triggers() -> list[TriggerSpec]:
    """Contribute trigger types (``triggers = [{type = "timer"}]``).

    Called once when the kernel loads.

    Returns:
        A list of :class:`kt.TriggerSpec`.

    Use in creature plugins:
        Not called.
    """


@hookspec
def kt_inputs() -> list[InputSpec]:
    """Contribute input modules (``input = {type = "cli"}``).

    Called once when the kernel loads.

    Returns:
        A list of :class:`kt.InputSpec`.

    Use in creature plugins:
        Not called.
    """


@hookspec
def kt_outputs() -> list[OutputSpec]:
    """Contribute output modules (``output = {type = "stdout"}``).

    Called once when the kernel loads.

    Returns:
        A list of :class:`kt.OutputSpec`.

    Use in creature plugins:
        Not called.
    """


@hookspec
def kt_controllers() -> list[ControllerSpec]:
    """Contribute alternative reasoning loops.

    Called once when the kernel loads. The kernel's default loop is always available as
    ``default``.

    Returns:
        A list of :class:`kt.ControllerSpec`.

    Use in creature plugins:
        Not called.
    """


@hookspec
def kt_tool_formats() -> list[ToolFormatSpec]:
    """Contribute tool-call formats (``tool_format = "bracket"`` in ``[controller]``).

    Called once when the kernel loads. The kernel itself contributes ``native``.

    Returns:
        A list of :class:`kt.ToolFormatSpec`.

    Use in creature plugins:
        Not called.
    """


@hookspec
def kt_session_stores() -> list[SessionStoreSpec]:
    """Contribute persistence backends.

    Called once when the kernel loads. ``Agent.build(session=...)``, ``Agent.resume``,
    ``kt.SessionReader`` and the terrarium engine (its ``graph_store`` member records graph
    sessions) use the first store that has the member they need.

    Returns:
        A list of :class:`kt.SessionStoreSpec`.

    Use in creature plugins:
        Not called.
    """


@hookspec
def kt_transports() -> list[TransportSpec]:
    """Contribute ways to host creatures in other processes or on other machines.

    Called once when the kernel loads. The terrarium engine uses one when a creature is added
    with ``engine.add_creature(config, transport=name)``; the protocol a transport implements
    is documented in :mod:`kt_terrarium.transport`.

    Returns:
        A list of :class:`kt.TransportSpec`.

    Use in creature plugins:
        Not called.
    """


@hookspec(firstresult=True)
def kt_resolve_ref(ref: str) -> Path | None:
    """Resolve a package reference such as ``@kt-biome/creatures/swe`` to a folder or file.

    Called whenever a config, ``Agent.build`` or a ``base_config`` names an ``@`` reference.
    Stops at the first non-``None`` result.

    Args:
        ref: The reference, starting with ``@``.

    Returns:
        The path, or ``None`` when this plugin does not know the package.

    Use in creature plugins:
        Not called.
    """


@hookspec
def kt_module_aliases() -> dict[str, str]:
    """Name the code that does the job of a module a config names but this install lacks.

    Packs written for another framework name their plugins, tools and triggers by import path
    (``module: kt_biome.plugins.context_files``, ``class: ContextFilesPlugin``). A plugin that
    does the same job declares the alias, and the config resolves without edits. Consulted for
    every ``module`` entry of a creature config (tools, plugins, triggers, sub-agents, inputs
    and outputs) before importing it. The first plugin to declare a key wins.

    Returns:
        A mapping from ``"module:Class"`` (or a bare ``"module"``) to the ``"module:attribute"``
        to load instead.

    Use in creature plugins:
        Not called.
    """


@hookspec(firstresult=True)
def kt_resolve_llm(
    selector: str | None, creature: CreatureConfig, kernel: kt.Kernel
) -> LLMProfile | None:
    """Choose the model profile a creature runs with (presets, aliases, keys, user defaults).

    Called once per ``Agent.build`` that was given no ``llm=`` instance, before the kernel's
    own selector parsing. Stops at the first non-``None`` result. The kernel then builds the
    model with ``kernel.llm_backends[profile.backend].factory(profile)`` and names it
    ``profile.name`` (what ``agent.llm_name`` and ``kt doctor`` show). When every
    implementation returns ``None``, the kernel parses ``BACKEND/MODEL`` or ``BACKEND:REST``
    itself from the selector or the ``[controller]`` table, and raises
    :class:`kt.errors.LLMNotConfiguredError` when nothing selects a model.

    An implementation may raise a :class:`kt.errors.KTError` (an unknown or ambiguous name,
    an unknown variation, no key for the chosen provider); the build fails with it.

    Args:
        selector: The selector given for this build (``--llm`` / ``Agent.build(llm_selector=)``),
            or ``None``; it wins over the creature config.
        creature: The creature's validated config (its ``[controller]`` table holds ``llm``,
            ``provider``, ``model``, ``base_url``, ``api_key_env``, ``variation`` and the
            generation options).
        kernel: The kernel building the creature: ``kernel.llm_backends`` lists the backends
            and their preset profiles; ``kernel.env`` is the environment to read keys and
            ``KT_HOME`` from.

    Returns:
        The :class:`kt.LLMProfile` to build (its ``backend`` must name a registered backend),
        or ``None`` to leave the choice to another implementation or the kernel.

    Use in creature plugins:
        Not called: the model is chosen before the creature's own plugins are loaded.
    """


# -- Runtime hooks: creature lifecycle ----------------------------------------------------------


@hookspec
def kt_creature_started(creature: kt.Agent) -> None:
    """The creature started and is about to accept turns.

    Called once per creature from ``async with agent`` (``Agent.start``), after its tools,
    prompt and model are resolved. May be ``async def``.

    Args:
        creature: The running agent.

    Use in creature plugins:
        Called for that creature.
    """


@hookspec
def kt_creature_stopped(creature: kt.Agent) -> None:
    """The creature is stopping; release what you hold for it.

    Called once per creature, shielded from cancellation with a short deadline. May be
    ``async def``.

    Args:
        creature: The stopping agent.

    Use in creature plugins:
        Called for that creature.
    """


@hookspec
def kt_turn_started(ctx: TurnContext) -> None:
    """A turn began; the user message is not yet in the history.

    Called once per turn, before the first model call. May be ``async def``.

    Args:
        ctx: The turn.

    Use in creature plugins:
        Called for that creature's turns.
    """


@hookspec
def kt_turn_ended(ctx: TurnContext, result: TurnResult) -> None:
    """A turn ended, whatever the way (completed, error, interrupted, timeout ...).

    Called once per turn, shielded, before ``TurnCompleted`` is published. May be ``async def``.

    Args:
        ctx: The turn.
        result: Its result.

    Use in creature plugins:
        Called for that creature's turns.
    """


@hookspec
def kt_prompt_sections(creature: kt.Agent) -> list[PromptSection]:
    """Contribute sections to a creature's system prompt.

    Called when the creature starts (and when its tools change). All results are collected and
    sorted by ``(order, key)``, so the prompt is byte-identical for the same inputs. May be
    ``async def``.

    Args:
        creature: The agent whose prompt is being assembled.

    Returns:
        A list of :class:`kt.PromptSection` (or ``None``).

    Use in creature plugins:
        Called for that creature.
    """


@hookspec(firstresult=True)
def kt_render_prompt(
    creature: kt.Agent, text: str, variables: dict[str, Any]
) -> RenderedPrompt | None:
    """Render a creature's base system prompt as a template.

    Called when the prompt is assembled, before the sections of ``kt_prompt_sections`` are
    added. Stops at the first non-``None`` result; with no renderer, the text is used as it is.

    Args:
        creature: The agent whose prompt is being assembled (``creature.config.files`` lists
            its config chain, for finding included fragments).
        text: The base prompt: the prompt files base to child, then the inline prompt.
        variables: What the template may use: ``agent_name``, ``creature_name``, ``pwd``,
            ``model``, ``tools`` (the generated tools section) and each
            ``prompt_context_files`` variable.

    Returns:
        A :class:`kt.RenderedPrompt` (its ``uses_tools`` set when the template placed the
        ``tools`` section itself, so it is not added a second time), or ``None`` to leave it
        to another plugin.

    Use in creature plugins:
        Called for that creature.
    """


@hookspec
def kt_session_restore(creature: kt.Agent, reader: Any) -> None:
    """Rebuild your plugin's state for a creature resumed from a session.

    Called by the session store (``kt_sessions``) once when a creature it rebuilt
    (``Agent.resume``, ``kt resume``) starts, after its conversation is restored and before its
    first turn. Read your own events back with ``reader.events(type=...)`` (the store's reader,
    for ``kt_sessions`` a ``kt_sessions.SessionReader`` on the session file; events of types
    this process does not know come back as wire dicts in ``logged.wire``). May be ``async
    def``. Errors are reported as ``error`` events and do not stop the creature.

    Args:
        creature: The resumed agent (started).
        reader: A reader of its session.

    Use in creature plugins:
        Called for that creature.
    """


# -- Runtime hooks: model calls -----------------------------------------------------------------


@hookspec
def kt_pre_llm_call(request: LLMRequest, ctx: TurnContext) -> LLMRequest | None:
    """Inspect, rewrite or veto a model call before it is sent.

    Called once per model call. Chained: each implementation receives the request returned by
    the one before; return ``None`` to pass it on, or a new request (``attrs.evolve``). Raise
    :class:`kt.errors.PluginBlockError` to veto: the call is not made and the turn ends with
    status ``error`` and that error.

    May be ``async def``; it runs in the turn's cancel scope.

    Args:
        request: The request (frozen).
        ctx: The turn.

    Returns:
        A replacement request, or ``None``.

    Use in creature plugins:
        Called for that creature's calls.
    """


@hookspec
def kt_post_llm_call(result: LLMResult, ctx: TurnContext) -> LLMResult | None:
    """See (and optionally rewrite) what a model call produced.

    Called once per completed model call, after the stream ended and before its tool results
    are awaited. Chained like ``kt_pre_llm_call``. A replacement's ``text`` replaces the text
    stored in the history; text already streamed to the user is not retracted.

    Args:
        result: Text, tool calls, usage and finish reason of the call.
        ctx: The turn.

    Returns:
        A replacement result, or ``None``.

    Use in creature plugins:
        Called for that creature's calls.
    """


# -- Runtime hooks: tools and sub-agents --------------------------------------------------------


@hookspec
def kt_pre_tool_call(call: ToolCall, ctx: TurnContext) -> ToolCall | None:
    """Inspect, rewrite or veto a tool call before the tool starts.

    Called once per tool call, after its arguments were parsed and validated against the tool's
    schema. Calls that failed validation never get here; the model already has their error.

    Chained: each implementation receives the call returned by the one before. Return ``None``
    to pass it on unchanged, or a new ``ToolCall`` (``attrs.evolve(call, args=...)``). Raise
    :class:`kt.errors.PluginBlockError` to veto: the tool does not run, later implementations
    are skipped, and the model gets an error result with your message in this same turn (the
    record's status is ``blocked``). Renaming the call to an unknown tool is an error result.

    May be ``async def``. It runs in the turn's cancel scope: an interrupt or timeout cancels it.

    Args:
        call: The validated call (frozen).
        ctx: The turn.

    Returns:
        A replacement call, or ``None`` to keep the current one.

    Use in creature plugins:
        A plugin listed in a creature's ``[[plugins]]`` sees that creature's calls only.
    """


@hookspec
def kt_post_tool_call(call: ToolCall, result: ToolResult, ctx: TurnContext) -> ToolResult | None:
    """See (and optionally rewrite) a tool's result before the model sees it.

    Called once per call that ran, including calls that failed, timed out or were cut by the
    output cap (after the cap). Not called for vetoed or invalid calls. Chained.

    Args:
        call: The call that ran.
        result: Its result.
        ctx: The turn.

    Returns:
        A replacement result, or ``None``.

    Use in creature plugins:
        Called for that creature's calls.
    """


@hookspec
def kt_pre_subagent(name: str, task: str, ctx: TurnContext) -> str | None:
    """Inspect, rewrite or veto the task handed to a sub-agent.

    Called by sub-agent implementations before the child starts. Chained on ``task``; raise
    :class:`kt.errors.PluginBlockError` to veto (the parent's model sees the error).

    Args:
        name: The sub-agent name.
        task: The task text.
        ctx: The parent's turn.

    Returns:
        A replacement task, or ``None``.

    Use in creature plugins:
        Called for that creature's sub-agents.
    """


@hookspec
def kt_post_subagent(name: str, result: TurnResult, ctx: TurnContext) -> TurnResult | None:
    """See (and optionally rewrite) a sub-agent's result before the parent's model sees it.

    Args:
        name: The sub-agent name.
        result: The child's turn result.
        ctx: The parent's turn.

    Returns:
        A replacement result, or ``None``.

    Use in creature plugins:
        Called for that creature's sub-agents.
    """


# -- Runtime hooks: observation and compaction --------------------------------------------------


@hookspec
def kt_event(event: Event, creature: kt.Agent) -> None:
    """Observe every event of a creature, in order: persistence, UIs, logs, metrics.

    Called once per event, before the event reaches ``run_stream`` readers and outputs, and
    awaited: a persistence plugin that commits here makes every event durable before anyone is
    told about it. Keep it fast; streaming text calls it per chunk. Errors are reported as
    :class:`kt.events.ErrorOccurred` to readers (not to this hook again) and otherwise ignored.

    Args:
        event: The event (frozen).
        creature: The agent it belongs to.

    Use in creature plugins:
        Called for that creature's events.
    """


@hookspec(firstresult=True)
def kt_compact(messages: tuple[Message, ...], creature: kt.Agent) -> str | None:
    """Summarise old history for compaction (a strategy).

    Called by a compaction policy with the messages to fold away. Stops at the first
    non-``None`` result. May be ``async def``. Raise to make the compaction fail; history is
    then left unchanged.

    Args:
        messages: The messages being compacted, oldest first.
        creature: The agent.

    Returns:
        The summary text, or ``None`` to leave it to another implementation.

    Use in creature plugins:
        Called for that creature.
    """


RUNTIME_HOOKS: frozenset[str] = frozenset(
    {
        "kt_creature_started",
        "kt_creature_stopped",
        "kt_turn_started",
        "kt_turn_ended",
        "kt_prompt_sections",
        "kt_pre_llm_call",
        "kt_post_llm_call",
        "kt_pre_tool_call",
        "kt_post_tool_call",
        "kt_pre_subagent",
        "kt_post_subagent",
        "kt_event",
        "kt_compact",
    }
)
"""Hooks called per creature (the others are registration hooks)."""
