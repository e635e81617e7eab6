"""A key an endpoint refuses: the error names that endpoint's key and how to fix it."""

from __future__ import annotations

from kt_cli_helpers import kt_env, run_kt, write
from kt_requests_helpers import FakeServer, anthropic_error, openai_error

PLUGINS = "kt_cli,kt_llm,kt_openai"


def refusing_server() -> FakeServer:
    server = FakeServer()
    server.replies.append(
        openai_error(
            401,
            "Incorrect API key provided: lab-*****.",
            "invalid_request_error",
            "invalid_api_key",
        )
    )
    return server


def run_with_endpoint(tmp_path, isolated_kt, endpoint: str, settings: str, plugins: str, **keys):
    """``kt run`` of a plain creature on the custom *endpoint* (its ``llm.toml`` *settings*)."""
    write(isolated_kt / "llm.toml", f"[endpoints.{endpoint}]\n{settings}")
    write(tmp_path / "c" / "creature.toml", 'name = "c"\n')
    return run_kt(
        ["run", tmp_path / "c", "--llm", endpoint, "--mode", "plain", "--no-session"],
        env={**kt_env(isolated_kt, plugins=plugins), **keys},
        stdin="hello\n",
    )


def test_a_custom_endpoint_refusing_its_key_names_that_key(tmp_path, isolated_kt):
    with refusing_server() as server:
        settings = (
            f'backend = "openai"\nbase_url = "{server.url}/v1"\n'
            'model = "lab-model"\napi_key_env = "LAB_KEY"\n'
        )
        done = run_with_endpoint(
            tmp_path,
            isolated_kt,
            "lab",
            settings,
            PLUGINS,
            LAB_KEY="lab-wrong",
            OPENAI_API_KEY="sk-other",
        )
    assert done.returncode == 1
    assert (
        f"The key of endpoint 'lab' ({server.url}/v1) was refused: run `kt config key set lab` "
        "or set LAB_KEY with a valid key" in done.stderr
    )
    assert "OPENAI_API_KEY" not in done.stderr and "kt login openai" not in done.stderr
    assert "lab-wrong" not in done.stderr  # the key itself is never shown


def test_the_provider_s_own_endpoint_still_names_its_login(tmp_path, isolated_kt):
    with refusing_server() as server:
        write(
            tmp_path / "c" / "creature.toml",
            f'name = "c"\n[controller]\nllm = "openai/gpt-5.4"\nbase_url = "{server.url}/v1"\n'
            'api_key_env = "MY_OPENAI_KEY"\n',
        )
        env = {**kt_env(isolated_kt, plugins=PLUGINS), "MY_OPENAI_KEY": "sk-wrong"}
        done = run_kt(
            ["run", tmp_path / "c", "--mode", "plain", "--no-session"], env=env, stdin="hello\n"
        )
    assert done.returncode == 1
    # a creature's own variable, with the provider's login command
    assert "Run `kt login openai` or set MY_OPENAI_KEY with a valid key" in done.stderr


def test_an_anthropic_compatible_endpoint_names_its_own_key_too(tmp_path, isolated_kt):
    server = FakeServer()
    server.replies.append(anthropic_error(401, "authentication_error", "invalid x-api-key"))
    with server:
        settings = (
            f'backend = "anthropic"\nbase_url = "{server.url}"\n'
            'model = "claude-sonnet-4-6"\napi_key_env = "GATEWAY_KEY"\n'
        )
        done = run_with_endpoint(
            tmp_path,
            isolated_kt,
            "gateway",
            settings,
            "kt_cli,kt_llm,kt_anthropic",
            GATEWAY_KEY="gw-wrong",
        )
    assert done.returncode == 1
    assert (
        f"The key of endpoint 'gateway' ({server.url}) was refused: run "
        "`kt config key set gateway` or set GATEWAY_KEY with a valid key" in done.stderr
    )
    assert "ANTHROPIC_API_KEY" not in done.stderr
