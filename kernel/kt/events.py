"""Typed events: the single record of everything that happens in a creature.

Every event is a frozen attrs class with a stable ``type`` name. A creature publishes each
event once, in the order things happened, to every reader: ``Agent.run_stream``, the runtime
hook ``kt_event`` (persistence, UIs, logs) and the creature's outputs. Persistence stores the
event log, and conversation state is derived from it: every change to the history is itself an
event (:class:`MessageAppended`, :class:`HistoryReplaced`).

The wire shape (for session files and the HTTP API) comes from one cattrs converter:
:func:`to_wire` / :func:`from_wire`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from kt.llm import ContentPart, Message, Usage
from kt.results import ToolCallRecord, TurnResult

__all__ = [
    "EVENT_TYPES",
    "AgentWarning",
    "AssistantMessageEdited",
    "CompactionCompleted",
    "CompactionSkipped",
    "CompactionStarted",
    "CreatureStarted",
    "CreatureStopped",
    "CreatureTerminated",
    "ErrorOccurred",
    "Event",
    "HistoryReplaced",
    "Interrupted",
    "LLMCallCompleted",
    "LLMCallStarted",
    "MessageAppended",
    "SubAgentCompleted",
    "SubAgentStarted",
    "TextDelta",
    "ToolCallCompleted",
    "ToolCallStarted",
    "TurnCompleted",
    "TurnStarted",
    "from_wire",
    "to_wire",
]

EVENT_TYPES: dict[str, type[Event]] = {}
"""Every event class by its ``type`` name; filled as classes are defined."""


@attrs.frozen(kw_only=True)
class Event:
    """Base of all events.

    Attributes:
        creature: The creature's name.
        turn_index: The turn the event belongs to; events between turns carry the most recent
            turn's index (0 before the first turn).
        timestamp: Wall-clock time it happened (``time.time()``).
    """

    type: ClassVar[str] = "event"
    creature: str = ""
    turn_index: int = 0
    timestamp: float = attrs.field(factory=time.time)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("type")
        if name:
            EVENT_TYPES[name] = cls


# -- Creature lifecycle -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CreatureStarted(Event):
    """The creature started; records what it runs with.

    Attributes:
        config: The resolved config in its wire shape (no secrets).
        plugins: The plugin names loaded for the creature.
        tools: The tool names offered to the model.
        model: The model identifier, if known.
    """

    type: ClassVar[str] = "creature_started"
    config: Mapping[str, Any] = attrs.field(factory=dict)
    plugins: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    model: str = ""


@attrs.frozen(kw_only=True)
class CreatureStopped(Event):
    """The creature stopped; nothing follows."""

    type: ClassVar[str] = "creature_stopped"


@attrs.frozen(kw_only=True)
class CreatureTerminated(Event):
    """A ``[termination]`` limit ended the creature's run; it takes no more turns.

    Attributes:
        limit: The limit reached: ``max_turns``, ``max_tokens``, ``max_duration`` or
            ``idle_timeout``.
        reason: What happened, for people (``"3 turns run (max_turns = 3)"``).
    """

    type: ClassVar[str] = "creature_terminated"
    limit: str
    reason: str


# -- Turns --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TurnStarted(Event):
    """A turn began.

    Attributes:
        input: The input text (or parts).
        source: What started it: ``user``, ``tool_complete`` (a background job finished),
            ``trigger``, ``channel`` ...
    """

    type: ClassVar[str] = "turn_started"
    input: str | tuple[ContentPart, ...] = ""
    source: str = "user"


@attrs.frozen(kw_only=True)
class TurnCompleted(Event):
    """The turn ended. Exactly one per turn, always its last event."""

    type: ClassVar[str] = "turn_completed"
    result: TurnResult


@attrs.frozen(kw_only=True)
class Interrupted(Event):
    """``interrupt()`` was called during the turn."""

    type: ClassVar[str] = "interrupt"
    reason: str = "interrupted"


# -- Model calls --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class LLMCallStarted(Event):
    """A model call began (``iteration`` counts from 1 within the turn)."""

    type: ClassVar[str] = "llm_call_started"
    iteration: int = 1


@attrs.frozen(kw_only=True)
class TextDelta(Event):
    """Assistant text, as it streams (tool-call markup already removed)."""

    type: ClassVar[str] = "text_delta"
    text: str = ""
    iteration: int = 1


@attrs.frozen(kw_only=True)
class LLMCallCompleted(Event):
    """A model call ended (also when it failed: then ``error`` is set)."""

    type: ClassVar[str] = "llm_call_completed"
    iteration: int = 1
    usage: Usage = Usage()
    finish_reason: str = ""
    tool_calls: int = 0
    error: str | None = None


@attrs.frozen(kw_only=True)
class AssistantMessageEdited(Event):
    """``kt_post_llm_call`` plugins rewrote a reply before it was stored.

    Text already streamed to the user is not retracted; the history holds ``text``.

    Attributes:
        iteration: The model call within the turn.
        text: The text stored in the history.
        plugins: The plugins that changed it, in call order.
    """

    type: ClassVar[str] = "assistant_message_edited"
    iteration: int = 1
    text: str = ""
    plugins: tuple[str, ...] = ()


# -- Tools and sub-agents -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ToolCallStarted(Event):
    """A tool call was dispatched."""

    type: ClassVar[str] = "tool_call_started"
    call_id: str
    name: str
    args: Mapping[str, Any] | str = attrs.field(factory=dict)
    background: bool = False


@attrs.frozen(kw_only=True)
class ToolCallCompleted(Event):
    """A tool call reached its terminal state (``status`` as in ``ToolCallRecord``)."""

    type: ClassVar[str] = "tool_call_completed"
    call_id: str
    name: str
    status: str
    output: str = ""
    error: str | None = None
    error_type: str | None = None
    duration: float = 0.0
    background: bool = False
    metadata: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_record(cls, record: ToolCallRecord) -> ToolCallCompleted:
        """The event that publishes *record*, the call's terminal record."""
        return cls(
            call_id=record.id,
            name=record.name,
            status=record.status,
            output=record.output,
            error=record.error,
            error_type=record.error_type,
            duration=record.duration,
            background=record.background,
            metadata=record.metadata,
        )


@attrs.frozen(kw_only=True)
class SubAgentStarted(Event):
    """A sub-agent started working on a task."""

    type: ClassVar[str] = "subagent_started"
    call_id: str
    name: str
    task: str = ""
    background: bool = False


@attrs.frozen(kw_only=True)
class SubAgentCompleted(Event):
    """A sub-agent finished (``status`` as in ``TurnResult``)."""

    type: ClassVar[str] = "subagent_completed"
    call_id: str
    name: str
    status: str
    output: str = ""
    error: str | None = None
    turns: int = 0
    usage: Usage = Usage()


# -- History ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class MessageAppended(Event):
    """A message was appended to the conversation history."""

    type: ClassVar[str] = "message_appended"
    message: Message


@attrs.frozen(kw_only=True)
class HistoryReplaced(Event):
    """The whole history was replaced (compaction, clear, edit): ``messages`` is the new one."""

    type: ClassVar[str] = "history_replaced"
    messages: tuple[Message, ...] = ()
    reason: str = ""


@attrs.frozen(kw_only=True)
class CompactionStarted(Event):
    """Background summarisation of old history began."""

    type: ClassVar[str] = "compaction_started"
    prompt_tokens: int = 0


@attrs.frozen(kw_only=True)
class CompactionCompleted(Event):
    """Old history was replaced by a summary."""

    type: ClassVar[str] = "compaction_completed"
    summary: str = ""
    messages_compacted: int = 0


@attrs.frozen(kw_only=True)
class CompactionSkipped(Event):
    """Compaction was considered and not done (``reason``), or failed (history untouched)."""

    type: ClassVar[str] = "compaction_skipped"
    reason: str = ""


# -- Diagnostics --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AgentWarning(Event):
    """Something worth telling the user that did not stop anything."""

    type: ClassVar[str] = "warning"
    message: str = ""
    source: str = ""


@attrs.frozen(kw_only=True)
class ErrorOccurred(Event):
    """An error that was isolated (a plugin hook raised, an output failed).

    Attributes:
        message: What went wrong.
        error_type: The exception class name.
        source: Where: ``plugin:<name>:<hook>``, ``output:<name>`` ...
    """

    type: ClassVar[str] = "error"
    message: str = ""
    error_type: str = ""
    source: str = ""


# -- Wire shape ---------------------------------------------------------------------------------

_converter: Any = None


def _make_converter() -> Any:
    import cattrs

    conv = cattrs.Converter()

    def unstructure_error(exc: BaseException | None) -> Any:
        if exc is None:
            return None
        return {"type": type(exc).__name__, "message": str(exc)}

    def structure_error(value: Any, _: Any) -> BaseException | None:
        if value is None:
            return None
        from kt import errors

        cls = getattr(errors, value.get("type", ""), None)
        if not (isinstance(cls, type) and issubclass(cls, errors.KTError)):
            cls = errors.KTError
        try:
            return cls(value.get("message", ""))
        except TypeError:  # classes with extra required arguments
            return errors.KTError(value.get("message", ""))

    conv.register_unstructure_hook(BaseException, unstructure_error)
    conv.register_structure_hook(BaseException | None, structure_error)
    conv.register_structure_hook(BaseException, structure_error)
    conv.register_structure_hook(
        Mapping[str, Any] | str, lambda v, _: v if isinstance(v, str) else dict(v)
    )
    conv.register_structure_hook(
        str | tuple[ContentPart, ...],
        lambda v, _: v if isinstance(v, str) else tuple(conv.structure(p, ContentPart) for p in v),
    )
    return conv


def _conv() -> Any:
    global _converter
    if _converter is None:
        _converter = _make_converter()
    return _converter


def to_wire(event: Event) -> dict[str, Any]:
    """Return *event* as plain JSON-ready data with its ``type`` name."""
    data = _conv().unstructure(event)
    return {"type": event.type, **data}


def from_wire(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from :func:`to_wire` output.

    Raises:
        ValueError: if the ``type`` is unknown.
    """
    fields = dict(data)
    name = fields.pop("type", None)
    cls = EVENT_TYPES.get(name or "")
    if cls is None:
        raise ValueError(f"unknown event type {name!r}; known: {sorted(EVENT_TYPES)}")
    return _conv().structure(fields, cls)
