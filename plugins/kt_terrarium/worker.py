"""The worker's side of a placed creature: build it, run it, answer the engine over its link.

Every transport runs :func:`serve_creature` wherever it hosts a creature (a worker process on
another machine, or, for :class:`kt_terrarium.testing.LoopbackTransport`, a task of this
process) with the worker's own kernel. The creature is an ordinary :class:`kt.Agent`; what the
engine gives local creatures is replaced by stand-ins that talk over the link:

* its events go back as :class:`~kt_terrarium.transport.EventOut` messages, in order, from a
  ``kt_event`` plugin that runs after the worker's own plugins (a worker may record the creature
  in a session file of its own);
* its channel service (``send_message``, ``kt.CHANNEL_SERVICE``) asks the engine to send, and
  answers ``channels()`` and ``list()`` from the engine's last
  :class:`~kt_terrarium.transport.GraphUpdate`; subscribing is not available;
* the terrarium section of its prompt is the one the engine last sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import attrs
import trio

from kt import Agent, Kernel, TurnStream
from kt.config import load_creature_config
from kt.errors import KTError
from kt.events import Event, HistoryReplaced, TurnStarted, from_wire, to_wire
from kt.llm import Usage
from kt.plugins import hookimpl
from kt_terrarium import graph_tools
from kt_terrarium.channels import CHANNELS, ChannelInfo, ChannelMessage
from kt_terrarium.errors import ChannelError, ChannelPermissionError
from kt_terrarium.graph_tools import SectionKeeper
from kt_terrarium.transport import (
    Built,
    Cancel,
    EventOut,
    Failed,
    GraphUpdate,
    Interrupt,
    Link,
    Placement,
    Rejected,
    Reply,
    Request,
    Start,
    Started,
    Stop,
    Stopped,
    Turn,
    config_from_wire,
    decode,
    encode,
    error_from,
)

__all__ = ["serve_creature"]

_USAGE_FIELDS = frozenset(field.name for field in attrs.fields(Usage))


async def serve_creature(
    placement: Placement,
    link: Link,
    *,
    kernel: Kernel,
    llm: Any = None,
) -> None:
    """Host one placed creature until the engine stops it or the link closes.

    Sends :class:`~kt_terrarium.transport.Built` (or ``Failed`` and returns), then answers the
    engine's messages; ends after sending ``Stopped``. Never raises for the creature's own
    failures: they are reported over the link.

    Args:
        placement: What to host.
        link: The worker's end of the creature's link.
        kernel: The worker's plugin set (tools, backends, packs for ``@`` references).
        llm: A model for the creature: an instance, or ``fn(creature_id, config) -> LLM |
            None``; ``None``: the placement's ``llm_selector`` or the config decides.
    """
    worker = _Worker(placement, link, kernel, llm)
    try:
        await worker.serve()
    except Exception as error:  # a worker never takes its transport down: report and end
        await worker.send(_failed("run", error))
    finally:
        with trio.CancelScope(shield=True):
            await link.aclose()


class _Worker:
    def __init__(self, placement: Placement, link: Link, kernel: Kernel, llm: Any) -> None:
        self.placement = placement
        self.link = link
        self.kernel = kernel
        self.llm = llm
        self.agent: Agent | None = None
        self.section = ""
        self.graph = GraphUpdate()
        self.refs: dict[int, str] = {}  # id(TurnRequest) -> ref of an awaited turn
        self.streams: dict[str, trio.CancelScope] = {}
        self.cancelled: set[str] = set()
        self.requests: dict[str, trio.MemorySendChannel[Reply]] = {}
        self.stop = trio.Event()
        self.closed = False
        self.nursery: trio.Nursery | None = None

    async def send(self, message: Any) -> None:
        if self.closed:
            return
        try:
            await self.link.send(encode(message))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.closed = True

    # -- Building ------------------------------------------------------------------------------

    async def build(self) -> bool:
        placement = self.placement
        try:
            if placement.loaded:
                config = config_from_wire(placement.config)
            else:
                config = load_creature_config(
                    placement.config,
                    base_dir=placement.base_dir if isinstance(placement.config, Mapping) else None,
                    resolve_ref=self.kernel.resolve_ref,
                )
            config = attrs.evolve(config, name=placement.creature_id)
            taken = {entry.name for entry in config.tools}
            llm = self.llm
            if llm is not None and not hasattr(llm, "stream"):
                llm = llm(placement.creature_id, config)
            agent = await Agent.build(
                config,
                llm=llm,
                tools=graph_tools.tools_for(
                    privileged=False, taken=taken, registry=self.kernel.tools
                ),
                plugins=[_Forwarder(self)],
                pwd=placement.pwd,
                kernel=self.kernel,
                llm_selector=placement.llm_selector,
                output=None,
            )
            agent.stash[CHANNELS] = _RemoteChannels(self, placement.creature_id)
            if placement.history is not None:
                replaced = from_wire(placement.history)
                agent.restore(
                    replaced.messages,
                    usage=Usage(
                        **{k: v for k, v in (placement.usage or {}).items() if k in _USAGE_FIELDS}
                    ),
                    turn_index=replaced.turn_index,
                )
        except Exception as error:
            await self.send(_failed("build", error))
            return False
        self.agent = agent
        await self.send(
            Built(
                model=agent.llm_name,
                tools=tuple(sorted(agent.tools)),
                working_dir=str(agent.working_dir),
            )
        )
        return True

    # -- Serving -------------------------------------------------------------------------------

    async def serve(self) -> None:
        if not await self.build():
            return
        incoming = aiter(self.link.receive())
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            started = False
            async for data in incoming:
                message = decode(data)
                if isinstance(message, Start) and not started:
                    started = await self.start(nursery)
                    if not started:
                        break
                elif isinstance(message, Stop):
                    break
                else:
                    await self.handle(message)
            self.stop.set()  # a Stop, or the engine's end is gone
            if not started:
                nursery.cancel_scope.cancel()
                return
        agent = self.agent
        assert agent is not None
        replaced = HistoryReplaced(
            creature=agent.name,
            turn_index=agent.turn_index,
            messages=tuple(agent.history),
            reason="stopped",
        )
        await self.send(Stopped(history=to_wire(replaced), usage=attrs.asdict(agent.usage)))

    async def start(self, nursery: trio.Nursery) -> bool:
        try:
            await nursery.start(self.run_agent)
        except Exception as error:
            await self.send(_failed("start", error))
            return False
        await self.send(Started())
        return True

    async def run_agent(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED):
        agent = self.agent
        assert agent is not None
        started = False
        try:
            async with agent:
                task_status.started()
                started = True
                await self.stop.wait()
        except Exception as error:
            if not started:
                raise  # start() reports it
            await self.send(_failed("run", error))

    async def handle(self, message: Any) -> None:
        agent = self.agent
        assert agent is not None
        if isinstance(message, Turn):
            self.turn(message)
        elif isinstance(message, Cancel):
            scope = self.streams.get(message.ref)
            if scope is not None:
                scope.cancel()
            else:
                self.cancelled.add(message.ref)
        elif isinstance(message, Interrupt):
            agent.interrupt()
        elif isinstance(message, GraphUpdate):
            self.graph = message
        elif isinstance(message, Reply):
            waiter = self.requests.pop(message.ref, None)
            if waiter is not None:
                waiter.send_nowait(message)

    def turn(self, message: Turn) -> None:
        agent = self.agent
        assert agent is not None
        text = from_wire({"type": "turn_started", "input": message.input}).input
        if message.ref is None:
            if agent.is_running:
                agent.inject(text, source=message.source)
            return
        if message.ref in self.cancelled:
            self.cancelled.discard(message.ref)
            return
        options: dict[str, Any] = {"max_iterations": message.max_iterations}
        if message.timeout_given:
            options["timeout"] = message.timeout
        try:
            stream = agent.run_stream(text, **options)
        except KTError as error:
            assert self.nursery is not None
            self.nursery.start_soon(self.send, _rejected(message.ref, error))
            return
        self.refs[id(stream.request)] = message.ref
        scope = trio.CancelScope()
        self.streams[message.ref] = scope
        assert self.nursery is not None
        self.nursery.start_soon(self.follow, message.ref, stream, scope)

    async def follow(self, ref: str, stream: TurnStream, scope: trio.CancelScope) -> None:
        """Read an awaited turn's stream to its end (leaving it early cancels the turn)."""
        seen = False
        with scope:
            async with stream:
                async for event in stream:
                    seen = seen or isinstance(event, TurnStarted)
        self.streams.pop(ref, None)
        self.refs.pop(id(stream.request), None)
        if not seen:
            await self.send(
                Rejected(
                    ref=ref,
                    error_type="AgentStoppedError",
                    error=f"agent '{self.placement.creature_id}' stopped before the turn started",
                )
            )

    async def request(self, method: str, **args: Any) -> Any:
        """Ask the engine; return its result or raise its error."""
        ref = f"req_{uuid.uuid4().hex[:12]}"
        send, receive = trio.open_memory_channel[Reply](1)
        self.requests[ref] = send
        await self.send(Request(ref=ref, method=method, args=args))
        if self.closed:
            raise ChannelError("the engine is gone; nothing can be sent")
        reply = await receive.receive()
        if reply.error_type or reply.error:
            raise error_from(reply.error_type, reply.error)
        return reply.result


def _failed(stage: str, error: BaseException) -> Failed:
    return Failed(stage=stage, error_type=type(error).__name__, error=str(error))


def _rejected(ref: str, error: BaseException) -> Rejected:
    return Rejected(ref=ref, error_type=type(error).__name__, error=str(error))


class _Forwarder(SectionKeeper):
    """The worker's plugin on the creature: events to the engine, the engine's prompt section."""

    kt_plugin_name = "kt_terrarium.worker"

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker

    def owns(self, creature: Agent) -> bool:
        """Whether *creature* is the hosted agent."""
        return creature is self.worker.agent and creature is not None

    def section_text(self) -> str:
        """The section the engine last sent."""
        return self.worker.graph.section

    @hookimpl(trylast=True)  # after the worker's own plugins: recorded there before it leaves
    async def kt_event(self, event: Event, creature: Agent) -> None:
        """Send the event to the engine, tagging an awaited turn's start with its ref."""
        if not self.owns(creature):
            return
        ref = None
        if isinstance(event, TurnStarted) and creature.current_turn is not None:
            ref = self.worker.refs.get(id(creature.current_turn))
        await self.worker.send(EventOut(event=to_wire(event), ref=ref))


class _RemoteChannels:
    """The channel service of a creature hosted by a worker: sends go through the engine."""

    def __init__(self, worker: _Worker, creature_id: str) -> None:
        self._worker = worker
        self.creature_id = creature_id

    def channels(self) -> dict[str, str]:
        """The channels it may send on, as the engine last said."""
        return dict(self._worker.graph.channels)

    async def send(
        self,
        channel: str,
        content: Any,
        *,
        sender: str | None = None,
        reply_to: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Ask the engine to send as this creature; its edges are checked there."""
        if sender not in (None, self.creature_id):
            raise ChannelPermissionError(
                f"creature '{self.creature_id}' cannot send as '{sender}'; leave sender out"
            )
        return await self._worker.request(
            "send",
            channel=channel,
            content=content,
            reply_to=reply_to,
            metadata=dict(metadata or {}),
        )

    def subscribe(self, channel: str) -> trio.MemoryReceiveChannel[ChannelMessage]:
        """Not available for a creature hosted through a transport.

        Raises:
            ChannelError: always.
        """
        raise ChannelError(
            f"creature '{self.creature_id}' is hosted through a transport, where subscribing "
            f"to channel '{channel}' is not available; listen on it instead (its messages "
            "arrive as turns)"
        )

    def list(self) -> list[ChannelInfo]:
        """Every channel of its graph, as the engine last said."""
        return [
            ChannelInfo(
                **{
                    **info,
                    "listeners": tuple(info.get("listeners", ())),
                    "senders": tuple(info.get("senders", ())),
                }
            )
            for info in self._worker.graph.listing
        ]
