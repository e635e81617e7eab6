"""Branching: regenerate, edit and re-run, switch branches, fork into a new file.

Regenerate and edit never delete anything: the turns they replace stay in the log as another
branch (:class:`~kt_sessions.state.Branch`), listed by :func:`branches` and restored by
:func:`select_branch`. A fork copies the log up to an event into a new file that records its
parent, and the parent records the child.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import kt
from kt_sessions.errors import BranchError, ForkNotStableError, SessionError
from kt_sessions.events import BranchOpened, BranchSelected
from kt_sessions.finder import SUFFIX

__all__ = ["branches", "edit", "fork", "regenerate", "select_branch"]


def _recording(agent: kt.Agent, *, running: bool = True, state: Any = None) -> Any:
    if state is not None:  # the caller read it from where the creature is recorded
        return state
    from kt_sessions.recorder import recorder_of

    recorder = recorder_of(agent)
    state = getattr(recorder, "state", None)
    if state is None or (running and recorder.creature is not agent):
        raise BranchError(
            f"creature '{agent.name}' is not recording a session; build it with "
            "kt.Agent.build(..., session=True) and start it (async with agent)"
        )
    return state


def _idle(agent: kt.Agent, what: str) -> None:
    if getattr(agent, "current_turn", None) is not None:
        raise BranchError(f"cannot {what} while a turn is running; wait for it or interrupt it")


def branches(agent: kt.Agent, *, state: Any = None) -> list[Any]:
    """Every branch of *agent*'s session, by path (see :class:`~kt_sessions.state.Branch`).

    Every function here takes ``state=``: the creature's
    :class:`~kt_sessions.state.CreatureState` when its events are recorded elsewhere than in a
    session of its own (a terrarium's graph session: ``SessionReader(file).state(name)``).
    """
    return _recording(agent, running=False, state=state).branches()


async def regenerate(agent: kt.Agent, *, state: Any = None, **run_options: Any) -> kt.TurnResult:
    """Ask again: run the last user input once more, as a new branch of that turn.

    The previous reply (and everything after the input) stays in the session as the older
    branch. Publishes ``session_branch_opened`` (reason ``regenerate``) and
    ``history_replaced`` (reason ``branch``), then runs the turn.

    Args:
        agent: A running agent built with ``session=``.
        state: Its state, when recorded elsewhere (see :func:`branches`).
        **run_options: Passed to ``agent.run`` (``timeout``, ``max_iterations``).

    Returns:
        The new turn's result.

    Raises:
        BranchError: no session, a turn is running, no turn yet, or the last input was
            compacted away.
    """
    state = _recording(agent, state=state)
    _idle(agent, "regenerate")
    if state.positions == 0:
        raise BranchError("there is no turn to regenerate yet")
    return await _rerun(agent, state, state.positions, None, "regenerate", run_options)


async def edit(
    agent: kt.Agent, text: str | Any, *, turn: int = -1, state: Any = None, **run_options: Any
) -> kt.TurnResult:
    """Replace user turn *turn*'s input with *text* and run from there, as a new branch.

    Args:
        agent: A running agent built with ``session=``.
        text: The new input (a string, or ``kt.ContentPart`` list).
        turn: Which user turn: 1 is the first of the live branch, -1 the last.
        state: Its state, when recorded elsewhere (see :func:`branches`).
        **run_options: Passed to ``agent.run``.

    Returns:
        The new turn's result.

    Raises:
        BranchError: no session, a turn is running, no such turn, or that turn's input was
            compacted or cleared away.
    """
    state = _recording(agent, state=state)
    _idle(agent, "edit")
    count = state.positions
    position = turn if turn > 0 else count + 1 + turn
    if not 1 <= position <= count:
        raise BranchError(f"there is no user turn {turn}; the live branch has {count}")
    return await _rerun(agent, state, position, text, "edit", run_options)


async def _rerun(
    agent: kt.Agent,
    state: Any,
    position: int,
    text: Any,
    reason: str,
    run_options: dict[str, Any],
) -> kt.TurnResult:
    index = state.input_message_index(position)
    if index is None or index >= len(agent.history):
        raise BranchError(
            f"the input of user turn {position} is no longer in the history (compacted or "
            "cleared); choose a later turn"
        )
    content = agent.history[index].content if text is None else text
    await agent.emit(BranchOpened(position=position, reason=reason))
    await agent.replace_history(agent.history[:index], reason="branch")
    return await agent.run(content, **run_options)


async def select_branch(
    agent: kt.Agent, path: tuple[int, ...] | list[int], *, state: Any = None
) -> None:
    """Make branch *path* the live conversation (the next turn continues it).

    Args:
        agent: A running agent built with ``session=``.
        path: A branch path from :func:`branches` (``(1, 2)``: first turn, second
            alternative of the second turn).
        state: Its state, when recorded elsewhere (see :func:`branches`).

    Raises:
        BranchError: no session, a turn is running, or no such branch.
    """
    state = _recording(agent, state=state)
    _idle(agent, "switch branches")
    path = tuple(path)
    messages = state.branch_messages(path)
    if messages is None:
        known = ", ".join(str(b.path) for b in state.branches()) or "none"
        raise BranchError(f"no branch {path}; branches: {known}")
    if tuple(state.path[: len(path)]) == path:
        return  # already live
    await agent.emit(BranchSelected(path=path))
    await agent.replace_history(messages, reason="branch")


def fork(
    session: str | os.PathLike[str],
    at_event_id: int | None = None,
    *,
    name: str | None = None,
    target: str | os.PathLike[str] | None = None,
    session_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Copy a session's log up to an event into a new session file, with parent links.

    The fork is a complete session: resuming it continues from the fork point (a turn the
    fork point cuts is closed as interrupted). The parent gets the child in its ``children``
    meta list, the child its ``parent``.

    Args:
        session: The session file (or name / prefix in *session_dir*).
        at_event_id: The last event to copy (default: the newest).
        name: Suffix of the new name: ``<parent>-<name>`` (default ``fork-<4 hex>``).
        target: The new file (default: beside the parent).
        session_dir: Where names are looked up.

    Returns:
        The new file.

    Raises:
        ForkNotStableError: a tool call was running at the fork point (it started at or
            before it and finished after it, or it is still running in a live session).
        SessionError: the event id is out of range, or *target* exists.
    """
    from peewee import chunked

    from kt_sessions.db import Event
    from kt_sessions.reader import SessionReader
    from kt_sessions.store import SessionStore
    from kt_sessions.wire import row_to_wire

    with SessionReader(session, session_dir=session_dir) as reader:
        parent_path = reader.path
        last = reader.last_event_id()
        at = last if at_event_id is None else at_event_id
        if not 1 <= at <= last:
            raise SessionError(f"event {at_event_id} is not in {reader.name} (events 1-{last})")
        _check_stable(reader, at)
        parent_meta = reader.meta
        child = (
            Path(target)
            if target is not None
            else parent_path.with_name(
                f"{reader.name}-{name or 'fork-' + uuid.uuid4().hex[:4]}{SUFFIX}"
            )
        )
        if child.exists():
            raise SessionError(f"{child} exists already; choose another name or target")
        columns = (
            Event.id,
            Event.creature,
            Event.type,
            Event.turn_index,
            Event.timestamp,
            Event.data,
        )
        query = Event.select(*columns).where(Event.id <= at).order_by(Event.id)
        rows = list(query.tuples().iterator(reader.db))
    parent = {"path": str(parent_path), "session_id": parent_meta.get("session_id"), "event_id": at}
    store = SessionStore.open(
        child,
        meta={
            "config_type": parent_meta.get("config_type", "agent"),
            "creatures": parent_meta.get("creatures", []),
            "parent": parent,
        },
    )
    try:
        with store.db.atomic():
            for chunk in chunked(rows, 150):  # 6 values a row; SQLite takes 999 at least
                Event.insert_many(chunk, fields=columns).execute(store.db)
            for event_id, creature, type_, turn_index, timestamp, data in rows:
                store.derive(row_to_wire(type_, creature, turn_index, timestamp, data), event_id)
        store.set_meta(last_active=time.time())
    except BaseException:
        store.close()
        for leftover in (child, Path(f"{child}-wal"), Path(f"{child}-shm")):
            leftover.unlink(missing_ok=True)
        raise
    store.close()
    _add_child(parent_path, {"path": str(child), "event_id": at, "created_at": time.time()})
    return child


def _check_stable(reader: Any, at: int) -> None:
    running_now = reader.status == "running"
    started: dict[str, int] = {}
    finished: dict[str, int] = {}
    for logged in reader.events(("tool_call_started", "tool_call_completed")):
        call = logged.wire["call_id"]
        if logged.type == "tool_call_started":
            started.setdefault(call, logged.id)
        elif call not in finished:  # a background call's first completion ("running") counts
            finished[call] = logged.id
    for call, began in started.items():
        if began > at:
            continue
        ended = finished.get(call)
        if (ended is not None and ended > at) or (ended is None and running_now):
            stable = [began - 1] + ([ended] if ended is not None else [])
            raise ForkNotStableError(
                f"event {at} splits tool call {call}, which was running from event {began} "
                f"to {ended or 'now'}; fork at event {' or '.join(map(str, stable))} instead"
            )


def _add_child(parent: Path, child: dict[str, Any]) -> None:
    from kt_sessions import db as _db

    db = _db.open_database(parent)
    try:
        with db.atomic():
            _db.set_meta(db, {"children": [*_db.get_meta(db, "children", []), child]})
    finally:
        db.close()
