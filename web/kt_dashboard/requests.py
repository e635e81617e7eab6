"""Requests from a creature answered on its chat page: ``ask_user`` questions, cards, approvals.

A creature asks through the kernel's request exchange (:mod:`kt.events`): a
:class:`~kt.events.UserRequest` event reaches the chat socket as an ``activity`` frame, the
page shows it in place, and the person's answer comes back here and goes to
:func:`kt.events.answer_request`. Pending requests are listed too, so a page opened (or
reloaded) while a creature waits shows the question.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["AnswerBody", "answer", "pending"]


@attrs.define
class AnswerBody:
    """What the answer route reads: a choice's id, or the typed text."""

    answer: str


def pending(host: Any, session_id: str, creature: str) -> list[dict[str, Any]]:
    """The requests *creature* waits on, oldest first, as the page shows them."""
    return host.run(_pending, host.studio.sessions, session_id, creature)


def answer(host: Any, session_id: str, creature: str, request_id: str, text: str) -> None:
    """Answer one of *creature*'s pending requests.

    Raises:
        kt.events.UserRequestError: no such request waits, or *text* is not an answer it takes.
    """
    host.run(_answer, host.studio.sessions, session_id, creature, request_id, text)


def shown(request: Any) -> dict[str, Any]:
    """A request as the page shows it (the prompt stays Markdown; the page renders it).

    An approval of ``kt_guard``'s permission gate is a request too: its choices are the
    decisions, its ``body`` the call's arguments.
    """
    return {
        "request_id": request.request_id,
        "kind": request.kind,
        "prompt": request.prompt,
        "choices": [{"id": c.id, "label": c.label or c.id} for c in request.choices],
        "placeholder": getattr(request, "placeholder", ""),
        "body": getattr(request, "body", ""),  # an approval's arguments, as lines of text
    }


def _agent(sessions: Any, session_id: str, creature: str) -> Any:
    # Studio has no public accessor for a creature's agent yet; see the dashboard guide.
    return sessions._handle(session_id, creature).agent


def _pending(sessions: Any, session_id: str, creature: str) -> list[dict[str, Any]]:
    from kt.events import pending_requests

    agent = _agent(sessions, session_id, creature)
    return [shown(r) for r in pending_requests(agent) if r.waits]


async def _answer(
    sessions: Any, session_id: str, creature: str, request_id: str, text: str
) -> None:
    from kt.events import answer_request

    await answer_request(_agent(sessions, session_id, creature), request_id, text, source="web")
