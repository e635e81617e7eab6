"""``studio.sessions``: live sessions, their creatures, channels and wiring.

A live session is a creature or a terrarium that Studio started in its engine. Studio gives it
an id of its own (``sess_<hex>``) because graph ids change when graphs merge or split; the
session's creatures are, at any moment, those of the graphs its started creatures are in, so
a creature spawned by a terrarium's root belongs to the session too.

Every method here runs on the engine's trio loop (the web layer calls in through the portal).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kt_studio.convert import message_data
from kt_studio.errors import (
    SessionNotFoundError,
    StudioConflictError,
    StudioInputError,
    TurnFailedError,
)
from kt_studio.values import (
    ChatReply,
    CreatureView,
    ErrorView,
    HistoryView,
    JobView,
    LiveSession,
    UsageView,
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
    """

    def __init__(self, engine: Terrarium, resolve_config: Any) -> None:
        self._engine = engine
        self._resolve_config = resolve_config
        self._sessions: dict[str, _Started] = {}

    # -- starting and stopping --------------------------------------------------------------

    async def start_creature(
        self,
        config_path: str,
        *,
        llm: str | None = None,
        pwd: str | None = None,
        name: str | None = None,
        session_dir: str | os.PathLike[str] | None = None,
    ) -> LiveSession:
        """Start one creature as a session of its own.

        Args:
            config_path: A creature folder or file, or ``@pack/path``.
            llm: A model selector (``BACKEND/MODEL``, a preset, ``scripted:FILE``); default:
                the config's (or the Studio's model).
            pwd: The creature's working directory (default: the Studio's).
            name: Its id and the session's display name (default: the config's name).
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
            config, name=name, llm_selector=llm, pwd=workdir, session=_record_in(session_dir)
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
        """Stop every creature of a session and forget it; its session files stay.

        Raises:
            SessionNotFoundError: no such live session.
        """
        started = self._started(session_id)
        for creature_id in self._members(started):
            if creature_id in self._engine:
                await self._engine.remove_creature(creature_id)
        del self._sessions[session_id]

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
        )

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

    def history(self, session_id: str, creature: str) -> HistoryView:
        """The creature's conversation and, when it records branches, its session branches."""
        agent = self._handle(session_id, creature).agent
        branches: tuple[Mapping[str, Any], ...] = ()
        if _branching(agent):
            import kt_sessions

            branches = tuple(attrs.asdict(b) for b in kt_sessions.branches(agent))
        return HistoryView(
            creature=agent.name,
            messages=tuple(message_data(m) for m in agent.history),
            branches=branches,
        )

    async def regenerate(self, session_id: str, creature: str) -> ChatReply:
        """Run the last user input again.

        A creature that records branches (built with its own session) keeps the old reply as
        another branch (``kt_sessions.regenerate``). A creature recorded as part of a graph
        has no branches: its history is rewound to before that input (a ``history_replaced``
        event, so a resume rebuilds the same conversation) and the input runs again.

        Raises:
            StudioConflictError: a turn is running.
            StudioInputError: there is no user message yet.
            TurnFailedError: the new turn failed.
        """
        handle = self._idle_handle(session_id, creature)
        agent = handle.agent
        if _branching(agent):
            import kt_sessions

            return _reply(await kt_sessions.regenerate(agent))
        users = [i for i, m in enumerate(agent.history) if m.role == "user"]
        if not users:
            raise StudioInputError("the creature has no user message to run again", field="cid")
        text = agent.history[users[-1]].content
        await agent.replace_history(agent.history[: users[-1]], reason="regenerate")
        return _reply(await handle.run(text))

    async def edit(self, session_id: str, creature: str, index: int, content: str) -> ChatReply:
        """Replace the user message at history *index* with *content* and run from there.

        With branches (see :meth:`regenerate`) the old turn stays as a branch; without, the
        history is rewound to before *index*.

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
        agent = handle.agent
        history = agent.history
        if not 0 <= index < len(history) or history[index].role != "user":
            users = [i for i, m in enumerate(history) if m.role == "user"]
            raise StudioInputError(
                f"message {index} is not a user message; user messages are at {users}",
                field="idx",
            )
        if _branching(agent):
            import kt_sessions

            turn = sum(1 for m in history[: index + 1] if m.role == "user")
            return _reply(await kt_sessions.edit(agent, content, turn=turn))
        await agent.replace_history(history[:index], reason="edit")
        return _reply(await handle.run(content))

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
        return self.history(session_id, creature)

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

    async def send(
        self, session_id: str, channel: str, content: str, *, sender: str = "human"
    ) -> Any:
        """Send a message on a channel of the session (as *sender*, by default ``human``).

        Raises:
            StudioInputError: *content* is empty.
            ChannelNotFoundError: the session has no such channel.
        """
        from kt_terrarium import ChannelNotFoundError

        if not isinstance(content, str) or not content:
            raise StudioInputError("give the message text", field="content")
        found = [c for c in self.channels(session_id) if c.name == channel]
        if not found:
            names = ", ".join(c.name for c in self.channels(session_id)) or "none"
            raise ChannelNotFoundError(
                f"session '{session_id}' has no channel '{channel}'; its channels: {names}"
            )
        return await self._engine.send(channel, content, graph=found[0].graph_id, sender=sender)

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


def _record_in(session_dir: str | os.PathLike[str] | None) -> Any:
    """The engine's ``session=`` for a folder: ``None`` keeps the engine's own folder."""
    if session_dir is None:
        return None
    folder = os.path.expanduser(os.fspath(session_dir))
    os.makedirs(folder, exist_ok=True)
    return folder


def _branching(agent: Any) -> bool:
    """Whether *agent* records a session of its own that keeps branches."""
    import kt_sessions
    from kt_sessions.errors import BranchError

    try:
        kt_sessions.branches(agent)
    except BranchError:
        return False
    return True


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
