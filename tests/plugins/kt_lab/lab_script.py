"""A plugin for `kt worker` subprocesses in the tests: a scripted backend and two tools.

Installed for a test by :func:`install` (a module plus a ``.dist-info`` with its ``kt.plugins``
entry point, on the worker's ``PYTHONPATH``), so the worker loads it like any plugin.

* ``labscript/echo``: answers ``<creature> got: <last user text>``.
* ``labscript/steps``: a turn whose input is ``work`` calls ``record`` (n=1), then ``hang``,
  then answers ``finished``; after a takeover (``[turn_restart] ...``) it answers ``finished
  after restart``. Every answer depends only on the conversation, so a new owner continues it.
* ``labscript/send-CHANNEL``: sends the user text on CHANNEL with ``send_message``.
* ``record(n)``: appends a line to ``$LAB_RECORD`` (how many times it ran, and where).
* ``hang()``: appends a line to ``$LAB_RECORD``, then waits for ``$LAB_HANG`` seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import trio

import kt
from kt.llm import LLMBackendSpec
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall


def _text(message) -> str:
    return message.content if isinstance(message.content, str) else ""


def _steps(request):
    last = request.messages[-1]
    users = [m for m in request.messages if m.role == "user"]
    if last.role == "user" and _text(last).startswith("[turn_restart]"):
        return "finished after restart"
    if last.role == "user":
        return [ToolCall("record", {"n": 1})]
    asked = [m for m in request.messages if m.role == "assistant" and m.tool_calls]
    if asked and asked[-1].tool_calls[0].name == "record" and _text(users[-1]) == "work":
        return [ToolCall("hang", {})]
    return "finished"


def _script(profile):
    model = profile.model
    if model == "steps":
        return ScriptedLLM([_steps])
    if model.startswith("stream-"):  # one turn streams this many text_delta events
        size = int(model.split("-", 1)[1])
        return ScriptedLLM([lambda request: ScriptEntry(text="x" * size, chunk_size=1)])
    if model.startswith("send-"):
        channel = model.split("-", 1)[1]

        def send(request):
            if request.messages[-1].role == "tool":
                return "sent"
            return [
                ToolCall(
                    "send_message", {"channel": channel, "message": _text(request.messages[-1])}
                )
            ]

        return ScriptedLLM([send])
    return ScriptedLLM([lambda request: f"got: {_text(request.messages[-1])}"])


def _record_line(what: str) -> None:
    with open(os.environ["LAB_RECORD"], "a", encoding="utf-8") as out:
        out.write(f"{what} {os.environ.get('LAB_NODE', '?')}\n")


@kt.tool
def record(n: int) -> str:
    """Record that this ran."""
    _record_line(f"record{n}")
    return f"recorded {n}"


@kt.tool
async def hang() -> str:
    """Record that this started, then take a long time."""
    _record_line("hang")
    await trio.sleep(float(os.environ.get("LAB_HANG", "3600")))
    return "hung"


@kt.hookimpl
def kt_llm_backends():
    return [LLMBackendSpec("labscript", _script, "scripted answers for the lab tests")]


@kt.hookimpl
def kt_tools():
    return [record, hang]


def install(folder: Path) -> Path:
    """Copy this module into *folder* with a dist-info declaring its entry point."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lab_script.py").write_text(Path(__file__).read_text(encoding="utf-8"))
    info = folder / "lab_script-0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-script\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[kt.plugins]\nlab_script = lab_script\n")
    return folder
