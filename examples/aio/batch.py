"""The batch pattern under asyncio: sixty creatures at once, each with a folder and a session.

python examples/aio/batch.py                       # offline: a scripted model
python examples/aio/batch.py openai/gpt-4o-mini    # any model selector
"""

import asyncio
import sys
import tempfile
from pathlib import Path

import kt
from kt.testing import ScriptedLLM
from kt_portal import aio

JOBS = [f"Write a one-line poem about the number {n}." for n in range(60)]


async def run_job(kernel: kt.Kernel, folder: Path, task: str, selector: str | None) -> None:
    folder.mkdir()
    agent = await aio.Agent.build(
        {"name": folder.name, "system_prompt": "You write one-line poems."},
        llm=None if selector else ScriptedLLM([f"A poem for {folder.name}."]),
        llm_selector=selector,
        kernel=kernel,
        pwd=folder,
        session=folder / "session.ktsession",
    )
    async with agent:
        await agent.run(task)


async def main(selector: str | None) -> None:
    root = Path(tempfile.mkdtemp(prefix="kt-batch-"))
    kernel = kt.Kernel()
    async with asyncio.TaskGroup() as jobs:
        for n, task in enumerate(JOBS):
            jobs.create_task(run_job(kernel, root / f"job-{n:02d}", task, selector))
    for n in range(len(JOBS)):
        reader = kt.SessionReader(root / f"job-{n:02d}" / "session.ktsession", kernel=kernel)
        [turn] = reader.turns()
        print(f"job-{n:02d} {turn.status}: {turn.assistant_text}")
    print(f"{len(JOBS)} sessions under {root}")


asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
