"""Test helpers for the terrarium engine: an in-process loopback transport.

:class:`LoopbackTransport` hosts each placed creature in a task of this process, with a kernel of
its own, and carries every message between the engine and the creature as JSON text over trio
memory channels, the way a network transport would carry bytes. Nothing else is shared: the
creature's agent, its model and its plugins live on the worker's side, and the engine only sees
what crossed the link. It is the reference for transport plugins, and lets engine tests run
creatures "elsewhere" without a server::

    class Loopback:
        @kt.hookimpl
        def kt_transports(self):
            return [kt.TransportSpec("loopback", LoopbackTransport)]

    kernel = kt.Kernel(plugins=[Loopback()])
    options = {"loopback": {"llm": lambda creature_id, config: ScriptedLLM(["hi"])}}
    async with Terrarium(kernel=kernel, transports=options) as engine:
        remote = await engine.add_creature({"name": "far"}, transport="loopback")
        print((await remote.run("hello")).text)  # hi
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import trio

from kt import Kernel
from kt_terrarium.errors import TransportError
from kt_terrarium.transport import Placement
from kt_terrarium.worker import serve_creature

__all__ = ["LoopbackLink", "LoopbackTransport"]


class LoopbackLink:
    """One end of a loopback link: JSON text out on one memory channel, in on another.

    Attributes:
        sent: Every message this end sent, decoded again (what crossed, in order).
    """

    def __init__(
        self, send: trio.MemorySendChannel[str], receive: trio.MemoryReceiveChannel[str]
    ) -> None:
        self._send = send
        self._receive = receive
        self.sent: list[dict[str, Any]] = []

    @classmethod
    def pair(cls) -> tuple[LoopbackLink, LoopbackLink]:
        """Two connected ends: what one sends, the other receives."""
        a_send, b_receive = trio.open_memory_channel[str](math.inf)
        b_send, a_receive = trio.open_memory_channel[str](math.inf)
        return cls(a_send, a_receive), cls(b_send, b_receive)

    async def send(self, message: Mapping[str, Any]) -> None:
        """Send *message* as JSON text (so only JSON-able data crosses)."""
        text = json.dumps(message, ensure_ascii=False)
        self.sent.append(json.loads(text))
        await self._send.send(text)

    def receive(self) -> AsyncIterator[dict[str, Any]]:
        """The other end's messages, decoded, until it closes its end."""
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        try:
            async for text in self._receive:
                yield json.loads(text)
        except trio.ClosedResourceError:
            return

    async def aclose(self) -> None:
        """Close both channels of this end; idempotent."""
        await self._send.aclose()
        await self._receive.aclose()


class LoopbackTransport:
    """A transport hosting creatures in this process, each in a task with the worker's kernel.

    Args:
        kernel: The worker's plugin set (default: the bare kernel, ``kt.Kernel(plugins=[])``).
        llm: The model of the creatures it hosts: an instance, or ``fn(creature_id, config)``;
            ``None``: each config (or the placement's ``llm_selector``) decides.
        nodes: Node names it accepts in ``Placement.node`` (default: any).

    Attributes:
        placements: Every placement, in order.
        links: The engine's end of each placement's link, in order.
    """

    def __init__(
        self,
        *,
        kernel: Kernel | None = None,
        llm: Any = None,
        nodes: Sequence[str] | None = None,
    ) -> None:
        self.kernel = kernel if kernel is not None else Kernel(plugins=[])
        self.llm = llm
        self.nodes = tuple(nodes) if nodes is not None else None
        self.placements: list[Placement] = []
        self.links: list[LoopbackLink] = []
        self._workers: dict[str, trio.CancelScope] = {}
        self._nursery: trio.Nursery | None = None
        self._nursery_cm: Any = None

    async def __aenter__(self) -> LoopbackTransport:
        self._nursery_cm = trio.open_nursery()
        self._nursery = await self._nursery_cm.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()
        await self._nursery_cm.__aexit__(None, None, None)
        self._nursery = None

    async def place(self, placement: Placement) -> LoopbackLink:
        """Start serving *placement* in a task; return the engine's end of its link.

        Raises:
            TransportError: the transport is not entered, or *placement* asks for a node it
                does not have.
        """
        if self._nursery is None:
            raise TransportError("the loopback transport is not entered (async with)")
        if (
            placement.node is not None
            and self.nodes is not None
            and placement.node not in self.nodes
        ):
            raise TransportError(
                f"no node '{placement.node}' in the loopback transport; nodes: "
                f"{', '.join(self.nodes) or 'none'}"
            )
        host_end, worker_end = LoopbackLink.pair()
        self.placements.append(placement)
        self.links.append(host_end)
        scope = trio.CancelScope()
        self._workers[placement.creature_id] = scope
        self._nursery.start_soon(self._serve, placement, worker_end, scope)
        return host_end

    async def _serve(
        self, placement: Placement, link: LoopbackLink, scope: trio.CancelScope
    ) -> None:
        with scope:
            await serve_creature(placement, link, kernel=self.kernel, llm=self.llm)

    def kill(self, creature_id: str) -> None:
        """Make the worker hosting *creature_id* vanish at once, as a crashed process would.

        Its task is cancelled and its end of the link closes: the engine sees the link end
        before the creature stopped.
        """
        self._workers[creature_id].cancel()
