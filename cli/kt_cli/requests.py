"""Requests that wait for the person at the terminal: questions, cards and tool approvals.

A creature asks through the kernel's request exchange (:mod:`kt.events`): a
:class:`kt.events.UserRequest` event (``ask_user``'s question, ``show_card``'s buttons, a tool
call waiting for approval) that a front end answers with
:func:`kt.events.answer_request`. This module turns those events into one shape every front end
shows the same way (:class:`Pending`), matches what the person typed against the answers a
request accepts (:meth:`Pending.resolve`: ``y`` / ``a`` / ``n`` for approvals), and holds the
run's approval mode (:class:`ApprovalPolicy`: ``kt run --approvals MODE``, ``/approvals``),
which answers approvals nobody needs to see.

``kt_guard`` publishes its approvals as its own ``approval_requested`` event and takes answers
through its ``answer(agent, request_id, decision)`` function; :func:`as_pending` reads those
too, so approvals work whichever way the gate publishes them.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from kt.errors import KTError
from kt.events import (
    Choice,
    Event,
    UserAnswered,
    UserRequest,
    answer_request,
    pending_requests,
)

__all__ = [
    "APPROVAL_CHOICES",
    "APPROVAL_MODES",
    "ApprovalPolicy",
    "Pending",
    "as_pending",
    "closed_request",
    "restored_requests",
]

APPROVAL_CHOICES = (
    Choice("allow_once", "allow once", "y"),
    Choice("allow_session", "allow for this session", "a"),
    Choice("deny", "deny", "n"),
)
"""What a tool approval accepts, with the keys terminal agents use."""

APPROVAL_MODES = {
    "ask": "ask before every call the permission rules mark as needing approval",
    "accept-edits": "approve file edits inside the working directory, ask for the rest",
    "bypass": "approve every call without asking",
    "deny": "never ask: refuse every call that needs approval",
}
"""The approval modes (``kt run --approvals MODE``, ``/approvals MODE``)."""

EDIT_TOOLS = frozenset({"edit", "write", "multi_edit", "notebook_edit", "json_write"})
"""Tools ``accept-edits`` approves when their path is inside the working directory."""


@attrs.frozen
class Pending:
    """A request as a front end shows it.

    Attributes:
        request_id: Its id.
        kind: ``question``, ``card`` or ``approval``.
        prompt: The question, the card's title, or what the tool wants to do.
        details: Lines under the prompt (a card's body, a call's arguments).
        choices: The answers accepted; empty: any text.
        deadline: ``time.time()`` when nobody waits any more, or ``None``.
        tool: For approvals, the tool's name.
        args: For approvals, the call's arguments.
        event: The event it came from.
    """

    request_id: str
    kind: str
    prompt: str
    details: tuple[str, ...] = ()
    choices: tuple[Choice, ...] = ()
    deadline: float | None = None
    tool: str = ""
    args: Mapping[str, Any] = attrs.field(factory=dict)
    event: Any = None

    def hint(self) -> str:
        """How to answer, in a few words (``y allow once · a allow for this session · n deny``)."""
        if not self.choices:
            return "type your answer and press Enter"
        return " · ".join(f"{c.key or c.id} {c.label or c.id}" for c in self.choices)

    def resolve(self, typed: str) -> str | None:
        """The answer *typed* stands for, or ``None`` when it is not one this request accepts.

        A choice is picked by its key (``y``), its id (``allow_once``) or its label, ignoring
        case; a request without choices takes any text.
        """
        if not self.choices:
            return typed
        wanted = typed.strip().lower()
        for choice in self.choices:
            if wanted in (choice.key.lower(), choice.id.lower(), choice.label.lower()) and wanted:
                return choice.id
        return None

    def seconds_left(self) -> float | None:
        """Seconds until the deadline (never below 0), or ``None`` without one."""
        return None if self.deadline is None else max(self.deadline - time.time(), 0.0)

    async def answer(self, agent: Any, answer: str, *, source: str) -> None:
        """Give *answer* (a choice id, or text) to the creature.

        Raises:
            KTError: the request is no longer pending, or the answer is not accepted.
        """
        if isinstance(self.event, UserRequest):
            await answer_request(agent, self.request_id, answer, source=source)
            return
        # kt_guard's own approval event: its defining module takes the answer.
        module = importlib.import_module(type(self.event).__module__)
        module.answer(agent, self.request_id, answer)

    async def withdraw(self, agent: Any, *, source: str) -> None:
        """Close the request unanswered (a ``cancelled`` answer; an approval is denied)."""
        if not isinstance(self.event, UserRequest):
            await self.answer(agent, "deny", source=source)
            return
        await agent.emit(
            UserAnswered(request_id=self.request_id, reason="cancelled", source=source)
        )


def as_pending(event: Event) -> Pending | None:
    """The request *event* opens, or ``None`` when it opens none."""
    if isinstance(event, UserRequest):
        if not event.waits:
            return None
        details = tuple(_details(event))
        return Pending(
            event.request_id,
            event.kind,
            event.prompt,
            details,
            event.choices,
            event.deadline,
            tool=getattr(event, "tool", ""),  # an approval names its call: modes decide on it
            args=dict(getattr(event, "args", {}) or {}),
            event=event,
        )
    if event.type == "approval_requested":
        args = dict(getattr(event, "args", {}) or {})
        timeout = getattr(event, "timeout", None)
        tool = getattr(event, "tool", "")
        return Pending(
            getattr(event, "request_id", ""),
            "approval",
            f"{tool} wants to run",
            tuple(_arg_lines(args)),
            APPROVAL_CHOICES,
            event.timestamp + timeout if timeout else None,
            tool=tool,
            args=args,
            event=event,
        )
    return None


def restored_requests(agent: Any) -> list[Event]:
    """The request events *agent* has open already (a resumed session), oldest first."""
    found: list[Event] = list(pending_requests(agent))
    guard = sys.modules.get("kt_guard.permissions")  # loaded when kt_guard gates this run
    if guard is not None:
        found += [e for e in guard.pending_approvals(agent) if not isinstance(e, UserRequest)]
    return found


def closed_request(event: Event) -> tuple[str, str] | None:
    """``(request_id, outcome)`` when *event* settles a request, else ``None``.

    The outcome is the answer, or ``timed out`` / ``withdrawn`` when nobody answered.
    """
    if isinstance(event, UserAnswered):
        reason = {"timeout": "timed out", "cancelled": "withdrawn"}.get(event.reason)
        return event.request_id, reason or event.answer
    if event.type == "approval_answered":
        reason = {"timeout": "timed out", "cancelled": "withdrawn"}.get(event.reason)
        return event.request_id, reason or str(getattr(event, "decision", ""))
    return None


def _details(event: UserRequest) -> list[str]:
    lines: list[str] = []
    for name in ("subtitle", "body"):
        text = getattr(event, name, "")
        if text:
            lines += str(text).splitlines()
    for field in getattr(event, "fields", ()) or ():
        lines.append(f"{field.get('label')}: {field.get('value')}")
    if getattr(event, "tool", ""):
        lines += _arg_lines(dict(getattr(event, "args", {}) or {}))
    return lines


def _arg_lines(args: Mapping[str, Any]) -> list[str]:
    """``key=value`` lines of the arguments that were given (``None`` ones left out)."""
    return [f"{key}={value}" for key, value in args.items() if value is not None]


class ApprovalModeError(KTError):
    """An approval mode that does not exist (the message lists the modes)."""


@attrs.define
class ApprovalPolicy:
    """The run's approval mode: which approvals are answered without asking the person.

    Attributes:
        mode: One of :data:`APPROVAL_MODES`.
        working_dir: Where ``accept-edits`` approves edits.
    """

    mode: str = "ask"
    working_dir: Path | None = None

    def __attrs_post_init__(self) -> None:
        self.set(self.mode)

    def set(self, mode: str) -> None:
        """Switch to *mode*.

        Raises:
            ApprovalModeError: no such mode.
        """
        if mode not in APPROVAL_MODES:
            raise ApprovalModeError(
                f"unknown approval mode '{mode}'; modes: {', '.join(APPROVAL_MODES)}"
            )
        self.mode = mode

    def decide(self, pending: Pending) -> str | None:
        """The answer this mode gives to *pending* on its own, or ``None``: ask the person."""
        if pending.kind != "approval":
            return None
        if self.mode == "bypass":
            return "allow_once"
        if self.mode == "deny":
            return "deny"
        if self.mode == "accept-edits" and self._edit_inside(pending):
            return "allow_once"
        return None

    def _edit_inside(self, pending: Pending) -> bool:
        if pending.tool not in EDIT_TOOLS or self.working_dir is None:
            return False
        path = next(
            (pending.args[k] for k in ("path", "file_path", "notebook_path") if k in pending.args),
            None,
        )
        if not isinstance(path, str) or not path:
            return False
        root = self.working_dir.resolve()
        target = (root / path).resolve()
        return target == root or root in target.parents
