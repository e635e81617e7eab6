"""`kt config show|path|edit` and `kt config llm edit`: the settings files and editing an endpoint."""

from __future__ import annotations

import stat
import tomllib

from kt_cli_helpers import kt_env, run_kt, write

PLUGINS = "kt_llm,kt_openai"


def test_show_and_path_name_every_settings_file(isolated_kt):
    env = kt_env(isolated_kt, plugins=PLUGINS)
    write(isolated_kt / "llm.toml", 'default = "openai/gpt-5.4"\n')
    shown = run_kt(["config", "show"], env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"home         {isolated_kt}"
    assert f"llm          {isolated_kt / 'llm.toml'}  # the default model" in shown.stdout
    assert f"keys         {isolated_kt / 'keys.toml'}  (absent)  # API keys" in shown.stdout
    assert run_kt(["config"], env=env).stdout == shown.stdout  # bare `kt config` shows them
    assert run_kt(["config", "path", "mcp"], env=env).stdout == f"{isolated_kt / 'mcp.toml'}\n"
    assert run_kt(["config", "path"], env=env).stdout == f"{isolated_kt}\n"
    unknown = run_kt(["config", "path", "nope"], env=env)
    assert unknown.returncode == 2
    assert "kt: error: unknown config file 'nope'. Known: config, llm, keys" in unknown.stderr


def test_edit_opens_the_file_in_the_editor_and_makes_a_missing_one_private(tmp_path, isolated_kt):
    editor = write(
        tmp_path / "editor.sh", '#!/bin/sh\nprintf \'openai = "sk-edited"\\n\' >> "$1"\n'
    )
    editor.chmod(0o755)
    env = {**kt_env(isolated_kt, plugins=PLUGINS), "EDITOR": str(editor)}
    env.pop("VISUAL", None)
    done = run_kt(["config", "edit", "keys"], env=env)
    assert done.returncode == 0, done.stderr
    keys = isolated_kt / "keys.toml"
    assert keys.read_text() == 'openai = "sk-edited"\n'
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    listed = run_kt(["config", "key", "list"], env=env).stdout
    assert "stored" in listed and "sk-e...ited" in listed
    refused = run_kt(["config", "edit", "logs"], env=env)
    assert refused.returncode == 1 and "the log file is kt's to write" in refused.stderr


def test_llm_edit_changes_what_is_given_and_keeps_the_rest(isolated_kt):
    env = kt_env(isolated_kt, plugins=PLUGINS)
    added = run_kt(
        [
            "config",
            "llm",
            "add",
            "lab",
            "--base-url",
            "http://gpu:8000/v1",
            "--model",
            "qwen",
            "--key-env",
            "LAB_KEY",
            "--option",
            "temperature=0.2",
            "--option",
            "timeout=300",
        ],
        env=env,
    )
    assert added.returncode == 0, added.stderr
    changed = run_kt(
        [
            "config",
            "llm",
            "edit",
            "lab",
            "--model",
            "qwen3-coder",
            "--option",
            "temperature=0",
            "--unset",
            "timeout",
        ],
        env=env,
    )
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout == (
        "changed endpoint lab: http://gpu:8000/v1 (openai format, model qwen3-coder, key LAB_KEY)\n"
    )
    endpoint = tomllib.loads((isolated_kt / "llm.toml").read_text())["endpoints"]["lab"]
    assert endpoint == {
        "backend": "openai",
        "base_url": "http://gpu:8000/v1",
        "model": "qwen3-coder",
        "api_key_env": "LAB_KEY",
        "options": {"temperature": 0},
    }
    bad = run_kt(["config", "llm", "edit", "lab", "--base-url", "gpu:8000"], env=env)
    assert bad.returncode == 2 and "must start with http:// or https://" in bad.stderr
    missing = run_kt(["config", "llm", "edit", "nolab", "--model", "x"], env=env)
    assert missing.returncode == 1 and "no custom endpoint named 'nolab'" in missing.stderr
