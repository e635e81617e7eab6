"""The log file: `--log-level`, `KT_LOG_LEVEL`, `KT_HOME/logs/kt.log` (private, rotated)."""

from __future__ import annotations

import stat
import subprocess
import sys

from kt_cli_helpers import kt_env, run_kt, write

TOOLS = '''
import kt


@kt.tool
def shout(text: str) -> str:
    """Shout."""
    return text.upper()
'''

REPLIES = """
[[replies]]
text = "Shouting."
tool_calls = [{ name = "shout", args = { text = "secret words" } }]

[[replies]]
text = "Done shouting."
"""


def creature(folder):
    write(
        folder / "creature.toml",
        """
        name = "loud"
        [controller]
        llm = "scripted:replies.toml"
        [[tools]]
        name = "shout"
        module = "./tools.py"
        """,
    )
    write(folder / "tools.py", TOOLS)
    write(folder / "replies.toml", REPLIES)
    return folder


def test_a_run_logs_turns_model_calls_and_tools_but_not_what_was_said(tmp_path, isolated_kt):
    env = kt_env(isolated_kt, plugins="kt_cli")
    done = run_kt(
        ["run", creature(tmp_path / "loud"), "--mode", "plain", "--log-level", "debug"],
        env=env,
        stdin="please shout my secret words\n",
    )
    assert done.returncode == 0, done.stderr
    log = isolated_kt / "logs" / "kt.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text()
    assert "kt.events: loud: turn 1 started (user)" in text
    assert "kt.events: loud: model call 1: " in text
    assert "kt.events: loud: tool shout ok in " in text
    assert "kt.events: loud: turn 1 completed after 2 model calls" in text
    assert "DEBUG   kt.events: loud: tool_call_started" in text  # debug: every event's type
    assert "secret" not in text.lower() and "SECRET" not in text  # neither input nor output
    assert "kt.events" not in done.stderr  # the terminal shows events its own way


def test_the_level_comes_from_the_option_or_the_environment(tmp_path, isolated_kt):
    folder = creature(tmp_path / "loud")
    env = {**kt_env(isolated_kt, plugins="kt_cli"), "KT_LOG_LEVEL": "warning"}
    assert run_kt(["run", folder, "--mode", "plain"], env=env, stdin="hi\n").returncode == 0
    assert not (isolated_kt / "logs").exists()  # nothing at warning: no file, no folder
    done = run_kt(["--log-level", "INFO", "run", folder, "--mode", "plain"], env=env, stdin="hi\n")
    assert done.returncode == 0
    text = (isolated_kt / "logs" / "kt.log").read_text()
    assert "turn 1 started" in text and "DEBUG" not in text
    bad = run_kt(["run", folder, "--log-level", "loud"], env=env)
    assert bad.returncode == 2 and "'loud' is not one of 'debug', 'info'" in bad.stderr


def test_the_log_file_is_rotated_and_keeps_three_old_files(tmp_path):
    script = f"""
import logging
from pathlib import Path
from kt_cli import logs
logs.MAX_BYTES = 2000
path = logs.configure(Path({str(tmp_path)!r}), "info")
for i in range(400):
    logging.getLogger("kt.events").info("record %d of the rotation test", i)
print(path)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    folder = tmp_path / "logs"
    assert done.stdout.strip() == str(folder / "kt.log")
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["kt.log", "kt.log.1", "kt.log.2", "kt.log.3"]
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.stat().st_size <= 2000
    assert "record 399 of the rotation test" in (folder / "kt.log").read_text()
    assert done.stderr == ""  # info records of events never reach the terminal
