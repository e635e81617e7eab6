"""A creature's conversation as the event log defines it, branches included.

:class:`CreatureState` consumes one creature's events in log order and keeps what resume and
the readers need: the live conversation, cumulative usage, the latest turn index, the branch
tree, and the turn that was still running when the log ends. The recorder feeds it live (so
regenerate and edit know the branch structure) and the reader feeds it from the file; both see
the same events in the same order, so they always agree.

How the conversation follows the log: ``message_appended`` appends, ``history_replaced``
replaces everything. Nothing else changes it, so replay is exact.

Branches. Every user turn of the live conversation has a *position* (1, 2, ...) and a branch
*number* at that position; the live *path* lists the numbers, e.g. ``(1, 2)`` = the first turn,
then the second alternative of the second turn. ``session_branch_opened`` (regenerate, edit)
cuts the path before a position, and the next turn input creates the new branch there;
``session_branch_selected`` switches to an existing branch, restoring the conversation it had
when it was left. A branch left and later selected again goes on from where it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kt import Message, ToolCall, Usage
from kt.events import (
    CreatureStarted,
    Event,
    HistoryReplaced,
    LLMCallCompleted,
    LLMCallStarted,
    MessageAppended,
    TextDelta,
    ToolCallCompleted,
    ToolCallStarted,
    TurnCompleted,
    TurnStarted,
)
from kt.history import MISSING_RESULT, repair, result_text, tool_results_message
from kt_sessions.events import BranchOpened, BranchSelected
from kt_sessions.wire import (
    message_text,
    messages_from_wire,
    messages_to_wire,
    usage_from_wire,
)

__all__ = ["STATE_EVENT_TYPES", "Branch", "Closed", "CreatureState"]

_PREVIEW = 200


@attrs.frozen
class Branch:
    """One branch of one user turn, as :meth:`CreatureState.branches` lists them.

    Attributes:
        path: Branch numbers from the first user turn to this one; ``path[-1]`` is this
            branch's number at position ``len(path)``.
        reason: ``""`` for the turn as first asked, ``regenerate`` or ``edit``.
        input: The user input that starts the branch (first 200 characters).
        turn_index: The kernel's turn index of that input.
        first_event_id: The event that started the branch.
        last_event_id: The last event recorded while the branch was live.
        live: Whether the branch is on the live path (what resume continues).
    """

    path: tuple[int, ...]
    reason: str
    input: str
    turn_index: int
    first_event_id: int
    last_event_id: int
    live: bool

    @property
    def position(self) -> int:
        """The user turn this branch is an alternative of, from 1."""
        return len(self.path)

    @property
    def number(self) -> int:
        """This branch's number among the alternatives of its turn, from 1."""
        return self.path[-1]


@attrs.frozen
class Closed:
    """A conversation made ready to continue after the run that wrote it ended.

    Attributes:
        messages: The well-formed history to restore.
        interrupted_calls: Tool calls that started and never completed (now "In doubt":
            they may have partly run; they are never run again).
        interrupted_jobs: Background jobs that never reported back.
    """

    messages: list[Message]
    interrupted_calls: tuple[str, ...] = ()
    interrupted_jobs: tuple[str, ...] = ()


@attrs.define
class _End:
    messages: list[Message]
    path: list[int]
    input_index: dict[int, int]


@attrs.define
class _Node:
    reason: str
    input: str
    turn_index: int
    first_event_id: int
    last_event_id: int = 0
    end: _End | None = None


@attrs.define
class _OpenTurn:
    """A turn started and not completed (yet): what a crash would cut short.

    ``calls`` are the calls of the current round, kept until their results are in the
    history; ``results`` the text of each call that completed meanwhile (a completed call
    is never lost, even when the round's results were not appended yet).
    """

    turn_index: int
    input: Any
    partial: list[str] = attrs.Factory(list)
    calls: dict[str, ToolCall] = attrs.Factory(dict)
    input_appended: bool = False
    usage: Usage = Usage()
    results: dict[str, str] = attrs.Factory(dict)
    assistant_appended: bool = False

    def new_round(self) -> None:
        self.partial.clear()
        self.calls.clear()
        self.results.clear()
        self.assistant_appended = False


STATE_EVENT_TYPES = frozenset(
    {
        CreatureStarted.type,
        TurnStarted.type,
        TurnCompleted.type,
        MessageAppended.type,
        HistoryReplaced.type,
        LLMCallStarted.type,
        LLMCallCompleted.type,
        ToolCallStarted.type,
        ToolCallCompleted.type,
        TextDelta.type,
        BranchOpened.type,
        BranchSelected.type,
    }
)
"""The event types :class:`CreatureState` uses; the reader decodes only these for replay."""


class CreatureState:
    """One creature's conversation, usage, turn counter and branches, built from its events.

    Args:
        creature: The creature's name.
    """

    def __init__(self, creature: str) -> None:
        self.creature = creature
        self.messages: list[Message] = []
        self.usage = Usage()
        self.turn_index = 0
        self.last_event_id = 0
        self.native = True
        self.path: list[int] = []
        self.input_index: dict[int, int] = {}  # position -> index of its input in messages
        self.nodes: dict[tuple[int, ...], _Node] = {}
        self._children: dict[tuple[int, ...], int] = {}  # prefix -> highest branch number
        self.open_turn: _OpenTurn | None = None
        self.background: dict[str, str] = {}  # running background job id -> tool name
        self.pending_reason = ""
        self._handlers: dict[str, Callable[[Any, int], None]] = {
            CreatureStarted.type: self._creature_started,
            TurnStarted.type: self._turn_started,
            TurnCompleted.type: self._turn_completed,
            MessageAppended.type: self._message_appended,
            HistoryReplaced.type: self._history_replaced,
            LLMCallStarted.type: self._llm_call_started,
            LLMCallCompleted.type: self._llm_call_completed,
            ToolCallStarted.type: self._tool_call_started,
            ToolCallCompleted.type: self._tool_call_completed,
            TextDelta.type: self._text_delta,
            BranchOpened.type: self._branch_opened,
            BranchSelected.type: self._branch_selected,
        }

    # -- Feeding events ------------------------------------------------------------------------

    def apply(self, event: Event, event_id: int = 0) -> None:
        """Take one event of this creature into account (events of other types are ignored).

        Args:
            event: The event.
            event_id: Its id in the log (0 when not known yet, e.g. a buffered text delta).
        """
        if event_id:
            self.last_event_id = event_id
        handler = self._handlers.get(event.type)
        if handler is not None:
            handler(event, event_id)

    def _creature_started(self, event: CreatureStarted, event_id: int) -> None:
        self.native = event.config.get("tool_format", "native") == "native"

    def _turn_started(self, event: TurnStarted, event_id: int) -> None:
        self.turn_index = max(self.turn_index, event.turn_index)
        self.open_turn = _OpenTurn(event.turn_index, event.input)

    def _turn_completed(self, event: TurnCompleted, event_id: int) -> None:
        self.usage = self.usage + event.result.usage
        self.turn_index = max(self.turn_index, event.turn_index)
        self.open_turn = None

    def _message_appended(self, event: MessageAppended, event_id: int) -> None:
        message = event.message
        self.messages.append(message)
        turn = self.open_turn
        if turn is None:
            return
        if message.role == "user" and not turn.input_appended:
            turn.input_appended = True
            self._new_position(message, event.turn_index, event_id)
        elif message.role == "assistant":
            turn.partial.clear()
            turn.assistant_appended = True
        elif message.role == "tool" or message.meta.get("tool_results"):
            turn.calls.pop(message.tool_call_id or "", None)
            if message.role == "user":  # a text format answers the whole round at once
                turn.calls.clear()

    def _new_position(self, message: Message, turn_index: int, event_id: int) -> None:
        prefix = tuple(self.path)
        number = self._children.get(prefix, 0) + 1
        self._children[prefix] = number
        path = (*prefix, number)
        self.nodes[path] = _Node(
            reason=self.pending_reason,
            input=message_text(message)[:_PREVIEW],
            turn_index=turn_index,
            first_event_id=event_id,
        )
        self.pending_reason = ""
        self.path.append(path[-1])
        self.input_index[len(self.path)] = len(self.messages) - 1

    def _history_replaced(self, event: HistoryReplaced, event_id: int) -> None:
        new = list(event.messages)
        turn = self.open_turn
        if event.reason == "merge_user_input":
            # The new turn's input went into the last turn's user message: same position.
            if turn is not None:
                turn.input_appended = True
        elif event.reason != "branch":  # a branch event already set path and input_index
            self.input_index = _remap(self.messages, new, self.input_index)
        self.messages = new

    def _llm_call_started(self, event: LLMCallStarted, event_id: int) -> None:
        if self.open_turn is not None:
            self.open_turn.new_round()

    def _llm_call_completed(self, event: LLMCallCompleted, event_id: int) -> None:
        turn = self.open_turn
        if turn is None:
            return
        turn.usage = turn.usage + event.usage
        if event.error is not None:
            turn.new_round()  # a failed call's text is not kept; its calls were cancelled

    def _text_delta(self, event: TextDelta, event_id: int) -> None:
        if self.open_turn is not None:
            self.open_turn.partial.append(event.text)

    def _tool_call_started(self, event: ToolCallStarted, event_id: int) -> None:
        if self.open_turn is not None:
            args = event.args
            self.open_turn.calls[event.call_id] = ToolCall(event.name, args, event.call_id)

    def _tool_call_completed(self, event: ToolCallCompleted, event_id: int) -> None:
        turn = self.open_turn
        if turn is not None and event.call_id in turn.calls:
            turn.results[event.call_id] = result_text(event.status, event.output, event.error)
        if not event.background:
            return
        if event.status == "running":
            self.background[event.call_id] = event.name
        else:
            self.background.pop(event.call_id, None)

    def _branch_opened(self, event: BranchOpened, event_id: int) -> None:
        position = max(1, event.position)
        self._leave(position, event_id)
        del self.path[position - 1 :]
        self.input_index = {k: v for k, v in self.input_index.items() if k < position}
        self.pending_reason = event.reason

    def _branch_selected(self, event: BranchSelected, event_id: int) -> None:
        target = tuple(event.path)
        node = self.nodes.get(target)
        if node is None or tuple(self.path[: len(target)]) == target:
            return  # unknown, or already on it: the history_replaced that follows decides
        self._leave(len(target), event_id)
        assert node.end is not None  # a node off the live path was left, so it has an end
        self.path = list(node.end.path)
        self.input_index = dict(node.end.input_index)

    def _leave(self, position: int, event_id: int) -> None:
        """Record the end state of the live branches at *position* and deeper."""
        end = _End(list(self.messages), list(self.path), dict(self.input_index))
        for depth in range(position, len(self.path) + 1):
            node = self.nodes.get(tuple(self.path[:depth]))
            if node is not None:
                node.end = end
                node.last_event_id = max(event_id - 1, node.first_event_id)

    # -- Reading -------------------------------------------------------------------------------

    @property
    def open_turn_usage(self) -> Usage:
        """Usage of the model calls of the turn left open (it has no ``turn_completed``)."""
        return self.open_turn.usage if self.open_turn is not None else Usage()

    @property
    def positions(self) -> int:
        """How many user turns the live branch path has."""
        return len(self.path)

    def input_message_index(self, position: int) -> int | None:
        """Index in :attr:`messages` of the input of user turn *position*, if still there."""
        return self.input_index.get(position)

    def branches(self) -> list[Branch]:
        """Every branch recorded, ordered by path."""
        live = tuple(self.path)
        out = []
        for path in sorted(self.nodes):
            node = self.nodes[path]
            is_live = live[: len(path)] == path
            out.append(
                Branch(
                    path=path,
                    reason=node.reason,
                    input=node.input,
                    turn_index=node.turn_index,
                    first_event_id=node.first_event_id,
                    last_event_id=self.last_event_id if is_live else node.last_event_id,
                    live=is_live,
                )
            )
        return out

    def branch_messages(self, path: tuple[int, ...]) -> list[Message] | None:
        """The conversation branch *path* had when last live (``None``: no such branch)."""
        node = self.nodes.get(tuple(path))
        if node is None:
            return None
        if tuple(self.path[: len(path)]) == tuple(path):
            return list(self.messages)
        assert node.end is not None
        return list(node.end.messages)

    def closed(self) -> Closed:
        """The conversation as a new run should continue it, after this one ended.

        A turn left open (the process died, or the file was cut at a fork point) is closed
        without losing anything that happened: its input is kept; a partial reply is kept and
        marked ``interrupted``; every call that completed gets its recorded result (from its
        ``tool_call_completed`` event, even when the round's results never reached the
        history); every call that started and never completed gets an "In doubt" result
        (``kt.history.MISSING_RESULT``): it may have partly run, and it is not run again.
        Background jobs that never reported back are named in a user note, which the next
        input is merged into.
        """
        messages = list(self.messages)
        in_doubt: list[str] = []
        turn = self.open_turn
        results: dict[str, str] = {}
        if turn is not None:
            results = turn.results
            if not turn.input_appended:
                messages.append(Message("user", turn.input))
            pending = tuple(turn.calls.values())
            if not turn.assistant_appended:
                text = "".join(turn.partial)
                native_calls = pending if self.native else ()
                if text or native_calls:
                    messages.append(
                        Message(
                            "assistant", text, tool_calls=native_calls, meta={"interrupted": True}
                        )
                    )
            if pending and not self.native:
                answers = [(call, results.get(call.id)) for call in pending]
                in_doubt += [call.id for call, text in answers if text is None]
                messages.append(
                    tool_results_message(
                        [
                            (call, text if text is not None else MISSING_RESULT)
                            for call, text in answers
                        ]
                    )
                )

        def answer(call: ToolCall) -> str | None:
            if call.id not in results:
                in_doubt.append(call.id)
            return results.get(call.id)

        repaired = repair(messages, answer=answer)
        jobs = tuple(self.background)
        if jobs:
            lines = [
                f"[Background job {job} ({name}) was still running when the previous session "
                "ended; it was interrupted and its result is lost. It may have partly run: "
                "check its effects before starting it again]"
                for job, name in self.background.items()
            ]
            repaired = repair([*repaired, Message("user", "\n".join(lines))])
        return Closed(repaired, tuple(in_doubt), jobs)

    # -- Snapshots -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Everything needed to go on from here, as JSON-ready data (a snapshot)."""
        turn = self.open_turn
        return {
            "messages": messages_to_wire(self.messages),
            "usage": attrs.asdict(self.usage),
            "turn_index": self.turn_index,
            "last_event_id": self.last_event_id,
            "native": self.native,
            "path": self.path,
            "input_index": {str(k): v for k, v in self.input_index.items()},
            "nodes": [
                {
                    "path": list(path),
                    "reason": node.reason,
                    "input": node.input,
                    "turn_index": node.turn_index,
                    "first_event_id": node.first_event_id,
                    "last_event_id": node.last_event_id,
                    "end": None if node.end is None else _end_to_json(node.end),
                }
                for path, node in self.nodes.items()
            ],
            "open_turn": None
            if turn is None
            else {
                "turn_index": turn.turn_index,
                "input": messages_to_wire([Message("user", turn.input)])[0]["content"],
                "partial": "".join(turn.partial),
                "calls": [
                    {"id": c.id, "name": c.name, "args": c.args} for c in turn.calls.values()
                ],
                "input_appended": turn.input_appended,
                "usage": attrs.asdict(turn.usage),
                "results": turn.results,
                "assistant_appended": turn.assistant_appended,
            },
            "background": self.background,
            "pending_reason": self.pending_reason,
        }

    @classmethod
    def from_json(cls, creature: str, data: Mapping[str, Any]) -> CreatureState:
        """Rebuild a state from :meth:`to_json` output."""
        state = cls(creature)
        state.messages = messages_from_wire(data["messages"])
        state.usage = usage_from_wire(data["usage"])
        state.turn_index = data["turn_index"]
        state.last_event_id = data["last_event_id"]
        state.native = data["native"]
        state.path = list(data["path"])
        state.input_index = {int(k): v for k, v in data["input_index"].items()}
        for item in data["nodes"]:
            end = None if item["end"] is None else _end_from_json(item["end"])
            path = tuple(item["path"])
            state._children[path[:-1]] = max(state._children.get(path[:-1], 0), path[-1])
            state.nodes[path] = _Node(
                reason=item["reason"],
                input=item["input"],
                turn_index=item["turn_index"],
                first_event_id=item["first_event_id"],
                last_event_id=item["last_event_id"],
                end=end,
            )
        turn = data.get("open_turn")
        if turn is not None:
            content = messages_from_wire(
                [{"role": "user", "content": turn["input"], "tool_calls": [], "meta": {}}]
            )[0].content
            state.open_turn = _OpenTurn(
                turn["turn_index"],
                content,
                [turn["partial"]] if turn["partial"] else [],
                {c["id"]: ToolCall(c["name"], c["args"], c["id"]) for c in turn["calls"]},
                turn["input_appended"],
                usage_from_wire(turn.get("usage", {})),
                dict(turn.get("results", {})),
                turn.get("assistant_appended", False),
            )
        state.background = dict(data["background"])
        state.pending_reason = data["pending_reason"]
        return state


def _remap(old: list[Message], new: list[Message], index: dict[int, int]) -> dict[int, int]:
    """Follow each turn input from *old* into *new* (compaction keeps the newest ones)."""
    mapping = {}
    start = 0
    for position, at in sorted(index.items(), key=lambda item: item[1]):
        if at >= len(old):
            continue
        target = old[at]
        for j in range(start, len(new)):
            if new[j] == target:
                mapping[position] = j
                start = j + 1
                break
    return mapping


def _end_to_json(end: _End) -> dict[str, Any]:
    return {
        "messages": messages_to_wire(end.messages),
        "path": end.path,
        "input_index": {str(k): v for k, v in end.input_index.items()},
    }


def _end_from_json(data: Mapping[str, Any]) -> _End:
    return _End(
        messages_from_wire(data["messages"]),
        list(data["path"]),
        {int(k): v for k, v in data["input_index"].items()},
    )
