"""The crash harness, a few runs per test session: kill `kt run`, resume, nothing lost.

The large run (hundreds of kills) is ``tests/benchmarks/test_crash_bench.py``.
"""

from __future__ import annotations

from crash_harness import run_crashes

RUNS = 8
SEED = 20261207


def test_killed_runs_lose_no_completed_result_and_rerun_nothing(tmp_path):
    figures = run_crashes(tmp_path, RUNS, SEED)
    assert figures.runs == RUNS
    assert figures.failures == []
    assert figures.finished_reported_interrupted == 0 and figures.reruns == 0
    assert figures.finished_calls > 0  # the kills did land after some calls completed
