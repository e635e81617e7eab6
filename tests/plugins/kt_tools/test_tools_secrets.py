"""No provider key reaches a tool's environment, its recorded output, a session or an export.

The end-to-end test runs the real ``kt run`` with a scripted model whose tools try every way
to print the keys (``env``, ``$OPENAI_API_KEY``, ``cat keys.toml``, Python's ``os.environ``,
the ``read`` tool on ``keys.toml``), then greps every byte the run left: stdout, stderr, the
session file, and both export formats.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kt_tools_helpers import drive

from kt_tools.secrets import is_secret_name, known_secrets, redact, tool_environment

ENV_KEY = "sk-KTFAKE-env-0123456789abcdef"
STORED_KEY = "sk-KTFAKE-stored-fedcba9876543210"
EXTRA_TOKEN = "ghp_KTFAKEtoken0123456789"

REPLIES = """
[[replies]]
text = "looking"
tool_calls = [
  {{ name = "bash", args = {{ command = "env; echo key=$OPENAI_API_KEY; cat {home}/keys.toml" }} }},
  {{ name = "python", args = {{ code = "import os; print(dict(os.environ))" }} }},
  {{ name = "read", args = {{ path = "{home}/keys.toml" }} }},
  {{ name = "bash", args = {{ command = "echo token=$GITHUB_TOKEN" }} }},
]

[[replies]]
text = "done"
"""


def kt(*args: str, env: dict[str, str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kt_cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_a_run_leaks_no_key_anywhere(tmp_path, capsys):
    home, creature, work = tmp_path / "home", tmp_path / "creature", tmp_path / "work"
    for folder in (home, creature, work):
        folder.mkdir()
    (home / "keys.toml").write_text(f'openai = "{STORED_KEY}"\n')
    (creature / "creature.toml").write_text(
        'name = "leaky"\n'
        "tools = [\n"
        '  { name = "bash", options = { pass_env = ["GITHUB_TOKEN"] } },\n'
        '  { name = "python" },\n'
        '  { name = "read", options = { path_guard = "off" } },\n'
        "]\n"
    )
    (tmp_path / "replies.toml").write_text(REPLIES.format(home=home))
    env = {
        **os.environ,
        "KT_HOME": str(home),
        "KT_PLUGINS": "kt_tools,kt_sessions,kt_cli",
        "OPENAI_API_KEY": ENV_KEY,
        "GITHUB_TOKEN": EXTRA_TOKEN,  # brought back by pass_env: the tool sees it, the record not
    }
    env.pop("KT_SESSION_DIR", None)
    run = kt(
        "run",
        "creature",
        "--llm",
        "scripted:replies.toml",
        "--mode",
        "plain",
        "--pwd",
        "work",
        env=env,
        cwd=tmp_path,
        stdin="go\n",
    )
    assert run.returncode == 0, run.stderr
    (session,) = (home / "sessions").glob("*.ktsession")
    exports = [
        kt("sessions", "export", str(session), "--format", fmt, env=env, cwd=tmp_path).stdout
        for fmt in ("jsonl", "markdown")
    ]
    assert "[redacted openai key]" in exports[0]  # the keys file was read, and redacted
    assert "[redacted GITHUB_TOKEN]" in exports[0]  # passed to the tool, redacted in the record
    texts = [run.stdout, run.stderr, *exports]
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "keys.toml"]
    leaks = [
        where
        for key in (ENV_KEY, STORED_KEY, EXTRA_TOKEN)
        for where, data in [
            *((f"output {i}", t.encode()) for i, t in enumerate(texts)),
            *((str(p), p.read_bytes()) for p in files),
        ]
        if key.encode() in data
    ]
    with capsys.disabled():
        print(f"\nsecrets: {len(texts)} outputs and {len(files)} files searched, leaks: {leaks}")
    assert leaks == []


async def test_tools_run_without_provider_keys_unless_passed(work, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-0123456789")
    monkeypatch.setenv("PLAIN_SETTING", "visible")
    tools = ["bash", {"name": "python", "options": {"pass_env": ["SOME_SERVICE_TOKEN"]}}]
    async with drive(work, tools) as driver:
        shell = await driver.call("bash", command="echo [$OPENAI_API_KEY][$PLAIN_SETTING]")
        code = await driver.call(
            "python",
            code="import os; print(os.environ.get('SOME_SERVICE_TOKEN') == 'tok-0123456789')",
        )
    assert shell.output.strip() == "[][visible]"
    assert code.output.strip() == "True"


def test_secret_names_and_redaction(tmp_path):
    assert is_secret_name("OPENAI_API_KEY") and is_secret_name("AWS_SECRET_ACCESS_KEY")
    assert is_secret_name("MY_BACKEND_KEY", ["MY_BACKEND_KEY"]) and not is_secret_name("HOME")
    env = {"A_API_KEY": "k" * 20, "SHORT_TOKEN": "abc", "PATH": "/bin"}
    assert tool_environment(env) == {"PATH": "/bin"}  # removed by name, whatever the value
    assert tool_environment(env, keep=["A_API_KEY"])["A_API_KEY"] == "k" * 20
    (tmp_path / "keys.toml").write_text('anthropic = "sk-ant-0123456789"\n')
    secrets = known_secrets(env, home=tmp_path)
    assert secrets["k" * 20] == "A_API_KEY" and secrets["sk-ant-0123456789"] == "anthropic key"
    assert "abc" not in secrets  # too short to be a key, and to redact safely
    assert redact(f"x {'k' * 20} y", secrets) == "x [redacted A_API_KEY] y"
