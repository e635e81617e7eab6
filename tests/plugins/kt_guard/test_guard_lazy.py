"""Loading kt_guard costs none of its features: each feature's module loads when it is used.

Each case runs in a fresh interpreter, so modules other tests imported do not hide an import.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

FEATURES = ["kt_guard.budget", "kt_guard.compaction", "kt_guard.permissions", "kt_guard.sandbox"]

SCRIPT = """
import json, sys

import trio

import kt
from kt.testing import ScriptedLLM


async def main():
    kernel = kt.Kernel()
    loaded = {"kernel": sorted(m for m in sys.modules if m.startswith("kt_guard."))}
    entry = json.loads(sys.argv[1])
    config = {"name": "lazy", "plugins": [entry]} if entry else {"name": "lazy"}
    agent = await kt.Agent.build(config, llm=ScriptedLLM(["hi"]), kernel=kernel)
    async with agent:
        await agent.run("hello")
    loaded["turn"] = sorted(m for m in sys.modules if m.startswith("kt_guard."))
    print(json.dumps(loaded))


trio.run(main)
"""


def loaded_modules(entry: dict | None) -> dict[str, list[str]]:
    """The kt_guard modules imported after ``kt.Kernel()``, then after one turn."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), json.dumps(entry)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def features_in(modules: list[str]) -> list[str]:
    return [m for m in modules if m in FEATURES]


def test_a_kernel_and_a_creature_without_guard_options_import_no_feature():
    loaded = loaded_modules(None)
    assert "kt_guard.hooks" in loaded["kernel"]  # the guard itself is loaded
    assert features_in(loaded["kernel"]) == []
    # The model call's end loads only the compaction policy, which follows [compact].
    assert features_in(loaded["turn"]) == ["kt_guard.compaction"]


def test_a_creature_loads_the_features_its_entry_switches_on():
    loaded = loaded_modules({"name": "kt_guard", "budgets": {"turns": [5, 10]}})
    assert features_in(loaded["kernel"]) == []
    assert features_in(loaded["turn"]) == ["kt_guard.budget", "kt_guard.compaction"]
