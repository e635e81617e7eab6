"""kt_portal.aio: creatures awaited from asyncio, trio running as a guest of the asyncio loop.

These tests are plain functions that call ``asyncio.run``: they run under asyncio, as an
asyncio application does, not under the test suite's trio.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import kt
from kt.errors import AgentNotStartedError, ConfigError
from kt.events import LLMCallStarted
from kt.testing import ScriptedLLM, ScriptEntry, ToolCall
from kt_portal import aio

REPO = Path(__file__).resolve().parents[3]
GUIDE = REPO / "docs" / "guides" / "asyncio.md"
EXAMPLES = REPO / "examples" / "aio"
FENCE = re.compile(r"^```python( \w+)?\n(.*?)^```$", re.S | re.M)


@kt.tool
def add(a: int, b: int) -> str:
    """Add two numbers."""
    return str(a + b)


def build(llm, **kwargs):
    return aio.Agent.build({"name": "a"}, llm=llm, kernel=kt.Kernel(plugins=[]), **kwargs)


def test_run_stream_and_read_through_attributes():
    async def main():
        llm = ScriptedLLM([ToolCall("add", {"a": 2, "b": 3}), "five", "streamed"], chunk_size=2)
        async with await build(llm, tools=[add]) as agent:
            result = await agent.run("add")
            events = [event async for event in agent.run_stream("again")]
            return result, events, agent.name, len(agent.history)

    result, events, name, history = asyncio.run(main())
    assert (result.status, result.text, result.tool_calls[0].output) == ("completed", "five", "5")
    assert events[0].type == "turn_started" and events[-1].type == "turn_completed"
    assert "".join(e.text for e in events if e.type == "text_delta") == "streamed"
    assert (name, history) == ("a", 6)


def test_cancelling_the_asyncio_task_cancels_the_turn_and_the_agent_goes_on():
    async def main():
        llm = ScriptedLLM([ScriptEntry(text="never", delay=3600), "next"])
        async with await build(llm) as agent:
            started = asyncio.Event()
            recorder = agent.subscribe()  # a trio channel: read it through aio.call
            turn = asyncio.create_task(agent.run("slow"))
            while not started.is_set():
                event = await aio.call(recorder.receive)
                if isinstance(event, LLMCallStarted):
                    started.set()
            turn.cancel()
            with pytest.raises(asyncio.CancelledError):
                await turn
            after = [m.role for m in agent.history]
            follow_up = await agent.run("again")  # no wait behind an orphaned turn
            return after, follow_up

    history, follow_up = asyncio.run(main())
    assert history == ["user"]  # the cancelled turn left a valid history
    assert (follow_up.status, follow_up.text) == ("completed", "next")


def test_leaving_a_stream_early_cancels_its_turn():
    async def main():
        # One character per chunk, each after a pause: the reader leaves after the first.
        llm = ScriptedLLM([ScriptEntry(text="a b c d e f", chunk_size=1, delay=0.2), "after"])
        async with await build(llm) as agent:
            async with agent.run_stream("go") as events:
                async for event in events:
                    if event.type == "text_delta":
                        break
            completed = [e for e in agent.history if e.role == "assistant"]
            return completed, await agent.run("next")

    assistant, follow_up = asyncio.run(main())
    assert assistant == [] or assistant[0].meta.get("interrupted")
    assert not assistant or assistant[0].content != "a b c d e f"
    assert follow_up.text == "after"


def test_errors_under_trio_are_raised_in_asyncio():
    async def main():
        await aio.Agent.build(
            {"name": "x", "tools": [{"name": "no_such_tool"}]},
            llm=ScriptedLLM([]),
            kernel=kt.Kernel(plugins=[]),
        )

    with pytest.raises(ConfigError, match="unknown tool 'no_such_tool'"):
        asyncio.run(main())


def test_a_stream_error_under_trio_is_raised_by_the_reader():
    async def main():
        agent = await build(ScriptedLLM(["never"]))  # built, not started
        with pytest.raises(AgentNotStartedError, match="not started") as caught:
            async for _ in agent.run_stream("hi"):
                pass
        async with agent:  # the trio run is unharmed: the agent starts and answers
            return caught.value, (await agent.run("hi")).text

    error, text = asyncio.run(main())
    assert isinstance(error, kt.errors.KTError) and text == "never"


def test_a_slow_reader_holds_the_turn_back_and_misses_nothing():
    text = "x" * (aio._STREAM_BUFFER * 3)

    async def main():
        async with await build(ScriptedLLM([text], chunk_size=1)) as agent:
            async with agent.run_stream("go") as events:
                first = await anext(events)
                while events._room is None:  # the turn runs ahead until the buffer is full ...
                    await asyncio.sleep(0)
                held = len(events._events)
                for _ in range(20):  # ... and then waits for the reader
                    await asyncio.sleep(0)
                    assert len(events._events) == held <= aio._STREAM_BUFFER
                rest = [event async for event in events]
            return [first, *rest]

    events = asyncio.run(main())
    assert "".join(e.text for e in events if e.type == "text_delta") == text
    assert events[-1].type == "turn_completed" and events[-1].result.status == "completed"


def count_wake_ups(loop: asyncio.AbstractEventLoop) -> list[int]:
    """Count the trio run's wake-ups from its I/O thread, each a round trip between threads.

    That thread hands every wake-up to the loop with ``call_soon_threadsafe``; the guest run
    takes the method when it starts, so call this before the first use of ``aio``.
    """
    hops: list[int] = []
    threadsafe = loop.call_soon_threadsafe
    loop.call_soon_threadsafe = lambda *args, **kw: hops.append(1) or threadsafe(*args, **kw)
    return hops


def test_a_streamed_turn_wakes_the_trio_run_once_not_once_per_event():
    """Events reach the reader in this thread; only starting the turn crosses over."""

    async def main():
        hops = count_wake_ups(asyncio.get_running_loop())
        async with await build(ScriptedLLM(["warm", "a b c d e f g h"], chunk_size=1)) as agent:
            await agent.run("warm up")
            hops.clear()
            events = [event async for event in agent.run_stream("go")]
            return events, len(hops)

    events, hops = asyncio.run(main())
    assert sum(e.type == "text_delta" for e in events) == len("a b c d e f g h")
    assert hops <= 1, f"{hops} wake-ups of the trio run for one streamed turn"


def test_turns_called_one_after_another_find_the_trio_run_awake():
    async def main():
        hops = count_wake_ups(asyncio.get_running_loop())
        async with await build(ScriptedLLM(["ok"], exhausted="repeat")) as agent:
            await agent.run("warm up")
            hops.clear()
            for _ in range(20):
                await agent.run("again")
            async for _event in agent.run_stream("and streamed"):
                pass
            return len(hops)

    hops = asyncio.run(main())
    assert hops <= 1, f"{hops} wake-ups of the trio run for 21 turns in a row"


def test_cancelling_a_stream_reader_cancels_the_turn_once_it_has_cleaned_up():
    async def main():
        llm = ScriptedLLM([ScriptEntry(text="never", delay=3600), "next"])
        async with await build(llm) as agent:
            first = asyncio.Event()

            async def read() -> None:
                async for event in agent.run_stream("slow"):
                    if event.type == "llm_call_started":
                        first.set()

            reader = asyncio.create_task(read())
            await first.wait()
            reader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reader
            after = [m.role for m in agent.history]  # cleaned up before the reader saw it
            return after, await agent.run("again")

    history, follow_up = asyncio.run(main())
    assert history == ["user"]
    assert (follow_up.status, follow_up.text) == ("completed", "next")


def test_hosted_context_managers_and_any_trio_call():
    kt_terrarium = pytest.importorskip("kt_terrarium")

    async def main():
        async with aio.hosted(kt_terrarium.Terrarium()) as terrarium:
            llm = ScriptedLLM(["hello from the team"])
            await terrarium.add_creature({"name": "solo"}, llm=llm)
            result = await aio.call(terrarium.creatures["solo"].run, "hi")  # any trio call
            await terrarium.wait_idle()
            return result

    assert asyncio.run(main()).text == "hello from the team"


def test_what_a_hosted_objects_methods_return_is_awaitable_the_same_way():
    kt_terrarium = pytest.importorskip("kt_terrarium")

    async def main():
        async with aio.hosted(kt_terrarium.Terrarium()) as terrarium:
            solo = await terrarium.add_creature(
                {"name": "solo"}, llm=ScriptedLLM(["hi there", "yes"])
            )
            result = await solo.run("hi")  # the handle's coroutine method, from asyncio

            async def ask_under_trio(handle, text):  # gets the handle itself, not the view
                return (await handle.run(text)).text

            via_call = await aio.call(ask_under_trio, solo, "again")
            await terrarium.add_creature({"name": "pal"}, llm=ScriptedLLM([]))
            change = await terrarium.remove_creature("pal")
            return solo, result, via_call, change, sorted(terrarium.creatures)

    solo, result, via_call, change, left = asyncio.run(main())
    assert isinstance(solo, aio.Wrapped) and solo.id == "solo"  # plain attributes read through
    assert result.text == "hi there" and not isinstance(result, aio.Wrapped)
    assert via_call == "yes"
    assert not isinstance(change, aio.Wrapped) and left == ["solo"]


def test_the_trio_run_ends_with_the_loop_and_at_shutdown():
    async def main():
        guest = await aio.TrioGuest.current()
        assert await aio.TrioGuest.current() is guest
        await aio.shutdown()
        assert guest.finished.done()
        again = await aio.TrioGuest.current()  # a new run when asked again
        return guest, again

    first, second = asyncio.run(main())
    assert first is not second
    assert second.finished.done()  # asyncio.run's exit ended it


# -- The guide's examples -------------------------------------------------------------------------


def guide_blocks(kind: str) -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    return [m.group(2) for m in FENCE.finditer(text) if (m.group(1) or "").strip() == kind]


def test_the_guide_shows_the_example_files_as_they_are():
    shown = guide_blocks("fragment")  # quoted whole, under a first line naming the file
    for name in ("fastapi_app.py", "bot.py", "batch.py"):
        quoted = f"# examples/aio/{name}\n" + (EXAMPLES / name).read_text(encoding="utf-8")
        assert quoted in shown, name
    for code in shown:  # the others are Python too (top-level await allowed, as in a notebook)
        compile(
            code, "<fragment>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )


def example_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KT_PLUGINS"}
    env["KT_HOME"] = str(tmp_path / "home")
    return env


def test_the_bot_example(tmp_path):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "bot.py")],
        cwd=REPO,
        env=example_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "user: count the words in 'the quick brown fox'",
        "bot: Your text has 4 words.",
        "user: summarise our chat",
        "bot: My sub-agent's summary: you asked how many words 'the quick brown fox' has, and "
        "word_count counted 4. That's the tour: leave with Ctrl+D or /exit, then continue this "
        "session with `kt resume --last`.",
    ]


def test_the_notebook_cells_run_in_one_loop():
    async def notebook():
        namespace: dict = {}
        for cell in guide_blocks("notebook"):
            code = compile(cell, "<cell>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(code, namespace)  # noqa: S307 -- the guide's own cells
            if asyncio.iscoroutine(result):
                await result
        return namespace

    namespace = asyncio.run(notebook())
    assert not namespace["creature"].agent.is_running
    assert [m.content for m in namespace["creature"].history if m.role == "assistant"] == [
        "Hello!",
        "Still here.",
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_fastapi_example_under_a_real_asgi_server(tmp_path):
    pytest.importorskip("fastapi")
    uvicorn = pytest.importorskip("uvicorn")
    httpx = pytest.importorskip("httpx")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "fastapi_app:app",
            "--app-dir",
            str(EXAMPLES),
            "--port",
            str(port),
            "--log-level",
            "info",
        ],
        cwd=REPO,
        env=example_env(tmp_path),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in server.stderr:  # the server says when it listens: wait for that line
            if "Application startup complete" in line:
                break
        else:
            pytest.fail(f"uvicorn {uvicorn.__version__} did not start")
        base = f"http://127.0.0.1:{port}"
        reply = httpx.post(f"{base}/chat", json={"text": "count the words"}, timeout=30)
        assert reply.json() == {"status": "completed", "reply": "Your text has 4 words."}
        with httpx.stream("GET", f"{base}/stream", params={"text": "summarise"}, timeout=30) as r:
            lines = [line for line in r.iter_lines() if line.startswith("data: ")]
        assert lines[-1] == "data: [DONE]"
        streamed = "".join(__import__("json").loads(line[6:])["text"] for line in lines[:-1])
        assert "My sub-agent's summary" in streamed
    finally:
        server.terminate()
        server.wait(timeout=30)
