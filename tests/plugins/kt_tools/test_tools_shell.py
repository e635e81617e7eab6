"""bash and python with real subprocesses: exit codes, time limits, process groups, caps."""

from __future__ import annotations

import os
import sys

import pytest
import trio
from kt_tools_helpers import drive

import kt
import kt_tools
from kt.events import ToolCallStarted
from kt.testing import ScriptedLLM, ToolCall

pytestmark = pytest.mark.skipif(
    not hasattr(os, "pidfd_open"), reason="Linux process groups and pidfds"
)


async def exits(pid: int, within: float = 5.0) -> bool:
    """Whether process *pid* (not our child) has exited, or exits within *within* seconds.

    The group is signalled when the call ends; the signal lands a moment later, so wait for
    the exit itself (a pidfd becomes readable when the process exits).
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        with trio.move_on_after(within):
            await trio.lowlevel.wait_readable(fd)
            return True
        return False
    finally:
        os.close(fd)


async def test_scenario_10_bash_behaviour(work):
    slow = f"{sys.executable} -c 'import time;print(1, flush=True);time.sleep(5)'"
    async with drive(work, ["bash"]) as t:
        failed = await t.call("bash", command="echo hi; exit 3")
        fake_wait = await t.call("bash", command="sleep 5")
        timed_out = await t.call("bash", command=slow, timeout=0.5)
    assert failed.status == "error" and failed.output == "hi\n"
    assert "exited with code 3" in failed.error and failed.metadata["exit_code"] == 3
    assert fake_wait.status == "error" and "arrive automatically" in fake_wait.error
    assert timed_out.status == "timeout" and "timed out after 0.5s" in timed_out.error
    assert timed_out.metadata["exit_code"] == -1
    assert timed_out.output.startswith("1")  # the partial output is kept


async def test_bash_runs_in_the_creature_working_dir_with_stderr_merged(
    work, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    async with drive(work, ["bash"]) as t:
        record = await t.call("bash", command="pwd; echo err >&2; echo out")
    assert record.status == "ok"
    assert record.output.splitlines() == [os.path.realpath(work), "err", "out"]


async def test_echo_waiting_is_refused_but_other_echo_is_fine(work):
    async with drive(work, ["bash"]) as t:
        waiting = await t.call("bash", command="echo 'still running, waiting...'")
        fine = await t.call("bash", command="echo hello")
    assert waiting.status == "error"
    assert fine.output == "hello\n"


async def test_timeout_kills_the_whole_process_group(work):
    command = "sleep 30 & echo $! > child.pid; wait"
    async with drive(work, ["bash"]) as t:
        record = await t.call("bash", command=f"true && {command}", timeout=0.3)
    assert record.status == "timeout"
    assert await exits(int((work / "child.pid").read_text()))


async def test_interrupt_kills_the_whole_process_group(work):
    fifo = work / "started"
    os.mkfifo(fifo)
    command = "sleep 30 & echo $! > child.pid; echo go > started; wait"
    llm = ScriptedLLM([ToolCall("bash", {"command": f"true && {command}"}), "done"])
    kernel = kt.Kernel(plugins=[kt_tools])
    config = {"name": "t", "tools": [{"name": "bash"}]}
    async with await kt.Agent.build(config, llm=llm, kernel=kernel, pwd=work) as agent:
        events = agent.subscribe()
        async with trio.open_nursery() as nursery:
            results = []

            async def run():
                results.append(await agent.run("go"))

            nursery.start_soon(run)
            async for event in events:
                if isinstance(event, ToolCallStarted):
                    break
            # Blocks until the command has started its child and written to the pipe.
            await trio.to_thread.run_sync(fifo.read_text)
            agent.interrupt()
        events.close()
    (result,) = results
    assert result.status == "interrupted"
    assert result.tool_calls[0].status == "interrupted"
    assert await exits(int((work / "child.pid").read_text()))


async def test_shell_options_env_and_type(work):
    entry = {"name": "bash", "env": {"GREETING": "hello"}}
    async with drive(work, [entry]) as t:
        env = await t.call("bash", command="echo $GREETING")
        sh = await t.call("bash", command="echo $0", type="sh")
        bad_type = await t.call("bash", command="true", type="cmd")
        negative = await t.call("bash", command="true", timeout=-1)
        empty = await t.call("bash", command="  ")
    assert env.output == "hello\n"
    assert sh.status == "ok" and sh.metadata["shell"] == "sh"
    assert bad_type.status == "error" and "bash" in bad_type.error
    assert "timeout must be 0" in negative.error
    assert "empty" in empty.error


async def test_a_missing_shell_names_the_available_ones(work, monkeypatch):
    monkeypatch.setenv("KT_FISH_PATH", "")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    if os.path.exists("/usr/bin/fish") or os.path.exists("/bin/fish"):
        pytest.skip("fish is installed")
    async with drive(work, ["bash"]) as t:
        record = await t.call("bash", command="true", type="fish")
    assert "not installed" in record.error and "bash" in record.error


async def test_scenario_11_central_truncation_of_tool_output(work):
    async with drive(work, [{"name": "bash", "max_output": 100}]) as t:
        record = await t.call("bash", command='python3 -c \'print("x" * 1000, end="")\'')
    assert record.output.startswith("x" * 100)
    assert "truncated to 100 of 1000 bytes" in record.output
    assert record.metadata["truncated"] is True and record.metadata["original_bytes"] == 1000


async def test_capture_bytes_bounds_memory_and_says_so(work):
    entry = {"name": "bash", "capture_bytes": 1000}
    async with drive(work, [entry]) as t:
        record = await t.call("bash", command="head -c 50000 /dev/zero | tr '\\0' 'a'")
    assert record.status == "ok"
    assert "kept 1000 of 50000 bytes" in record.output
    assert record.metadata["output_bytes"] == 50000


async def test_a_configured_timeout_is_a_ceiling_that_still_keeps_partial_output(work):
    entry = {"name": "bash", "timeout": 0.5}
    slow = "echo early; exec sleep 10"
    async with drive(work, [entry]) as t:
        assert t.agent.tools["bash"].timeout == 0.5  # generic option kept after configure
        record = await t.call("bash", command=f"true && {slow}", timeout=20)
    assert record.status == "timeout" and record.output.startswith("early")


async def test_a_background_child_does_not_hold_the_call(work):
    async with drive(work, ["bash"]) as t:
        with trio.fail_after(10):
            record = await t.call("bash", command="true && (sleep 3 &) ; echo done")
    assert record.status == "ok" and "done" in record.output


async def test_python_tool(work):
    async with drive(work, ["python"]) as t:
        ok = await t.call("python", code="import os; print(os.getcwd())")
        failed = await t.call("python", code="raise SystemExit(4)")
        crashed = await t.call("python", code="1/0")
        slow = await t.call("python", code="import time; time.sleep(5)", timeout=0.3)
    assert ok.output.strip() == os.path.realpath(work)
    assert "Python exited with code 4" in failed.error
    assert "ZeroDivisionError" in crashed.output and crashed.status == "error"
    assert slow.status == "timeout"


async def test_bash_is_serialised_with_other_unsafe_tools():
    assert kt_tools.TOOLS[0].name == "bash" and not kt_tools.TOOLS[0].concurrency_safe
    assert {t.name for t in kt_tools.TOOLS if not t.concurrency_safe} == {
        "bash",
        "write",
        "edit",
        "multi_edit",
        "notebook_edit",
        "json_write",
    }
