"""``SyncAgent`` turns follow the creature's ``controller.turn_timeout`` unless told otherwise."""

from __future__ import annotations

import time

from kt.events import TurnCompleted
from kt.testing import ScriptedLLM, ScriptEntry
from kt_portal import Portal

TURN_TIMEOUT = 0.5
HANG = 10  # the scripted model's delay: without the turn timeout a turn takes this long


def _creature() -> dict:
    return {"name": "timed", "controller": {"turn_timeout": TURN_TIMEOUT}}


def test_run_and_stream_stop_at_the_creatures_turn_timeout():
    llm = ScriptedLLM([ScriptEntry(text="never", delay=HANG)], exhausted="repeat")
    with Portal() as portal, portal.agent(_creature(), llm=llm) as agent:
        started = time.monotonic()
        result = agent.run("hello")
        run_took = time.monotonic() - started
        started = time.monotonic()
        events = list(agent.stream("again"))
        stream_took = time.monotonic() - started
    assert result.status == "timeout"
    assert TURN_TIMEOUT <= run_took < TURN_TIMEOUT + 2
    assert isinstance(events[-1], TurnCompleted) and events[-1].result.status == "timeout"
    assert TURN_TIMEOUT <= stream_took < TURN_TIMEOUT + 2


def test_an_explicit_timeout_overrides_the_creatures():
    slow = ScriptEntry(text="done", delay=TURN_TIMEOUT * 2)
    llm = ScriptedLLM([slow, slow, ScriptEntry(text="never", delay=HANG)])
    with Portal() as portal, portal.agent(_creature(), llm=llm) as agent:
        no_limit = agent.run("take your time", timeout=None)
        streamed = list(agent.stream("again", timeout=None))[-1].result
        started = time.monotonic()
        shorter = agent.run("hurry", timeout=0.1)
        shorter_took = time.monotonic() - started
    assert (no_limit.status, no_limit.text) == ("completed", "done")
    assert (streamed.status, streamed.text) == ("completed", "done")
    assert shorter.status == "timeout"
    assert shorter_took < TURN_TIMEOUT
