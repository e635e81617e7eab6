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

import contextlib
import functools
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import attrs

from kt.errors import KTError
from kt.llm import ContentPart, Message, Usage
from kt.results import ToolCallRecord, TurnResult
from kt.runtime.stash import StashKey

__all__ = [
    "EVENT_TYPES",
    "AgentWarning",
    "AssistantMessageEdited",
    "Choice",
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
    "UserAnswered",
    "UserRequest",
    "UserRequestError",
    "answer_request",
    "ask_person",
    "from_wire",
    "pending_requests",
    "restore_requests",
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


# -- Requests to a person ----------------------------------------------------------------------
#
# A creature that needs a person (a question, a card with buttons, a tool call waiting for
# approval) publishes a UserRequest subclass and waits for the UserAnswered with the same id.
# Producers call ask_person(); front ends list pending_requests() and call answer_request() (or
# emit request.reply(...)). Both events are recorded, so a session log knows which requests
# were still open when the process stopped (restore_requests reopens them).


class UserRequestError(KTError):
    """An answer that cannot be applied: unknown or closed request, or an answer not allowed."""


@attrs.frozen
class Choice:
    """One answer a :class:`UserRequest` accepts.

    Attributes:
        id: What the answer carries (``allow_once``, a card action's id).
        label: For people (``"allow once"``); defaults to the id.
        key: One key that picks it in a terminal (``"y"``), or ``""``.
    """

    id: str
    label: str = ""
    key: str = ""


@attrs.frozen(kw_only=True)
class UserRequest(Event):
    """Base of the events that wait for a person's answer; never published itself.

    Subclasses set ``type`` and ``kind``: ``question`` (``kt_tools``' ``ask_user``),
    ``card`` (``show_card`` with actions), ``approval`` (a tool call waiting for permission).

    Attributes:
        kind: What a front end shows: ``question``, ``card`` or ``approval`` (class attribute).
        request_id: Quote it in the answer.
        prompt: What the person is asked (Markdown).
        choices: The answers accepted; empty: any text.
        deadline: ``time.time()`` after which nobody waits any more; ``None``: until answered.
    """

    kind: ClassVar[str] = "question"
    request_id: str
    prompt: str = ""
    choices: tuple[Choice, ...] = ()
    deadline: float | None = None

    @property
    def waits(self) -> bool:
        """Whether someone waits for an answer (a subclass may publish display-only ones)."""
        return True

    def reply(
        self, answer: str, *, values: Mapping[str, Any] | None = None, source: str = "api"
    ) -> UserAnswered:
        """The :class:`UserAnswered` event that gives *answer*; publish it with ``agent.emit``.

        Raises:
            UserRequestError: *answer* is not one of :attr:`choices` (when there are any).
        """
        if self.choices and answer not in {c.id for c in self.choices}:
            allowed = ", ".join(c.id for c in self.choices)
            raise UserRequestError(
                f"'{answer}' is not an answer to request {self.request_id}; answer with one of "
                f"{allowed}"
            )
        return UserAnswered(
            request_id=self.request_id, answer=answer, values=values or {}, source=source
        )


@attrs.frozen(kw_only=True)
class UserAnswered(Event):
    """A :class:`UserRequest` was settled; nobody waits for it any more.

    Attributes:
        request_id: The request.
        answer: A choice's id, or the typed text.
        values: Form values, when the front end collected any.
        source: Who answered: ``cli``, ``tui``, ``plain``, ``api``, ``policy`` ...
        reason: ``answered``; or ``timeout`` (the deadline passed) and ``cancelled`` (the
            wait was interrupted), both with an empty answer.
    """

    type: ClassVar[str] = "user_answered"
    request_id: str
    answer: str = ""
    values: Mapping[str, Any] = attrs.field(factory=dict)
    source: str = ""
    reason: str = "answered"


@attrs.define(eq=False)
class _Open:
    request: UserRequest
    waiting: bool  # False: restored from a log, its asker died with the old process


_OPEN = StashKey[dict[str, _Open]]()


def pending_requests(agent: Any) -> list[UserRequest]:
    """The requests of *agent* still waiting for an answer, oldest first (restored included)."""
    return [entry.request for entry in agent.stash.get(_OPEN, {}).values()]


async def ask_person(agent: Any, request: UserRequest, timeout: float | None) -> UserAnswered:
    """Publish *request* and wait for its :class:`UserAnswered`; what producers call.

    Listens before publishing, so an answer that comes at once is not missed. When *timeout*
    seconds pass (``None``: no limit) a ``timeout`` answer is published and returned. When the
    wait is cancelled (an interrupt) a ``cancelled`` answer is published, unless the agent is
    stopping: then the request stays open in the log, and :func:`restore_requests` reopens it.
    """
    import math

    import trio

    answers = agent.subscribe()
    book = agent.stash.setdefault(_OPEN, {})
    book[request.request_id] = _Open(request, waiting=True)
    try:
        await agent.emit(request)
        with trio.move_on_after(timeout if timeout else math.inf):
            async for seen in answers:
                if isinstance(seen, UserAnswered) and seen.request_id == request.request_id:
                    return seen
        expired = UserAnswered(request_id=request.request_id, reason="timeout")
        book.pop(request.request_id, None)
        await agent.emit(expired)
        return expired
    except BaseException:
        if book.pop(request.request_id, None) is not None and agent.is_running:
            with trio.move_on_after(5, shield=True):
                await agent.emit(UserAnswered(request_id=request.request_id, reason="cancelled"))
        raise
    finally:
        book.pop(request.request_id, None)
        answers.close()


async def answer_request(
    agent: Any,
    request_id: str,
    answer: str,
    *,
    values: Mapping[str, Any] | None = None,
    source: str = "api",
) -> UserAnswered:
    """Answer a pending request of *agent*; returns the published :class:`UserAnswered`.

    A request restored after a resume has nobody waiting: the answer to a ``question`` or a
    ``card`` then starts a turn that tells the model (``source="user_request"``); the producer
    of an ``approval`` applies its own answers (it sees the event).

    Raises:
        UserRequestError: no such request is pending, or the answer is not one it accepts.
    """
    book = agent.stash.setdefault(_OPEN, {})
    entry = book.get(request_id)
    if entry is None:
        open_ids = ", ".join(book) or "none"
        raise UserRequestError(
            f"no pending request '{request_id}' (never asked, or already answered, timed out "
            f"or withdrawn); pending: {open_ids}"
        )
    reply = entry.request.reply(answer, values=values, source=source)
    if not entry.waiting:
        del book[request_id]
    await agent.emit(reply)
    if not entry.waiting and entry.request.kind in ("question", "card"):
        agent.inject(
            f'(The user answered your earlier question "{entry.request.prompt}", which was '
            f"still open when the session stopped.) {answer}",
            source="user_request",
        )
    return reply


def restore_requests(agent: Any, events: Iterable[Event | Mapping[str, Any]]) -> None:
    """Reopen the requests an event log left unanswered (a resumed session).

    Wire dicts are accepted; those of event types this process does not know (their plugin is
    not loaded) are skipped. Reopened requests have nobody waiting; see :func:`answer_request`.
    """
    book = agent.stash.setdefault(_OPEN, {})
    for item in events:
        event = item
        if isinstance(item, Mapping):
            cls = EVENT_TYPES.get(str(item.get("type", "")))
            if cls is None or not issubclass(cls, UserRequest | UserAnswered):
                continue
            event = from_wire(item)
        if isinstance(event, UserRequest):
            book[event.request_id] = _Open(event, waiting=False)
        elif isinstance(event, UserAnswered):
            book.pop(event.request_id, None)


# -- Wire shape ---------------------------------------------------------------------------------


@functools.cache  # built on first use: cattrs stays out of ``import kt``
def _conv() -> Any:
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


def to_wire(event: Event) -> dict[str, Any]:
    """Return *event* as plain JSON-ready data with its ``type`` name."""
    data = _conv().unstructure(event)
    return {"type": event.type, **data}


def from_wire(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from :func:`to_wire` output.

    A type no loaded module defines is looked for in the modules installed plugins list in
    the ``kt.events`` entry-point group.

    Raises:
        ValueError: if the ``type`` is unknown.
    """
    fields = dict(data)
    name = fields.pop("type", None)
    cls = EVENT_TYPES.get(name or "")
    if cls is None:  # a plugin's type: import the modules plugins list under ``kt.events``
        import importlib.metadata

        for entry in importlib.metadata.entry_points(group="kt.events"):
            with contextlib.suppress(Exception):  # a broken plugin must not hide the others
                entry.load()
        cls = EVENT_TYPES.get(name or "")
    if cls is None:
        raise ValueError(f"unknown event type {name!r}; known: {sorted(EVENT_TYPES)}")
    return _conv().structure(fields, cls)
