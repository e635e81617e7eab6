"""The model catalog: the generated file, the user's models.toml, profile overrides, costs,
the backends' context_window, compaction from the catalog's window, `kt model list/show`."""

from __future__ import annotations

import json
import zipfile

import pytest
import trio
from click.testing import CliRunner
from fake_llm_servers import SECRET_KEY, openai_text, openai_usage

import kt
import kt_anthropic
import kt_gemini
import kt_guard
import kt_llm
import kt_openai
from kt.errors import ConfigValidationError
from kt.events import CompactionCompleted, CompactionStarted
from kt_cli.main import cli
from kt_cli.state import CliState
from kt_llm import refresh_models
from kt_llm.models import (
    ModelCatalog,
    ModelFacts,
    Prices,
    describe,
    presets,
    shipped_catalog,
)

LITELLM_SHAPED = {
    "sample_spec": {"mode": "one of: chat, embedding", "litellm_provider": "one of ..."},
    "gpt-9": {
        "litellm_provider": "openai",
        "mode": "chat",
        "max_input_tokens": 400000,
        "max_output_tokens": 128000,
        "input_cost_per_token": 1.25e-06,
        "output_cost_per_token": 1e-05,
        "cache_read_input_token_cost": 1.25e-07,
        "supports_function_calling": True,
        "supports_vision": True,
        "supports_reasoning": True,
    },
    "text-embedding-9": {"litellm_provider": "openai", "mode": "embedding"},
    "gpt-9-realtime": {"litellm_provider": "openai", "mode": "chat"},
    "claude-x-1": {
        "litellm_provider": "anthropic",
        "mode": "chat",
        "max_input_tokens": 200000,
        "input_cost_per_token": 3e-06,
        "output_cost_per_token": 1.5e-05,
        "cache_creation_input_token_cost": 3.75e-06,
    },
    "deepseek-chat": {"litellm_provider": "deepseek", "mode": "chat", "max_input_tokens": 1},
    "deepseek/deepseek-chat": {
        "litellm_provider": "deepseek",
        "mode": "chat",
        "max_input_tokens": 131072,
    },
    "bedrock/claude-x-1": {"litellm_provider": "bedrock", "mode": "chat"},
}


def test_refresh_converts_litellms_table():
    catalog = refresh_models.convert(LITELLM_SHAPED)
    assert set(catalog) == {"openai/gpt-9", "anthropic/claude-x-1", "deepseek/deepseek-chat"}
    assert catalog["openai/gpt-9"] == {
        "context_window": 400000,
        "max_output": 128000,
        "prices": {"input": 1.25, "output": 10.0, "cache_read": 0.125},
        "tools": True,
        "vision": True,
        "reasoning": True,
    }
    assert catalog["anthropic/claude-x-1"]["prices"]["cache_write"] == 3.75
    assert catalog["deepseek/deepseek-chat"]["context_window"] == 131072  # prefixed entry wins


def test_refresh_writes_a_catalog_kt_reads_back(tmp_path, monkeypatch):
    wheel = tmp_path / "litellm-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(refresh_models.TABLE_IN_WHEEL, json.dumps(LITELLM_SHAPED))
    output = tmp_path / "models.toml"
    monkeypatch.setattr(refresh_models, "PRESETS", {"openai": ("gpt-9",)})
    assert refresh_models.main(["--source", str(wheel), "--output", str(output)]) == 0
    from kt_llm.models import _read_tables

    tables = _read_tables(output, what="test")
    assert tables["openai/gpt-9"].prices == Prices(input=1.25, output=10.0, cache_read=0.125)
    assert "litellm-9.9.9" in output.read_text()


def test_refresh_refuses_a_table_without_a_preset():
    with pytest.raises(ValueError, match="openai/gpt-missing"):
        refresh_models.render({}, source="x", presets={"openai": ("gpt-missing",)})


def test_every_preset_has_a_window_and_prices():
    catalog = ModelCatalog(env={})
    for provider in ("openai", "anthropic", "gemini", "deepseek", "moonshot", "zai"):
        assert presets(provider), provider
        for model in presets(provider):
            info = catalog.lookup(provider, model)
            assert info.context_window and info.max_output, (provider, model)
            assert info.prices.known, (provider, model)
    assert len(shipped_catalog()) > 150


def test_lookups_fall_back_sensibly():
    catalog = ModelCatalog(env={})
    dated = catalog.lookup("anthropic", "claude-sonnet-4-5-20250929")
    assert dated.context_window == catalog.lookup("anthropic", "claude-sonnet-4-5").context_window
    routed = catalog.lookup("openrouter", "anthropic/claude-sonnet-4.6")
    assert routed.facts == catalog.lookup("anthropic", "claude-sonnet-4-6").facts
    custom = catalog.lookup("lab", "gpt-4o", backend="openai")
    assert custom.context_window == 128000
    plan = catalog.lookup("glm-coding", "glm-4.6")
    assert plan.context_window == 200000 and plan.prices.input == 0.0
    assert catalog.lookup("ollama", "llama3.2").sources == ()


def test_users_models_toml_wins_field_by_field(home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "models.toml").write_text(
        '["openai/gpt-4o"]\nprices = { input = 1.0 }\n\n'
        '["ollama/qwen3"]\ncontext_window = 32768\ntools = true\n'
    )
    catalog = ModelCatalog()
    info = catalog.lookup("openai", "gpt-4o")
    assert info.prices.input == 1.0 and info.prices.output == 10.0  # only input replaced
    assert info.context_window == 128000 and info.sources[-1].endswith("models.toml")
    assert catalog.lookup("ollama", "qwen3").facts == ModelFacts(context_window=32768, tools=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('["openai/x"]\ncontext_windw = 5\n', "context_windw"),
        ('["openai/x"]\ncontext_window = "big"\n', "context_window"),
        ('["openai/x"]\ncontext_window = -1\n', "positive"),
        ('["gpt-4o"]\ncontext_window = 5\n', "PROVIDER/gpt-4o"),
    ],
)
def test_a_bad_models_toml_is_a_typed_error_naming_the_fix(home, text, message):
    home.mkdir(parents=True, exist_ok=True)
    (home / "models.toml").write_text(text)
    with pytest.raises(ConfigValidationError, match=message):
        ModelCatalog()


def test_cost_bills_each_part_of_the_prompt_at_its_price():
    info = ModelCatalog(env={}).lookup("anthropic", "claude-sonnet-4-6")
    usage = kt.Usage(
        prompt_tokens=1_000_000 + 2_000_000 + 100_000,
        completion_tokens=10_000,
        cached_tokens=2_000_000,
        cache_write_tokens=100_000,
    )
    # fresh 1M x $3 + read 2M x $0.30 + written 0.1M x $3.75 + out 0.01M x $15
    assert info.cost(usage) == pytest.approx(3 + 0.6 + 0.375 + 0.15)
    assert ModelCatalog(env={}).lookup("ollama", "x").cost(usage) is None


def profile(provider, model, **options) -> kt.LLMProfile:
    return kt.LLMProfile(
        name=f"{provider}/{model}",
        backend=provider,
        model=model,
        base_url="http://127.0.0.1:9/v1",
        api_key=SECRET_KEY,
        options=options,
    )


@pytest.mark.parametrize(
    ("provider", "model", "window"),
    [
        ("openai", "gpt-4o", 128000),
        ("anthropic", "claude-haiku-4-5", 200000),
        ("gemini", "gemini-2.5-flash", 1048576),
        ("ollama", "llama3.2", None),
    ],
)
def test_every_backend_reports_its_context_window(kernel, provider, model, window):
    llm = kernel.llm_backends[provider].factory(profile(provider, model))
    assert llm.context_window == window


def test_a_profile_overrides_the_catalog_and_nothing_reaches_the_wire(kernel):
    options = {"context_window": 50000, "prices": {"input": 0.5, "output": 1.0}}
    llm = kernel.llm_backends["openai"].factory(profile("openai", "gpt-4o", **options))
    assert llm.context_window == 50000
    assert llm.model_info.prices == Prices(input=0.5, output=1.0, cache_read=1.25)
    assert llm.model_info.sources == ("catalog", "profile")
    assert "context_window" not in llm.options and "prices" not in llm.options
    with pytest.raises(ConfigValidationError, match="context_window"):
        describe(profile("openai", "gpt-4o", context_window="lots"))


async def test_compaction_starts_from_the_catalogs_window(server):
    """gpt-4o's window is 128,000 tokens: a prompt of 110,000 passes 0.8 of it."""
    server.replies += [
        openai_text("first answer", usage=openai_usage(1_000, 10)),
        openai_text("second answer", usage=openai_usage(110_000, 10)),
    ]
    server.default = lambda recorded: openai_text("A short summary.", usage=openai_usage(50, 5))
    llm = (
        kt.Kernel(plugins=[kt_llm, kt_openai])
        .llm_backends["openai"]
        .factory(
            kt.LLMProfile(
                name="openai/gpt-4o",
                backend="openai",
                model="gpt-4o",
                base_url=f"{server.url}/v1",
                api_key=SECRET_KEY,
            )
        )
    )
    assert llm.context_window == 128000
    kernel = kt.Kernel(plugins=[kt_llm, kt_openai, kt_guard.plugin])
    async with await kt.Agent.build(
        {"name": "t", "compact": {"keep_recent_turns": 1}}, llm=llm, kernel=kernel
    ) as agent:
        events = agent.subscribe()
        await agent.run("a question")
        await agent.run("a long question")
        seen = []
        with trio.fail_after(10):  # a guard against a hang, not a wait: the event ends it
            async for event in events:
                seen.append(type(event))
                if isinstance(event, CompactionCompleted):
                    break
    assert CompactionStarted in seen
    summary_request = server.requests[2].body["messages"]
    assert "[assistant]: first answer" in json.dumps(summary_request)  # the model summarised


def kt_cmd(*args):
    kernel = kt.Kernel(plugins=[kt_llm, kt_openai, kt_anthropic, kt_gemini])
    return CliRunner().invoke(cli, list(args), obj=CliState(kernel=kernel))


def test_model_list_and_show_print_the_catalogs_facts():
    listing = kt_cmd("model", "list").output
    assert "CONTEXT" in listing and "IN/1M" in listing
    row = next(line for line in listing.splitlines() if "anthropic/claude-haiku-4-5 " in line)
    assert row.split()[1:4] == ["200k", "$1", "$5"]
    shown = kt_cmd("model", "show", "haiku").output
    assert "context window  200,000 tokens" in shown
    assert "price per 1M    input $1, output $5, cache read $0.1, cache write $1.25" in shown
    assert "facts from      catalog" in shown
    unknown = kt_cmd("model", "show", "ollama/llama3.2").output
    assert "nothing known: add them to ~/.kt/models.toml" in unknown
