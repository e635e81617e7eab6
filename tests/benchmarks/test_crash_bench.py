"""The crash harness at scale: hundreds of `kill -9`s of a real `kt run`, each resumed.

Run with ``python -m pytest tests/benchmarks -m benchmark -s -k crash``. Set
``KT_CRASH_RUNS`` to change the number of runs (default 200). Prints the figures: runs,
failures, finished calls, finished calls reported interrupted, calls reported in doubt,
re-runs. The budget is zero failures, zero finished calls reported interrupted, zero re-runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "kt_sessions"))
from crash_harness import run_crashes  # noqa: E402  (a helper of the session tests)

pytestmark = pytest.mark.benchmark


def test_crash_harness_at_scale(tmp_path):
    runs = int(os.environ.get("KT_CRASH_RUNS", "200"))
    figures = run_crashes(tmp_path, runs, seed=7_000_003)
    print(
        f"\ncrash runs {figures.runs}, failures {len(figures.failures)}, "
        f"finished calls {figures.finished_calls}, reported interrupted "
        f"{figures.finished_reported_interrupted}, in doubt {figures.in_doubt}, "
        f"re-runs {figures.reruns}"
    )
    for failure in figures.failures[:20]:
        print("  ", failure)
    assert figures.failures == [] and figures.runs == runs
