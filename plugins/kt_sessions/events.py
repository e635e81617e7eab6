"""Events the session plugin publishes: attaching a session, and branch changes.

They are ordinary :class:`kt.events.Event` subclasses, so they go through ``kt_event`` and
land in the log like every kernel event, and :func:`kt.events.from_wire` rebuilds them once
this module is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from kt.events import Event

__all__ = ["BranchOpened", "BranchSelected", "SessionAttached"]


@attrs.frozen(kw_only=True)
class BranchOpened(Event):
    """A new branch of user turn ``position`` starts: its history is cut before that turn.

    Published by :func:`kt_sessions.regenerate` and :func:`kt_sessions.edit` just before the
    ``history_replaced`` (reason ``branch``) that removes the turn, and the new turn follows.

    Attributes:
        position: The user turn being redone, counting from 1 along the live branch path.
        reason: ``regenerate`` (same input again) or ``edit`` (new input).
    """

    type: ClassVar[str] = "session_branch_opened"
    position: int = 1
    reason: str = "regenerate"


@attrs.frozen(kw_only=True)
class BranchSelected(Event):
    """The live conversation switched to the branch at ``path``.

    Published by :func:`kt_sessions.select_branch` just before the ``history_replaced``
    (reason ``branch``) that loads that branch's conversation.

    Attributes:
        path: The branch number chosen at each user turn, from the first turn on.
    """

    type: ClassVar[str] = "session_branch_selected"
    path: tuple[int, ...] = ()


@attrs.frozen(kw_only=True)
class SessionAttached(Event):
    """The creature started recording into a session (once per run).

    Published right after ``creature_started``; it puts in the log what is needed to rebuild
    the creature.

    Attributes:
        session: The session's name.
        config: The creature's resolved config (``CreatureConfig``, unstructured).
        source: What ``Agent.build`` was given: a folder or file path, a config dict, or
            ``None`` when it was a ``CreatureConfig`` object (then ``config`` is used).
        pwd: The creature's working directory.
        model: The ``--llm`` selector it ran with (or the class name of an ``llm=`` object).
        resumed_from: The last event of the previous run when this run resumes one; 0 for a
            new session.
        interrupted_calls: Ids of tool calls that were still running when the previous run
            ended; the model sees an "Interrupted" result for each.
        interrupted_jobs: Ids of background jobs that never reported back.
    """

    type: ClassVar[str] = "session_attached"
    session: str = ""
    config: Mapping[str, Any] = attrs.field(factory=dict)
    source: Any = None
    pwd: str = ""
    model: str = ""
    resumed_from: int = 0
    interrupted_calls: tuple[str, ...] = ()
    interrupted_jobs: tuple[str, ...] = ()
