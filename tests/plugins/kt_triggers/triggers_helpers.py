"""Shared helpers for the kt_triggers tests: a fake channel service and an agent builder."""

from __future__ import annotations

import math
import uuid

import attrs
import trio

import kt
import kt_triggers
from kt.testing import ScriptedLLM


@attrs.frozen(kw_only=True)
class FakeMessage:
    channel: str
    content: str
    sender: str
    sender_id: str | None = None
    message_id: str = attrs.Factory(lambda: f"msg_{uuid.uuid4().hex[:12]}")
    reply_to: str | None = None
    metadata: dict = attrs.Factory(dict)


class FakeChannels:
    """A channel service as the terrarium engine provides one (broadcast channels)."""

    def __init__(self, *names: str, creature_id: str = "creature-1") -> None:
        self.creature_id = creature_id
        self.subscribers: dict[str, list[trio.MemorySendChannel]] = {n: [] for n in names}

    def channels(self) -> dict[str, str]:
        return {name: "broadcast" for name in self.subscribers}

    def subscribe(self, channel: str):
        if channel not in self.subscribers:
            raise LookupError(
                f"no channel '{channel}'; channels: {', '.join(self.subscribers)}; "
                "do not invent channel names"
            )
        send, recv = trio.open_memory_channel(math.inf)
        self.subscribers[channel].append(send)
        return recv

    async def send(self, channel, content, *, sender, sender_id=None, reply_to=None, metadata=None):
        message = FakeMessage(
            channel=channel,
            content=content,
            sender=sender,
            sender_id=sender_id,
            reply_to=reply_to,
            metadata=dict(metadata or {}),
        )
        for subscriber in list(self.subscribers[channel]):
            try:
                subscriber.send_nowait(message)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.subscribers[channel].remove(subscriber)
        return message.message_id

    def listeners(self, channel: str) -> int:
        return len(self.subscribers[channel])


def kernel(*extra) -> kt.Kernel:
    return kt.Kernel(plugins=[kt_triggers, *extra])


async def build(config=None, *, llm=None, tools=(), extra_plugins=(), **kwargs) -> kt.Agent:
    config = {"name": "t", **(config or {})}
    return await kt.Agent.build(
        config,
        llm=llm or ScriptedLLM(["ok"]),
        tools=tools,
        kernel=kernel(*extra_plugins),
        **kwargs,
    )


async def turns(agent: kt.Agent, count: int, events=None) -> list:
    """Wait for the next *count* TurnCompleted events; return their results."""
    events = events if events is not None else agent.subscribe()
    results = []
    async for event in events:
        if isinstance(event, kt.events.TurnCompleted):
            results.append(event.result)
            if len(results) == count:
                break
    return results
