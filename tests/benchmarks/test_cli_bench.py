"""Speed of the `kt` command: `kt --help`, `kt run --help`, and `kt run` to the first prompt.

Run with ``python -m pytest tests/benchmarks -m benchmark -s -k cli``. Each measurement is a
real subprocess with the full installed plugin set (``KT_PLUGINS`` unset) and a fresh kt home:

* ``kt --help`` and ``kt run --help``: the median of 10 runs of the ``kt`` console script
  (``python -m kt_cli`` when the script is not installed), after one warm-up run that fills the
  command cache (``kt_cli.command_cache``); budget 160 ms each, ten times faster than the
  reference framework's ``kt --help`` (about 1.6 s);
* ``kt run examples/demo --mode cli`` on a pseudo-terminal, from starting the process to the
  prompt being drawn: the median of 5 runs (no budget: it is dominated by loading every
  plugin and building the creature, and is printed for the issue notes).

**Comparison with the reference framework**: set ``KT_BENCH_REFERENCE_KT`` to the ``kt``
executable of a separate virtualenv where it is installed from PyPI
(``python -m venv /tmp/kohaku && /tmp/kohaku/bin/pip install kohakuterrarium``); its
``kt --help`` is then timed the same way and the ratio printed and checked (at least 10×).
"""

from __future__ import annotations

import os
import select
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.benchmark

REPO = Path(__file__).resolve().parents[2]
RUNS = 10
PROMPT_RUNS = 5
HELP_BUDGET = 0.160  # seconds: 10x faster than the reference's 1.6 s


def kt_command() -> list[str]:
    script = Path(sys.executable).parent / "kt"
    if script.is_file():
        return [str(script)]
    found = shutil.which("kt")
    return [found] if found else [sys.executable, "-m", "kt_cli"]


@pytest.fixture
def env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("KT_PLUGINS", "KT_CLI_CACHE")}
    env["KT_HOME"] = str(tmp_path / "kt-home")
    return env


def median_seconds(command: list[str], env: dict[str, str], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - start)
        assert done.returncode == 0, done.stderr.decode()
    return statistics.median(times)


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"]], ids=["kt --help", "run --help"])
def test_help_is_ten_times_faster_than_the_reference(args, env):
    command = [*kt_command(), *args]
    warm = subprocess.run(command, env=env, capture_output=True, cwd=REPO)  # fills the cache
    assert warm.returncode == 0, warm.stderr.decode()
    seconds = median_seconds(command, env)
    print(f"\n{' '.join(['kt', *args])}: median {seconds * 1000:.0f} ms of {RUNS} runs")
    reference = os.environ.get("KT_BENCH_REFERENCE_KT")
    if reference and args == ["--help"]:
        theirs = median_seconds([reference, "--help"], dict(os.environ))
        print(
            f"reference kt --help: median {theirs * 1000:.0f} ms; ours is {theirs / seconds:.1f}x"
        )
        assert theirs / seconds >= 10
    assert seconds <= HELP_BUDGET


def test_time_from_kt_run_to_the_first_prompt(env):
    pytest.importorskip("pyte")
    import fcntl
    import struct
    import termios

    env = {**env, "NO_COLOR": "1"}  # the prompt is then plain "> "
    times = []
    for _ in range(PROMPT_RUNS):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        start = time.perf_counter()
        proc = subprocess.Popen(
            [*kt_command(), "run", "examples/demo", "--mode", "cli", "--no-session"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )
        os.close(slave)
        output = b""
        try:
            while b"Ctrl+D to exit\n> " not in output:  # the banner, then the prompt
                ready, _, _ = select.select([master], [], [], 30)
                assert ready, f"no prompt within 30 s: {output!r}"
                output += os.read(master, 65536).replace(b"\r\n", b"\n")
            times.append(time.perf_counter() - start)
            os.write(master, b"\x04")
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(master)
    seconds = statistics.median(times)
    print(f"\nkt run examples/demo --mode cli to the first prompt: median {seconds * 1000:.0f} ms")
