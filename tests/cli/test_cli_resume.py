"""`kt resume`: a compact preview of where the conversation stopped, and a picker that says
which session is which."""

from __future__ import annotations

import pytest
from kt_cli_helpers import PtyKt, kt_env, run_kt, write

LONG_REPLY = "First line of a long answer.\\n" + "\\n".join(f"detail {i}" for i in range(30))


def creature(folder, name, replies):
    write(folder / "creature.toml", f'name = "{name}"\n[controller]\nllm = "scripted:r.toml"\n')
    write(folder / "r.toml", "".join(f'[[replies]]\ntext = "{r}"\n' for r in replies))
    return folder


def test_the_preview_shows_one_line_per_message(tmp_path, isolated_kt):
    env = kt_env(isolated_kt, plugins="kt_cli,kt_sessions")
    folder = creature(tmp_path / "long", "talker", [LONG_REPLY, "after"])
    assert run_kt(["run", folder, "--mode", "plain"], env=env, stdin="tell me\n").returncode == 0
    resumed = run_kt(["resume", "--last", "--mode", "plain"], env=env, stdin="")
    assert resumed.returncode == 0, resumed.stderr
    lines = resumed.stderr.splitlines()
    assert lines[1:3] == ["> tell me", "First line of a long answer. (+30 lines)"]
    assert "detail 3" not in resumed.stderr


def test_the_picker_shows_name_creature_time_and_last_message(tmp_path, isolated_kt):
    pytest.importorskip("pyte", reason="the terminal tests read the screen with pyte")
    env = kt_env(isolated_kt, plugins="kt_cli,kt_sessions")
    first = creature(tmp_path / "a", "alpha", ["alpha answers"])
    second = creature(tmp_path / "b", "beta", ["beta answers"])
    assert run_kt(["run", first, "--mode", "plain"], env=env, stdin="hi alpha\n").returncode == 0
    assert run_kt(["run", second, "--mode", "plain"], env=env, stdin="hi beta\n").returncode == 0
    names = sorted(p.stem for p in (isolated_kt / "sessions").glob("*.ktsession"))
    with PtyKt(["resume", "--mode", "plain"], env=env) as app:
        screen = app.wait_for("Pick a number")
        rows = [line for line in screen.splitlines() if line[3:4] == " " and line[2:3] == "."]
        assert rows[0].startswith(" 1. beta_") and "  beta  " in rows[0]  # newest first
        assert rows[0].rstrip().endswith("beta answers")
        assert rows[1].startswith(" 2. alpha_") and rows[1].rstrip().endswith("alpha answers")
        assert any(name in rows[1] for name in names)
        assert "-" in rows[0].split("beta  ")[1][:12]  # a date: 2026-12-07 08:20
        app.send("2\r")
        app.wait_for("kt: resumed alpha_")
        app.send("\x04")
        assert app.wait_exit() == 0
