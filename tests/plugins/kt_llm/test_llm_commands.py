"""`kt model`, `kt config key|llm`, `kt login`, `kt model check` and `kt run --llm` (CliRunner)."""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner
from fake_llm_servers import SECRET_KEY, openai_text

import kt
import kt_anthropic
import kt_gemini
import kt_llm
import kt_openai
from kt_cli.main import cli
from kt_cli.state import CliState
from kt_llm.keys import KeyStore


def kt_cmd(*args, input=None, env=None):
    kernel = kt.Kernel(plugins=[kt_llm, kt_openai, kt_anthropic, kt_gemini])
    return CliRunner().invoke(cli, list(args), input=input, obj=CliState(kernel=kernel), env=env)


def test_key_set_then_list_shows_it_masked_with_its_source(home, monkeypatch):
    result = kt_cmd("config", "key", "set", "openai", "sk-abcdefgh1234")
    assert result.exit_code == 0, result.output
    assert "sk-abcdefgh1234" not in result.output and "sk-a...1234" in result.output
    assert stat.S_IMODE((home / "keys.toml").stat().st_mode) == 0o600
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaSyExample987654")
    listing = kt_cmd("config", "key", "list").output
    assert "openai      OPENAI_API_KEY      stored   sk-a...1234" in listing
    assert "gemini      GEMINI_API_KEY      env      AIza...7654" in listing
    assert "anthropic   ANTHROPIC_API_KEY   missing" in listing
    assert "ollama" not in listing  # takes no key


def test_key_set_prompts_without_echo_and_refuses_unknown_providers():
    result = kt_cmd("config", "key", "set", "anthropic", input="sk-ant-typed-secret-99\n")
    assert result.exit_code == 0, result.output
    assert "sk-ant-typed-secret-99" not in result.output
    assert KeyStore().stored() == {"anthropic": "sk-ant-typed-secret-99"}
    result = kt_cmd("config", "key", "set", "opnai", "x")
    assert result.exit_code == 2
    assert "unknown provider 'opnai'. Did you mean 'openai'" in result.output


def test_key_remove():
    KeyStore().set("openai", "sk-1234567890")
    assert kt_cmd("config", "key", "remove", "openai").exit_code == 0
    assert KeyStore().stored() == {}
    result = kt_cmd("config", "key", "remove", "openai")
    assert result.exit_code == 1 and "no key is stored for 'openai'" in result.output


def test_login_shows_the_current_key_masked_and_stores_the_new_one(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-old-env-key-0000")
    result = kt_cmd("login", "openai", input="sk-new-typed-key-1111\n")
    assert result.exit_code == 0, result.output
    assert "current key for openai: sk-o...0000 (from OPENAI_API_KEY)" in result.output
    assert "sk-new-typed-key-1111" not in result.output
    assert "the stored key now wins over OPENAI_API_KEY" in result.output
    assert KeyStore().lookup("openai", "OPENAI_API_KEY") == ("sk-new-typed-key-1111", "stored")
    assert kt_cmd("login", "nobody", input="x\n").exit_code == 2


def test_model_list_default_and_show():
    listing = kt_cmd("model", "list")
    assert listing.exit_code == 0, listing.output
    assert "openai/gpt-4o " in listing.output and "anthropic/claude-sonnet-4-6" in listing.output
    assert "sonnet = anthropic/claude-sonnet-4-6" in listing.output
    assert "No default set" in listing.output
    result = kt_cmd("model", "default", "sonnet")
    assert result.output.strip() == "default model: anthropic/claude-sonnet-4-6"
    assert kt_cmd("model", "default").output.strip() == "anthropic/claude-sonnet-4-6"
    assert "* anthropic/claude-sonnet-4-6" in kt_cmd("model", "list").output
    result = kt_cmd("model", "default", "sonet")
    assert result.exit_code == 2 and "Did you mean 'sonnet'" in result.output
    assert kt_cmd("model", "default", "--unset").exit_code == 0
    assert kt_cmd("model", "default").output.startswith("(none set)")


def test_model_show_resolves_a_selector():
    KeyStore().set("openai", "sk-abcdefgh1234")
    result = kt_cmd("model", "show", "gpt-5.4@high")
    assert result.exit_code == 0, result.output
    lines = dict(
        line.split(None, 1) if " " in line else (line, "") for line in result.output.splitlines()
    )
    assert "openai/gpt-5.4@reasoning=high" in result.output
    assert "sk-a...1234 (stored)" in result.output and "sk-abcdefgh1234" not in result.output
    assert "option reasoning_effort  'high'" in result.output
    assert lines


def test_config_llm_add_list_remove():
    result = kt_cmd(
        "config",
        "llm",
        "add",
        "lab",
        "--base-url",
        "http://lab:8000/v1/",
        "--model",
        "qwen3",
        "--key-env",
        "LAB_KEY",
        "--option",
        "temperature=0.2",
        "--option",
        "api=responses",
    )
    assert result.exit_code == 0, result.output
    listing = kt_cmd("config", "llm", "list").output
    assert "lab   openai   http://lab:8000/v1  qwen3  LAB_KEY" in listing
    shown = kt_cmd("model", "show", "lab").output
    assert "option temperature  0.2" in shown and "option api          'responses'" in shown
    assert kt_cmd("config", "llm", "add", "openai", "--base-url", "http://x/v1").exit_code == 2
    assert kt_cmd("config", "llm", "add", "bad", "--base-url", "ftp://x").exit_code == 2
    assert (
        kt_cmd("config", "llm", "add", "x", "--base-url", "http://x", "--backend", "nope").exit_code
        == 2
    )
    KeyStore().set("lab", "lab-key-123456")
    assert kt_cmd("config", "llm", "remove", "lab").exit_code == 0
    assert KeyStore().stored() == {}
    assert "no custom endpoints" in kt_cmd("config", "llm", "list").output


def test_model_check_reports_keys_and_reachability(server, home):
    KeyStore().set("openai", "sk-abcdefgh1234")
    kt_cmd("config", "llm", "add", "fake", "--base-url", f"{server.url}/v1", "--model", "m")
    kt_cmd("config", "llm", "add", "dead", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    result = kt_cmd("model", "check")
    assert result.exit_code == 0, result.output
    assert "OK    keys file: " in result.output and "(mode 600)" in result.output
    assert "OK    default model: openai/gpt-5.4 (the first provider with a key)" in result.output
    assert "OK    provider openai: key stored (sk-a...1234)" in result.output
    online = kt_cmd("model", "check", "--online")
    assert online.exit_code == 1, online.output
    assert f"OK    endpoint fake: {server.url}/v1 answers (HTTP 404)" in online.output
    assert "FAIL  endpoint dead: cannot reach http://127.0.0.1:9/v1" in online.output
    (home / "keys.toml").chmod(0o644)
    assert "WARN  keys file:" in kt_cmd("model", "check").output


@pytest.fixture
def creature(tmp_path):
    folder = tmp_path / "creature"
    folder.mkdir()
    (folder / "creature.toml").write_text('name = "tester"\nsystem_prompt = "Be brief."\n')
    return folder


def test_kt_run_with_a_profile_selector(server, creature):
    kt_cmd(
        "config", "llm", "add", "fake", "--base-url", f"{server.url}/v1", "--model", "gpt-4o-mini"
    )
    kt_cmd("config", "key", "set", "fake", SECRET_KEY)
    server.replies.append(openai_text("Hello from the CLI."))
    result = kt_cmd(
        "run", str(creature), "--llm", "fake@temperature=0", "--mode", "plain", input="hi\n"
    )
    assert result.exit_code == 0, result.output
    assert "Hello from the CLI." in result.stdout
    assert SECRET_KEY not in result.output
    assert server.requests[0].body["temperature"] == 0.0
