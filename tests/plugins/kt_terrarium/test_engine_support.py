"""Helpers shared by the terrarium engine tests (this module has no tests of its own)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kt
from kt.events import Event, TurnStarted
from kt.llm import LLMRequest, message_text
from kt.testing import ScriptedLLM


def bare() -> kt.Kernel:
    """The bare kernel: engine tests need no plugin."""
    return kt.Kernel(plugins=[])


def with_sessions() -> kt.Kernel:
    """A kernel with the session store only: graphs can be persisted."""
    import kt_sessions

    return kt.Kernel(plugins=[kt_sessions])


def records_of(path) -> tuple[dict, list[dict]]:
    """A graph session file read through ``kt.SessionReader``: its graph metadata, its records."""
    with kt.SessionReader(path, kernel=with_sessions()) as reader:
        return reader.meta["graph"], [logged.wire for logged in reader.events()]


def last_user(request: LLMRequest) -> str:
    """The text of the last user message of a request."""
    for message in reversed(request.messages):
        if message.role == "user":
            return message_text(message)
    return ""


def after_tools(request: LLMRequest) -> bool:
    """Whether the request follows a tool round of the current turn."""
    return bool(request.messages) and request.messages[-1].role == "tool"


def replying(fn: Callable[[str], Any]) -> ScriptedLLM:
    """A model whose every reply is ``fn(last user text)``; after a tool round: ``"ok"``."""

    def reply(request: LLMRequest) -> Any:
        if after_tools(request):
            return "ok"
        return fn(last_user(request))

    return ScriptedLLM([reply])


def echo(name: str) -> ScriptedLLM:
    """A model answering ``<name> got: <last user text>``."""
    return replying(lambda text: f"{name} got: {text}")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def turn_inputs(events: list[Event], creature: str, source: str | None = None) -> list[str]:
    """Inputs of *creature*'s turns, in order (optionally only those from *source*)."""
    return [
        e.input
        for e in events
        if isinstance(e, TurnStarted)
        and e.creature == creature
        and (source is None or e.source == source)
    ]


def drain(receive) -> list[Event]:
    """Everything buffered in a subscription channel now."""
    out = []
    while True:
        try:
            out.append(receive.receive_nowait())
        except Exception:
            return out


def system_prompt(llm: ScriptedLLM, call: int = -1) -> str:
    """The system message a scripted model received in one of its calls."""
    first = llm.calls[call].messages[0]
    assert first.role == "system"
    return first.content


class Brain:
    """A light model for many-creature tests: ``fn(request)`` gives a str or a list of calls.

    Unlike ``ScriptedLLM`` it keeps no copy of each request, so a storm of thousands of turns
    costs only the kernel's and the engine's work.
    """

    def __init__(self, fn: Callable[[LLMRequest], Any]) -> None:
        self.fn = fn
        self.call_count = 0

    async def stream(self, request: LLMRequest):
        self.call_count += 1
        reply = self.fn(request)
        if isinstance(reply, str):
            yield kt.TextChunk(reply)
        else:
            for call in reply:
                yield call
        yield kt.LLMDone(usage=kt.Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2))
