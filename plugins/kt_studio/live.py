"""``studio.sessions``: live sessions, their creatures, channels and wiring.

A live session is a creature or a terrarium that Studio started in its engine. Studio gives it
an id of its own (``sess_<hex>``) because graph ids change when graphs merge or split; the
session's creatures are, at any moment, those of the graphs its started creatures are in, so
a creature spawned by a terrarium's root belongs to the session too.

Every method here runs on the engine's trio loop (the web layer calls in through the portal).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

import kt
from kt_studio.convert import message_data
from kt_studio.errors import (
    SessionNotFoundError,
    StudioConflictError,
    StudioInputError,
    TriggerNotFoundError,
    TurnFailedError,
)
from kt_studio.values import (
    ChatReply,
    CreatureView,
    ErrorView,
    HistoryView,
    JobView,
    LiveSession,
    TriggerView,
    UsageView,
    WorkingDirView,
)

if TYPE_CHECKING:
    from kt_terrarium import CreatureHandle, Terrarium

__all__ = ["LiveSessions"]

ROOT = "root"  # what a path's creature id may say instead of the root's id
FAILED_STATUSES = frozenset({"error", "timeout"})  # a turn ending so is an HTTP 422


@attrs.define(kw_only=True)
class _Started:
    """What Studio remembers of a session it started; the rest is read from the engine."""

    session_id: str
    kind: str
    name: str
    config_path: str
    root: str
    created_at: float
    creature_ids: list[str]


class LiveSessions:
    """Start, list, drive and stop live sessions (``studio.sessions``).

    Args:
        engine: The running engine.
        resolve_config: Turns a ``config_path`` as users give it (a path, ``@pack/path``)
            into what the engine accepts, resolving relative paths against the Studio's
            working directory.
        stores: The engine's :class:`~kt_studio.stores.StudioStores`, so a stopped
            session's files stay resumable (``None``: the engine records removals as edits).
    """

    def __init__(self, engine: Terrarium, resolve_config: Any, stores: Any = None) -> None:
        self._engine = engine
        self._resolve_config = resolve_config
        self._stores = stores
        self._branch_records: dict[str, _BranchRecord] = {}  # creature id -> last read
        self._sessions: dict[str, _Started] = {}

    # -- starting and stopping --------------------------------------------------------------

    async def start_creature(
        self,
        config_path: str,
        *,
        llm: str | None = None,
        pwd: str | None = None,
        name: str | None = None,
        on_node: str | None = None,
        session_dir: str | os.PathLike[str] | None = None,
    ) -> LiveSession:
        """Start one creature as a session of its own.

        Args:
            config_path: A creature folder or file, or ``@pack/path``.
            llm: A model selector (``BACKEND/MODEL``, a preset, ``scripted:FILE``); default:
                the config's (or the Studio's model).
            pwd: The creature's working directory (default: the Studio's).
            name: Its id and the session's display name (default: the config's name).
            on_node: The Lab node to run it on (a name, ``labels:a,b`` or ``*``), as its
                config's ``on_node`` would; needs an engine with a transport (a lab host).
            session_dir: Record it in this folder (default: the Studio's).

        Returns:
            The new session.

        Raises:
            StudioInputError: *config_path* is empty or *pwd* is not a folder.
            ConfigError: the config is missing or invalid.
            CreatureExistsError: *name* is taken.
        """
        config = self._config(config_path)
        workdir = _workdir(pwd)
        handle = await self._engine.add_creature(
            config,
            name=name,
            llm_selector=llm,
            pwd=workdir,
            session=_record_in(session_dir),
            node=on_node,
        )
        return self._remember("creature", name or handle.id, config_path, handle.id, [handle.id])

    async def start_terrarium(
        self,
        config_path: str,
        *,
        llm: str | None = None,
        pwd: str | None = None,
        name: str | None = None,
        session_dir: str | os.PathLike[str] | None = None,
    ) -> LiveSession:
        """Start a terrarium recipe as one session.

        Args:
            config_path: A recipe folder or file, or ``@pack/path``.
            llm: A model selector for every creature of the recipe.
            pwd: The creatures' working directory (default: the Studio's).
            name: The session's display name (default: the recipe's name).
            session_dir: Record it in this folder (default: the Studio's).

        Returns:
            The new session; ``root`` is the recipe's root (or its first creature).

        Raises:
            StudioInputError: *config_path* is empty or *pwd* is not a folder.
            ConfigError: the recipe or one of its creatures is invalid.
            CreatureExistsError: a creature id of the recipe is taken in this engine.
        """
        recipe = self._config(config_path)
        applied = await self._engine.apply_recipe(
            recipe, llm_selector=llm, pwd=_workdir(pwd), session=_record_in(session_dir)
        )
        ids = list(applied.creature_ids)
        root = applied.root or ids[0]
        return self._remember("terrarium", name or applied.name, config_path, root, ids)

    async def add_creature(
        self,
        session_id: str,
        config_path: str,
        *,
        llm: str | None = None,
        pwd: str | None = None,
        name: str | None = None,
    ) -> CreatureView:
        """Add a creature to a session's root graph, as a child of its root.

        Raises:
            StudioInputError: *config_path* is empty or *pwd* is not a folder.
            ConfigError: the config is missing or invalid.
            CreatureExistsError: *name* is taken.
        """
        started = self._started(session_id)
        root = self._handle(session_id, ROOT).id
        handle = await self._engine.add_creature(
            self._config(config_path), name=name, llm_selector=llm, pwd=_workdir(pwd), parent=root
        )
        started.creature_ids.append(handle.id)
        return self._creature_view(handle.id, started.root)

    async def remove_creature(self, session_id: str, creature: str) -> Any:
        """Stop a creature of a session and take it out of the engine (not the root).

        Returns:
            The ``kt_terrarium.GraphChange`` (``split`` when the graph fell apart).

        Raises:
            StudioConflictError: it is the session's root (stop the session instead).
        """
        started = self._started(session_id)
        creature_id = self._handle(session_id, creature).id
        if creature_id == started.root:
            raise StudioConflictError(
                "that is the session's root; stop the session (DELETE /api/sessions/active/ID)"
            )
        change = await self._engine.remove_creature(creature_id)
        if creature_id in started.creature_ids:
            started.creature_ids.remove(creature_id)
        self._branch_records.pop(creature_id, None)
        return change

    def adopt(self, kind: str, name: str, config_path: str, creature_ids: list[str]) -> LiveSession:
        """Track creatures that are already in the engine (a resumed session) as a session.

        Args:
            kind: ``creature`` or ``terrarium``.
            name: The display name.
            config_path: Where it came from (the session file, for a resumed one).
            creature_ids: Its creatures; the first is ``root`` unless one is privileged.

        Returns:
            The session.
        """
        if not creature_ids:
            raise StudioConflictError(
                f"'{config_path}' recorded no creature to bring back; start it again instead"
            )
        root = next((c for c in creature_ids if self._engine.is_privileged(c)), creature_ids[0])
        return self._remember(kind, name, config_path, root, list(creature_ids))

    def _remember(
        self, kind: str, name: str, config_path: str, root: str, ids: list[str]
    ) -> LiveSession:
        started = _Started(
            session_id=f"sess_{secrets.token_hex(6)}",
            kind=kind,
            name=name,
            config_path=config_path,
            root=root,
            created_at=time.time(),
            creature_ids=ids,
        )
        self._sessions[started.session_id] = started
        return self._view(started)

    async def stop(self, session_id: str) -> None:
        """Stop every creature of a session and forget it; its session files stay resumable.

        The creatures stop first (a running turn ends ``cancelled``, and that is recorded),
        then the files of the session's graphs are sealed as they stand, then the creatures
        leave the engine: resuming a file brings every creature back (see
        :mod:`kt_studio.stores`).

        Raises:
            SessionNotFoundError: no such live session.
        """
        import trio

        engine = self._engine
        members = self._members(self._started(session_id))
        graph_sessions = {engine.graph(engine.graph_of(c)).session_id for c in members}
        async with trio.open_nursery() as nursery:
            for creature_id in members:
                nursery.start_soon(engine.stop_creature, creature_id)
        sealing = self._stores.sealing(graph_sessions) if self._stores else contextlib.nullcontext()
        with sealing:
            for creature_id in members:
                if creature_id in engine:
                    await engine.remove_creature(creature_id)
                self._branch_records.pop(creature_id, None)
        self._sessions.pop(session_id, None)

    async def stop_all(self) -> list[LiveSession]:
        """Stop every session (server shutdown); returns what was live, for resuming later."""
        views = [self._view(s) for s in list(self._sessions.values())]
        for view in views:
            await self.stop(view.session_id)
        return views

    # -- reading -----------------------------------------------------------------------------

    def list(self) -> list[LiveSession]:
        """Every live session, oldest first."""
        return [self._view(s) for s in sorted(self._sessions.values(), key=lambda s: s.created_at)]

    def get(self, session_id: str) -> LiveSession:
        """One live session.

        Raises:
            SessionNotFoundError: no such live session.
        """
        return self._view(self._started(session_id))

    def session_of(self, creature_id: str) -> str | None:
        """The live session a creature belongs to, if any."""
        for started in self._sessions.values():
            if creature_id in self._members(started):
                return started.session_id
        return None

    def creature_id(self, session_id: str, creature: str) -> str:
        """Resolve a creature reference of a session: its id, its name, or ``root``.

        Raises:
            SessionNotFoundError: no such live session.
            CreatureNotFoundError: the session has no such creature.
        """
        return self._handle(session_id, creature).id

    def _started(self, session_id: str) -> _Started:
        started = self._sessions.get(session_id)
        if started is None:
            known = ", ".join(sorted(self._sessions)) or "none"
            raise SessionNotFoundError(
                f"no live session '{session_id}' (live: {known}); list them with "
                "GET /api/sessions/active or start one"
            )
        return started

    def _members(self, started: _Started) -> list[str]:
        """The creatures of the graphs the session's creatures are in, in a stable order."""
        engine = self._engine
        graphs = {engine.graph_of(c) for c in started.creature_ids if c in engine}
        members = [c for c in started.creature_ids if c in engine]
        for graph_id in sorted(graphs):
            members += [c for c in engine.graph(graph_id).creature_ids if c not in members]
        return members

    def _handle(self, session_id: str, creature: str) -> CreatureHandle:
        from kt_terrarium import CreatureNotFoundError

        started = self._started(session_id)
        members = self._members(started)
        wanted = started.root if creature == ROOT else creature
        if wanted in members:
            return self._engine[wanted]
        for creature_id in members:  # by display name
            if self._engine[creature_id].name == wanted:
                return self._engine[creature_id]
        raise CreatureNotFoundError(
            f"session '{session_id}' has no creature '{creature}'; its creatures: "
            f"{', '.join(members) or 'none'} (or 'root')"
        )

    def _view(self, started: _Started) -> LiveSession:
        engine = self._engine
        members = self._members(started)
        graph_ids = sorted({engine.graph_of(c) for c in members})
        graphs = [engine.graph(g) for g in graph_ids]
        return LiveSession(
            session_id=started.session_id,
            kind=started.kind,
            name=started.name,
            config_path=started.config_path,
            root=started.root,
            created_at=started.created_at,
            creatures=tuple(self._creature_view(c, started.root) for c in members),
            graph_ids=tuple(graph_ids),
            channels=tuple(sorted({ch.name for g in graphs for ch in g.channels})),
            store_paths=tuple(str(g.store_path) for g in graphs if g.store_path is not None),
        )

    def _creature_view(self, creature_id: str, root: str) -> CreatureView:
        status = self._engine.status(creature_id)
        return CreatureView(
            id=status["id"],
            graph_id=status["graph_id"],
            state=status["state"],
            running=status["running"],
            busy=status["busy"],
            model=status["model"],
            pwd=status["pwd"],
            turn_index=status["turn_index"],
            privileged=status["privileged"],
            is_root=creature_id == root,
            listen=tuple(status["listen"]),
            send=tuple(status["send"]),
            tools=tuple(status["tools"]),
            context_window=self._context_window(creature_id),
        )

    def _context_window(self, creature_id: str) -> int | None:
        handle = self._engine[creature_id]
        if handle.transport is not None or handle.state not in ("running", "built", "starting"):
            return None  # hosted elsewhere, or no model yet
        window = getattr(handle.agent.llm, "context_window", None)
        return window if isinstance(window, int) else None

    def _config(self, config_path: str) -> Any:
        if not isinstance(config_path, str) or not config_path.strip():
            raise StudioInputError(
                "give a creature or terrarium folder, file, or @pack/path", field="config_path"
            )
        return self._resolve_config(config_path)

    # -- driving a creature -----------------------------------------------------------------

    def creature(self, session_id: str, creature: str) -> CreatureView:
        """One creature of a session.

        Raises:
            SessionNotFoundError: no such live session.
            CreatureNotFoundError: no such creature in it.
        """
        started = self._started(session_id)
        return self._creature_view(self._handle(session_id, creature).id, started.root)

    async def chat(
        self, session_id: str, creature: str, message: str, *, timeout: float | None = None
    ) -> ChatReply:
        """Run one turn of a creature with *message* and return its reply.

        The turn is queued behind any turn the creature is running (one turn at a time).

        Args:
            session_id: The live session.
            creature: Its creature: id, name or ``root``.
            message: The user message.
            timeout: Seconds before the turn ends with status ``timeout``.

        Returns:
            The reply; status ``completed``, ``interrupted``, ``cancelled`` ...

        Raises:
            StudioInputError: *message* is empty or not text.
            TurnFailedError: the turn ended in ``error`` or ``timeout`` (the reply is on it).

        Cancellation: cancelling the call cancels the turn (it ends ``cancelled``).
        """
        if not isinstance(message, str) or not message.strip():
            raise StudioInputError("give the user message as non-empty text", field="message")
        handle = self._handle(session_id, creature)
        result = await handle.run(message, timeout=timeout)
        return _reply(result)

    def send_input(self, session_id: str, creature: str, message: str) -> str:
        """Queue a turn for a creature without waiting for it (what chat sockets do).

        Closing the caller (a socket) never cancels the turn: nothing awaits it.

        Returns:
            The creature's id.

        Raises:
            StudioInputError: *message* is empty or not text.
        """
        if not isinstance(message, str) or not message.strip():
            raise StudioInputError("give the user message as non-empty text", field="content")
        handle = self._handle(session_id, creature)
        handle.inject(message, source="user")
        return handle.id

    def stream(self, session_id: str, creature: str, message: str) -> Any:
        """Run one turn and stream its events (``Agent.run_stream``: closing it cancels the turn).

        Raises:
            StudioInputError: *message* is empty or not text.
        """
        if not isinstance(message, str) or not message.strip():
            raise StudioInputError("give the user message as non-empty text", field="message")
        return self._handle(session_id, creature).run_stream(message)

    def interrupt(self, session_id: str, creature: str) -> bool:
        """Interrupt the creature's running turn; ``False`` when it was idle."""
        handle = self._handle(session_id, creature)
        busy = bool(handle.status()["busy"])
        handle.interrupt()
        return busy

    def is_busy(self, creature_id: str) -> bool:
        """Whether a creature runs a turn or has one queued (``False`` when it is gone)."""
        if creature_id not in self._engine:
            return False
        return bool(self._engine.status(creature_id)["busy"])

    async def history(self, session_id: str, creature: str) -> HistoryView:
        """The creature's conversation and the branches its session recorded."""
        handle = self._handle(session_id, creature)
        remote = handle.transport is not None  # hosted elsewhere: the history comes over the link
        state = None if remote else await self._branch_state(handle)
        branches = () if state is None else tuple(attrs.asdict(b) for b in state.branches())
        return HistoryView(
            creature=handle.id,
            messages=tuple(message_data(m) for m in handle.body.history),
            branches=branches,
        )

    async def regenerate(self, session_id: str, creature: str) -> ChatReply:
        """Run the last user input again; the old reply stays in the session as a branch.

        Works for a creature with a session of its own and for one recorded in its graph's
        session (every creature Studio starts), through ``kt_sessions.regenerate``. An input
        with no record (a creature nothing records) has no branch to keep: the history is
        rewound to before it (a ``history_replaced`` event) and it runs again.

        Raises:
            StudioConflictError: a turn is running.
            StudioInputError: there is no user message yet.
            TurnFailedError: the new turn failed.
        """
        handle = self._idle_handle(session_id, creature)
        agent = handle.agent
        users = [i for i, m in enumerate(agent.history) if m.role == "user"]
        if not users:
            raise StudioInputError("the creature has no user message to run again", field="cid")
        return await self._rerun(handle, users[-1], None)

    async def edit(self, session_id: str, creature: str, index: int, content: str) -> ChatReply:
        """Replace the user message at history *index* with *content* and run from there.

        The old turn stays as a branch (see :meth:`regenerate`, which also says when the
        history is rewound instead).

        Args:
            session_id: The live session.
            creature: Its creature.
            index: The message's position in :meth:`history` (must be a user message).
            content: The new text.

        Raises:
            StudioInputError: *index* is not a user message of the history.
            StudioConflictError: a turn is running.
            TurnFailedError: the new turn failed.
        """
        if not isinstance(content, str) or not content.strip():
            raise StudioInputError("give the new message as non-empty text", field="content")
        handle = self._idle_handle(session_id, creature)
        history = handle.agent.history
        if not 0 <= index < len(history) or history[index].role != "user":
            users = [i for i, m in enumerate(history) if m.role == "user"]
            raise StudioInputError(
                f"message {index} is not a user message; user messages are at {users}",
                field="idx",
            )
        return await self._rerun(handle, index, content)

    async def select_branch(
        self, session_id: str, creature: str, path: tuple[int, ...]
    ) -> HistoryView:
        """Make branch *path* (from :meth:`history`'s ``branches``) the live conversation.

        Raises:
            StudioConflictError: a turn is running, or nothing records the creature's branches.
            StudioInputError: there is no such branch.
        """
        import kt_sessions

        handle = self._idle_handle(session_id, creature)
        state = await self._branch_state(handle)
        if state is None:
            raise StudioConflictError("nothing records this creature's branches")
        try:
            await kt_sessions.select_branch(handle.agent, tuple(path), state=state)
        except kt_sessions.BranchError as exc:
            raise StudioInputError(str(exc), field="path") from None
        return await self.history(session_id, creature)

    async def _rerun(self, handle: CreatureHandle, index: int, content: str | None) -> ChatReply:
        """Run the user message at *index* again (with *content*, if given), as a new branch."""
        import kt_sessions

        agent = handle.agent
        state = await self._branch_state(handle)
        position = None if state is None else _position_of(state, index, len(agent.history))
        text = agent.history[index].content if content is None else content
        if position is not None and content is None and position == state.positions:
            return _reply(await kt_sessions.regenerate(agent, state=state))
        if position is not None:
            return _reply(await kt_sessions.edit(agent, text, turn=position, state=state))
        reason = "regenerate" if content is None else "edit"
        await agent.replace_history(agent.history[:index], reason=reason)
        return _reply(await handle.run(text))

    async def _branch_state(self, handle: CreatureHandle) -> Any:
        """The creature's branch bookkeeping (``kt_sessions`` ``CreatureState``), or ``None``.

        A creature with a session of its own keeps it in memory; one recorded in its graph's
        session file has it read from there, in a worker thread (SQLite never runs on the
        engine's loop).
        """
        import trio

        import kt_sessions

        recorder = kt_sessions.recorder_of(handle.agent)
        if getattr(recorder, "creature", None) is handle.agent and recorder.state is not None:
            return recorder.state
        store = self._engine.graph(self._engine.graph_of(handle.id)).store_path
        if store is None:
            return None
        known = self._branch_records.get(handle.id)
        record = await trio.to_thread.run_sync(_read_state, store, handle.id, known)
        self._branch_records[handle.id] = record
        return record.state

    async def rewind(self, session_id: str, creature: str, index: int) -> HistoryView:
        """Drop the history from message *index* on (a ``history_replaced`` event).

        Raises:
            StudioInputError: *index* is outside the history.
            StudioConflictError: a turn is running.
        """
        agent = self._idle_handle(session_id, creature).agent
        if not 0 <= index < len(agent.history):
            raise StudioInputError(
                f"the history has messages 0 to {len(agent.history) - 1}", field="idx"
            )
        await agent.replace_history(agent.history[:index], reason="rewind")
        return await self.history(session_id, creature)

    def _idle_handle(self, session_id: str, creature: str) -> CreatureHandle:
        handle = self._handle(session_id, creature)
        if handle.agent.current_turn is not None or handle.status()["busy"]:
            raise StudioConflictError(
                f"creature '{handle.id}' is running a turn; interrupt it or wait for it"
            )
        return handle

    def jobs(self, session_id: str, creature: str) -> list[JobView]:
        """The creature's background jobs (running and finished)."""
        agent = self._handle(session_id, creature).agent
        return [
            JobView(
                id=job.id,
                kind=job.kind,
                name=job.name,
                status=job.status,
                started_at=job.started_at,
                ended_at=job.ended_at,
                error=job.error,
            )
            for job in agent.jobs.values()
        ]

    def cancel_job(self, session_id: str, creature: str, job_id: str) -> bool:
        """Cancel one job; ``False`` when it already ended.

        Raises:
            StudioInputError: no job by that id.
        """
        agent = self._handle(session_id, creature).agent
        if job_id not in agent.jobs:
            raise StudioInputError(
                f"no job '{job_id}'; jobs: {', '.join(agent.jobs) or 'none'}", field="job_id"
            )
        return agent.cancel_job(job_id)

    async def set_model(self, session_id: str, creature: str, model: str) -> CreatureView:
        """Switch the creature's model for the rest of the session.

        Args:
            session_id: The live session.
            creature: Its creature.
            model: A selector (``BACKEND/MODEL``, a preset, ``scripted:FILE``).

        Raises:
            StudioInputError: *model* is empty.
            StudioConflictError: a turn is running.
            ConfigError / LLMNotConfiguredError: the selector names nothing usable.
        """
        import kt

        if not isinstance(model, str) or not model.strip():
            raise StudioInputError("give a model selector such as openai/gpt-4o", field="model")
        handle = self._handle(session_id, creature)
        agent = handle.agent
        if agent.current_turn is not None:
            raise StudioConflictError(
                f"creature '{handle.id}' is running a turn; interrupt it or wait, then switch"
            )
        probe = await kt.Agent.build(
            agent.config,
            kernel=agent.kernel,
            llm_selector=model,
            pwd=agent.working_dir,
            output=None,
        )
        agent.set_llm(probe.llm, name=probe.llm_name)
        return self.creature(session_id, handle.id)

    def scratchpad(self, session_id: str, creature: str) -> dict[str, str]:
        """The creature's scratchpad (a copy)."""
        from kt_tools import scratchpad_of

        return dict(scratchpad_of(self._handle(session_id, creature).agent))

    async def patch_scratchpad(
        self, session_id: str, creature: str, changes: Mapping[str, str | None]
    ) -> dict[str, str]:
        """Set keys (a string value) and delete keys (``None``) of the scratchpad.

        Changes are published as ``scratchpad_write`` events, so a recorded session keeps
        them and a resume restores them.

        Raises:
            StudioInputError: a value is neither text nor ``None``.
        """
        from kt_tools import ScratchpadWritten

        agent = self._handle(session_id, creature).agent
        for key, value in changes.items():
            if value is not None and not isinstance(value, str):
                raise StudioInputError("values are text, or null to delete", field=str(key))
        for key, value in changes.items():
            if value is None:
                await agent.emit(ScratchpadWritten(action="delete", key=str(key)))
            else:
                await agent.emit(ScratchpadWritten(action="set", key=str(key), value=value))
        return self.scratchpad(session_id, creature)

    def system_prompt(self, session_id: str, creature: str) -> str:
        """The creature's assembled system prompt."""
        return self._handle(session_id, creature).agent.system_prompt

    def triggers(self, session_id: str, creature: str) -> list[TriggerView]:
        """The creature's triggers (from its config and added since), oldest first."""
        agent = self._handle(session_id, creature).agent
        return [_trigger_view(job) for job in agent.jobs.values() if job.kind == "trigger"]

    async def add_trigger(
        self, session_id: str, creature: str, kind: str, options: Mapping[str, Any]
    ) -> TriggerView:
        """Start a trigger on a running creature, as its trigger tools would.

        It is recorded (``trigger_added``) like one a model set up.

        Args:
            session_id: The live session.
            creature: Its creature.
            kind: ``timer``, ``schedule`` or ``channel``.
            options: The arguments of the matching tool (``add_timer``, ``add_schedule``,
                ``watch_channel``): ``{interval, prompt, immediate?, max_fires?, name?}``,
                ``{prompt, cron | every_minutes | daily_at | hourly_at, timezone?, name?}``,
                ``{channel_name, prompt?, filter_sender?, name?}``.

        Raises:
            StudioInputError: an unknown *kind*, or options its tool refuses (named).
            StudioConflictError: a running trigger or job has that ``name``.
        """
        from kt.errors import ToolArgumentError
        from kt.tools import validate_arguments
        from kt_triggers import TriggerConfigError
        from kt_triggers.persistence import TriggerAdded, recorded
        from kt_triggers.tools import build_trigger

        tool = TRIGGER_TOOLS.get(kind)
        if tool is None:
            raise StudioInputError(f"one of {', '.join(TRIGGER_TOOLS)}", field="type")
        agent = self._handle(session_id, creature).agent
        try:
            args = validate_arguments(agent.kernel.tools[tool].parameters, dict(options))
            trigger = build_trigger(tool, args, agent)
        except ToolArgumentError as error:
            raise StudioInputError(str(error).replace("\n", "; "), field="options") from None
        except TriggerConfigError as error:
            raise StudioInputError(error.detail, field=error.option or "options") from None
        try:
            job = await agent.add_trigger(recorded(trigger))
        except ValueError:
            subscription = getattr(trigger, "subscription", None)
            if subscription is not None:
                await subscription.aclose()
            raise StudioConflictError(
                f"a trigger or job named '{trigger.id}' is running; choose another name or "
                "remove that one first"
            ) from None
        data = {"tool": tool, "args": {**args, "name": trigger.id}}
        await agent.emit(TriggerAdded(trigger_id=trigger.id, trigger_type=trigger.name, data=data))
        return _trigger_view(job)

    async def remove_trigger(self, session_id: str, creature: str, trigger_id: str) -> bool:
        """Stop a trigger for good (recorded as ``trigger_removed``).

        Returns:
            ``False`` when it had ended already.

        Raises:
            TriggerNotFoundError: the creature has no trigger by that id.
        """
        import trio

        agent = self._handle(session_id, creature).agent
        job = agent.jobs.get(trigger_id)
        if job is None or job.kind != "trigger":
            known = [j.id for j in agent.jobs.values() if j.kind == "trigger"]
            raise TriggerNotFoundError(
                f"creature '{agent.name}' has no trigger '{trigger_id}'; its triggers: "
                f"{', '.join(known) or 'none'}"
            )
        cancelled = agent.cancel_job(trigger_id)
        # Jobs have no end event: look at it between scheduler rounds until it has ended
        # (its trigger_removed is recorded by then), so a listing right after shows it ended.
        with trio.move_on_after(5):
            while job.ended_at is None:
                await trio.sleep(0.005)
        return cancelled

    def working_dir(self, session_id: str, creature: str) -> WorkingDirView:
        """The creature's working directory and the folder it may move within."""
        agent = self._handle(session_id, creature).agent
        return WorkingDirView(pwd=str(agent.working_dir), root=str(_start_dir(agent)))

    def set_working_dir(self, session_id: str, creature: str, path: str) -> WorkingDirView:
        """Move the creature's working directory (relative paths: from the current one).

        The new folder must be inside the folder the creature started in (symbolic links
        resolved): file tools and their path guard measure "inside" from the working
        directory, so moving it out would widen what the creature may touch. To work
        elsewhere, start a session there.

        Raises:
            StudioInputError: *path* is empty, not a folder, or outside the start folder.
            StudioConflictError: a turn is running (its tools would see two directories).
        """
        if not isinstance(path, str) or not path.strip():
            raise StudioInputError("give a folder", field="path")
        agent = self._idle_handle(session_id, creature).agent
        root = _start_dir(agent)
        try:
            target = (agent.working_dir / os.path.expanduser(path)).resolve()
            is_folder = target.is_dir()
        except (OSError, ValueError):  # a NUL byte, a name too long, a link loop
            is_folder = False
        if not is_folder:
            raise StudioInputError(f"{path!r} is not a folder; give an existing one", field="path")
        if not target.is_relative_to(root):
            raise StudioInputError(
                f"'{target}' is outside {root}, where the creature started; its working "
                "directory stays inside that folder (start a session elsewhere to work there)",
                field="path",
            )
        agent.working_dir = target
        return WorkingDirView(pwd=str(target), root=str(root))

    # -- topology ----------------------------------------------------------------------------

    def channels(self, session_id: str) -> list[Any]:
        """The channels of the session's graphs (``kt_terrarium.ChannelInfo`` values)."""
        graph_ids = set(self.get(session_id).graph_ids)
        return [c for c in self._engine.channels if c.graph_id in graph_ids]

    async def add_channel(
        self, session_id: str, name: str, *, kind: str = "broadcast", description: str = ""
    ) -> Any:
        """Create a channel in the session's (root's) graph.

        Raises:
            StudioInputError: *name* is empty or *kind* unknown.
            ChannelExistsError: the graph has a channel of that name.
        """
        if not isinstance(name, str) or not name.strip():
            raise StudioInputError("give the channel a name", field="name")
        if kind not in ("broadcast", "queue"):
            raise StudioInputError("kind is 'broadcast' or 'queue'", field="kind")
        root = self._handle(session_id, ROOT).id
        return await self._engine.add_channel(
            name, creature=root, kind=kind, description=description
        )

    async def remove_channel(self, session_id: str, name: str) -> Any:
        """Remove a channel of the session; its listen and send edges go with it.

        Returns:
            The ``kt_terrarium.GraphChange`` (``split`` when the graph fell apart).

        Raises:
            ChannelNotFoundError: the session has no such channel.
        """
        found = self._channel(session_id, name)
        return await self._engine.remove_channel(name, graph=found.graph_id)

    def _channel(self, session_id: str, name: str) -> Any:
        from kt_terrarium import ChannelNotFoundError

        channels = self.channels(session_id)
        for channel in channels:
            if channel.name == name:
                return channel
        raise ChannelNotFoundError(
            f"session '{session_id}' has no channel '{name}'; its channels: "
            f"{', '.join(c.name for c in channels) or 'none'}"
        )

    async def send(
        self, session_id: str, channel: str, content: str, *, sender: str = "human"
    ) -> Any:
        """Send a message on a channel of the session (as *sender*, by default ``human``).

        Raises:
            StudioInputError: *content* is empty.
            ChannelNotFoundError: the session has no such channel.
        """
        if not isinstance(content, str) or not content:
            raise StudioInputError("give the message text", field="content")
        found = self._channel(session_id, channel)
        return await self._engine.send(channel, content, graph=found.graph_id, sender=sender)

    async def connect(
        self, session_id: str, sender: str, receiver: str, *, channel: str | None = None
    ) -> Any:
        """Let *sender* send to *receiver* over a channel (created when missing).

        Returns:
            The ``kt_terrarium.GraphChange``.
        """
        source = self._handle(session_id, sender).id
        target = self._handle(session_id, receiver).id
        return await self._engine.connect(source, target, channel=channel)

    async def disconnect(
        self, session_id: str, sender: str, receiver: str, *, channel: str | None = None
    ) -> Any:
        """Remove the sender → receiver edges (on *channel*, or every shared channel)."""
        source = self._handle(session_id, sender).id
        target = self._handle(session_id, receiver).id
        return await self._engine.disconnect(source, target, channel=channel)

    async def wire(self, session_id: str, source: str, target: str, **options: Any) -> Any:
        """Add an output wire from *source* to *target* (``Terrarium.wire`` options)."""
        src = self._handle(session_id, source).id
        dst = self._handle(session_id, target).id
        return await self._engine.wire(src, dst, **options)

    async def unwire(self, session_id: str, source: str, wire: str) -> list[Any]:
        """Remove *source*'s output wire(s) matching *wire* (an edge id or a target)."""
        return await self._engine.unwire(self._handle(session_id, source).id, wire)

    def channel_history(self, session_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The latest messages of every channel of the session's root graph, oldest first.

        Each is ``{channel, message_id, sender, content}`` (content cut to 300 characters, as
        the graph tools show it).
        """
        root = self._handle(session_id, ROOT).id
        snapshot = self._engine.group_snapshot(root, history=limit)
        return [
            {"channel": channel["name"], **entry}
            for channel in snapshot["channels"]
            for entry in channel.get("history", [])
        ]

    def graph(self) -> list[Mapping[str, Any]]:
        """Every live graph with its creatures, channels and wires, and its session, if any."""
        engine = self._engine
        graphs = []
        for info in engine.graphs():
            session_id = next(
                (s for c in info.creature_ids if (s := self.session_of(c)) is not None), None
            )
            graphs.append(
                {
                    "graph_id": info.graph_id,
                    "session_id": session_id,
                    "name": info.name,
                    "creatures": [engine.status(c) for c in info.creature_ids],
                    "channels": [attrs.asdict(c) for c in info.channels],
                    "edges": [w.as_dict() for w in info.wires],
                    "store_path": str(info.store_path) if info.store_path else None,
                }
            )
        return graphs


TRIGGER_TOOLS = {"timer": "add_timer", "schedule": "add_schedule", "channel": "watch_channel"}
"""Trigger types Studio adds to a running creature, and the tool whose arguments each takes."""

_START_DIR: kt.StashKey[Path] = kt.StashKey()


def _start_dir(agent: Any) -> Path:
    """The folder *agent* started in (kept in its stash the first time it is asked)."""
    if _START_DIR not in agent.stash:
        agent.stash[_START_DIR] = Path(agent.working_dir).resolve()
    return agent.stash[_START_DIR]


def _trigger_view(job: Any) -> TriggerView:
    return TriggerView(
        trigger_id=job.id,
        trigger_type=job.name,
        running=job.status == "running",
        created_at=job.started_at,
        status=job.status,
        error=job.error,
    )


def _record_in(session_dir: str | os.PathLike[str] | None) -> Any:
    """The engine's ``session=`` for a folder: ``None`` keeps the engine's own folder."""
    if session_dir is None:
        return None
    folder = os.path.expanduser(os.fspath(session_dir))
    os.makedirs(folder, exist_ok=True)
    return folder


@attrs.frozen
class _BranchRecord:
    """A creature's ``CreatureState`` as replayed from a graph file up to its newest event."""

    store: Path
    last_event_id: int
    state: Any


def _read_state(store: Path, creature_id: str, known: _BranchRecord | None) -> _BranchRecord:
    """The creature's state from a (live) graph session file; *known* if nothing was added.

    Replaying a long session takes a while (every turn's events), so the last replay is kept
    and used again while the file has no newer event.
    """
    import kt_sessions

    with kt_sessions.SessionReader(store) as reader:
        last = reader.last_event_id()
        if known is not None and known.store == store and known.last_event_id == last:
            return known
        state = reader.state(creature_id) if creature_id in reader.creatures else None
        return _BranchRecord(store=store, last_event_id=last, state=state)


def _position_of(state: Any, index: int, length: int) -> int | None:
    """The user turn (branch position) whose input is history message *index*, if recorded.

    ``None`` when the state does not describe the live history (it has another length, or
    no turn starts at *index*): then there is no branch to keep.
    """
    if len(state.messages) != length:
        return None
    for position in range(1, state.positions + 1):
        if state.input_message_index(position) == index:
            return position
    return None


def _workdir(pwd: str | None) -> str | None:
    if pwd is None:
        return None
    if not isinstance(pwd, str) or not os.path.isdir(os.path.expanduser(pwd)):
        raise StudioInputError(f"'{pwd}' is not a folder; give an existing one", field="pwd")
    return os.path.expanduser(pwd)


def _reply(result: Any) -> ChatReply:
    """A turn's result as a reply; a failed turn raises with the reply attached."""
    usage = result.usage
    error = None
    if result.error is not None:
        error = ErrorView(type=type(result.error).__name__, message=str(result.error))
    reply = ChatReply(
        response=result.text,
        status=result.status,
        usage=UsageView(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        ),
        turn_index=result.turn_index,
        tool_calls=tuple(call.name for call in result.tool_calls),
        error=error,
    )
    if result.status in FAILED_STATUSES:
        kind = error.type if error is not None else "TurnError"
        detail = error.message if error is not None else result.reason or result.status
        raise TurnFailedError(
            f"the turn ended with status '{result.status}': {detail}", reply=reply, error_type=kind
        )
    return reply
