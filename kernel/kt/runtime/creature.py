"""``Creature``: what the turn loop, the tool executor and compaction use of a creature.

:class:`kt.Agent` is the one implementation. The modules that run a turn take a ``Creature``
rather than naming ``Agent``, so the agent module imports them and they never import it: the
runtime layers without a cycle, and each module's needs are written down here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import trio

from kt.config import CreatureConfig
from kt.events import Event
from kt.formats import ToolFormat
from kt.llm import LLM, ContentPart, LLMRequest, Message, ToolCall, Usage
from kt.plugins.runner import HookRunner
from kt.runtime.stash import Stash
from kt.tools import ToolSpec

__all__ = ["Creature"]


class Creature(Protocol):
    """The creature a turn runs on (a :class:`kt.Agent`)."""

    name: str
    config: CreatureConfig
    llm: LLM
    tools: dict[str, ToolSpec]
    tool_format: ToolFormat
    body_args: dict[str, str]
    history: list[Message]
    usage: Usage
    turn_index: int
    current_turn: Any
    outputs: list[Any]
    runner: HookRunner
    stash: Stash
    unsafe_lock: trio.Lock
    working_dir: Path

    async def emit(self, event: Event, *, turn_index: int | None = None) -> None:
        """Publish an event (``kt.Agent.emit``)."""

    async def append(self, message: Message, *, turn_index: int | None = None) -> None:
        """Append a message to the history and publish it."""

    async def merge_into_last_user(self, content: str | tuple[ContentPart, ...]) -> None:
        """Merge input into the trailing user message."""

    async def replace_history(self, messages: list[Message], *, reason: str) -> None:
        """Replace the whole history and publish it."""

    async def clear_history(self, *, reason: str = "clear") -> None:
        """Drop every message of the history."""

    def build_request(self) -> LLMRequest:
        """The request the next model call sends."""

    def plugin_options(self, name: str) -> Mapping[str, Any]:
        """The options of the creature's ``[[plugins]]`` entry *name*."""

    def start_background_call(self, spec: ToolSpec, call: ToolCall, ctx: Any) -> None:
        """Run a validated call as a background job."""
