"""Sixty creatures at once, each in its own folder with its own session file, read back after.

The batch pattern: many independent jobs, each a creature with a working dir of its own (so
their files never mix) and a session file (so every run can be read, resumed or audited
later). One kernel serves them all: one plugin set, one HTTP client per provider.

    python examples/batch.py                       # offline: a scripted model
    python examples/batch.py openai/gpt-4o-mini    # any model selector
"""

import sys
import tempfile
from pathlib import Path

import trio

import kt
from kt.testing import ScriptedLLM

JOBS = [f"Write a one-line poem about the number {n}." for n in range(60)]


async def run_job(kernel: kt.Kernel, folder: Path, task: str, selector: str | None) -> None:
    folder.mkdir()
    agent = await kt.Agent.build(
        {"name": folder.name, "system_prompt": "You write one-line poems."},
        llm=None if selector else ScriptedLLM([f"A poem for {folder.name}."]),
        llm_selector=selector,
        kernel=kernel,
        pwd=folder,  # the job's files stay in its folder
        session=folder / "session.ktsession",  # and its record next to them
    )
    async with agent:
        await agent.run(task)


async def main(selector: str | None) -> None:
    root = Path(tempfile.mkdtemp(prefix="kt-batch-"))
    kernel = kt.Kernel()
    async with trio.open_nursery() as nursery:
        for n, task in enumerate(JOBS):
            nursery.start_soon(run_job, kernel, root / f"job-{n:02d}", task, selector)
    for n in range(len(JOBS)):
        reader = kt.SessionReader(root / f"job-{n:02d}" / "session.ktsession", kernel=kernel)
        [turn] = reader.turns()
        print(f"job-{n:02d} {turn.status}: {turn.assistant_text}")
    print(f"{len(JOBS)} sessions under {root}")


trio.run(main, sys.argv[1] if len(sys.argv) > 1 else None)
