"""Every command's failure reads the same: `kt: error: WHAT; FIX`, whoever raised it."""

from __future__ import annotations

from kt_cli_helpers import kt_env, run_kt, write


def test_kt_search_failures_use_the_kt_error_form(tmp_path, isolated_kt):
    env = kt_env(isolated_kt, plugins="kt_sessions")
    folder = tmp_path / "c"
    write(folder / "creature.toml", 'name = "c"\n[controller]\nllm = "scripted:r.toml"\n')
    write(folder / "r.toml", 'replies = ["hello there"]\n')
    assert run_kt(["run", folder, "--mode", "plain"], env=env, stdin="hi\n").returncode == 0
    (session,) = (isolated_kt / "sessions").glob("*.ktsession")
    name = session.name.removesuffix(".ktsession")

    done = run_kt(["search", name, "hello", "--mode", "semantic"], env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("kt: error: No vector index found for this session; build one")
    assert "Error:" not in done.stderr

    missing = run_kt(["search", "nosuch", "hello"], env=env)
    assert missing.returncode == 1
    assert missing.stderr.startswith("kt: error: No session found matching: nosuch")

    usage = run_kt(["search", name], env=env)  # a usage error keeps click's usage text
    assert usage.returncode == 2
    assert "Usage: kt search" in usage.stderr and "Missing argument 'QUERY'" in usage.stderr
