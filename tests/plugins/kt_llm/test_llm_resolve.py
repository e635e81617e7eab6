"""Model selection: the kt_resolve_llm hook, presets, aliases, variations, keys, the order."""

from __future__ import annotations

import os

import pytest
from fake_llm_servers import SECRET_KEY, openai_text

import kt
import kt_llm
import kt_openai
from kt.config import load_creature_config
from kt_llm.catalog import resolve
from kt_llm.keys import KeyStore
from kt_llm.settings import Endpoint, Settings


def creature(**controller):
    return load_creature_config({"name": "c", "controller": controller})


def profile_for(kernel, selector=None, **controller) -> kt.LLMProfile:
    return resolve(selector, creature(**controller), kernel)


# -- the hook contract ---------------------------------------------------------------------------


class _Fixed:
    """Answers every model selection with one profile of the scripted backend."""

    def __init__(self, script_path):
        self.script_path = script_path
        self.seen = []

    @kt.hookimpl
    def kt_resolve_llm(self, selector, creature, kernel):
        self.seen.append((selector, creature.name, kernel))
        if selector == "pass":
            return None
        return kt.LLMProfile(name="fixed/profile", backend="scripted", model=str(self.script_path))


async def test_hook_kt_resolve_llm(tmp_path):
    script = tmp_path / "replies.toml"
    script.write_text('[[replies]]\ntext = "from the hook"\n')
    plugin = _Fixed(script)
    kernel = kt.Kernel(plugins=[plugin])
    agent = await kt.Agent.build({"name": "c"}, kernel=kernel, llm_selector="anything")
    assert agent.llm_name == "fixed/profile"
    assert plugin.seen == [("anything", "c", kernel)]
    async with agent:
        assert (await agent.run("hi")).text == "from the hook"
    # None leaves the choice to the kernel's own parsing
    with pytest.raises(kt.UnknownNameError, match="unknown LLM backend 'pass'"):
        await kt.Agent.build({"name": "c"}, kernel=kernel, llm_selector="pass")
    # an llm= instance bypasses the hook entirely
    plugin.seen.clear()
    await kt.Agent.build({"name": "c"}, kernel=kernel, llm=kt.testing.ScriptedLLM(["x"]))
    assert plugin.seen == []


async def test_hook_profile_naming_an_unknown_backend_is_an_error():
    class Bad:
        @kt.hookimpl
        def kt_resolve_llm(self):
            return kt.LLMProfile(name="x/y", backend="nowhere", model="y")

    with pytest.raises(kt.UnknownNameError, match="needs LLM backend 'nowhere'"):
        await kt.Agent.build({"name": "c"}, kernel=kt.Kernel(plugins=[Bad()]))


# -- selectors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "name", "backend", "model"),
    [
        ("openai/gpt-4o", "openai/gpt-4o", "openai", "gpt-4o"),
        ("gpt-4o", "openai/gpt-4o", "openai", "gpt-4o"),  # a preset: its provider is found
        ("sonnet", "anthropic/claude-sonnet-4-6", "anthropic", "claude-sonnet-4-6"),  # alias
        ("gemini", "gemini/gemini-2.5-flash", "gemini", "gemini-2.5-flash"),  # provider alone
        ("openai/some-new-model", "openai/some-new-model", "openai", "some-new-model"),
        ("ollama/qwen2.5:7b", "ollama/qwen2.5:7b", "ollama", "qwen2.5:7b"),
        (
            "openrouter/anthropic/claude-sonnet-4.6",
            "openrouter/anthropic/claude-sonnet-4.6",
            "openrouter",
            "anthropic/claude-sonnet-4.6",
        ),
    ],
)
def test_selectors(kernel, selector, name, backend, model):
    profile = profile_for(kernel, selector)
    assert (profile.name, profile.backend, profile.model) == (name, backend, model)
    assert profile.base_dir is None  # chosen by --llm, not by the creature's folder


@pytest.mark.parametrize(
    ("selector", "options", "name"),
    [
        ("gpt-5.4@reasoning=high", {"reasoning_effort": "high"}, "openai/gpt-5.4@reasoning=high"),
        ("opus@high", {"reasoning_effort": "high"}, "anthropic/claude-opus-4-7@reasoning=high"),
        (
            "gpt-4o@temperature=0.2,max_tokens=99",
            {"temperature": 0.2, "max_tokens": 99},
            "openai/gpt-4o@max_tokens=99,temperature=0.2",
        ),
        (
            "haiku@thinking=2048,service_tier=priority",
            {"thinking_budget": 2048, "service_tier": "priority"},
            None,
        ),
    ],
)
def test_variations_change_a_fixed_set_of_fields(kernel, selector, options, name):
    profile = profile_for(kernel, selector)
    assert dict(profile.options) == options
    if name:
        assert profile.name == name


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("gpt-4o@reasoning=extreme", "bad value 'extreme' for variation 'reasoning'"),
        ("gpt-4o@reasonin=high", "unknown variation 'reasonin'. Did you mean 'reasoning'"),
        ("gpt-4o@fast", "unknown variation 'fast'"),
        ("gpt-4o@high,reasoning=low", "variation 'reasoning' is given twice"),
        ("gpt-4o@", "nothing after '@'"),
        ("gpt-4o@high,", "empty variation"),
        ("@high", "no model name"),
        ("gpt-4o@temperature=9", "bad value '9' for variation 'temperature'"),
    ],
)
def test_bad_variations_are_errors(kernel, selector, message):
    with pytest.raises(kt.ConfigValidationError, match=message):
        profile_for(kernel, selector)


def test_unknown_names_list_close_matches(kernel):
    with pytest.raises(kt.UnknownNameError, match=r"unknown model 'gpt4o'.*Did you mean 'gpt-4o'"):
        profile_for(kernel, "gpt4o")
    with pytest.raises(
        kt.UnknownNameError, match=r"unknown provider 'opnai'.*Did you mean 'openai'"
    ):
        profile_for(kernel, "opnai/gpt-4o")


def test_a_preset_name_two_providers_offer_is_ambiguous():
    class Other:
        @kt.hookimpl
        def kt_llm_backends(self):
            return [
                kt.LLMBackendSpec(
                    "proxy",
                    lambda p: None,
                    key_env_var="PROXY_KEY",
                    profiles=(kt.LLMProfile("gpt-4o", "proxy", "gpt-4o"),),
                )
            ]

    kernel = kt.Kernel(plugins=[kt_llm, kt_openai, Other()])
    with pytest.raises(
        kt.UnknownNameError,
        match="offered by several providers; write one of: openai/gpt-4o, proxy/gpt-4o",
    ):
        profile_for(kernel, "gpt-4o")
    assert profile_for(kernel, "proxy/gpt-4o").backend == "proxy"


def test_every_alias_points_at_an_installed_preset(kernel):
    from kt_llm.catalog import ALIASES, Catalog

    catalog = Catalog(kernel, Settings())
    assert catalog.aliases == ALIASES


def test_scripted_selectors_are_left_to_the_kernel(kernel, tmp_path):
    assert profile_for(kernel, "scripted:replies.toml") is None
    assert profile_for(kernel, llm="scripted:replies.toml") is None


# -- the resolution order ------------------------------------------------------------------------


def test_order_flag_then_creature_then_user_default_then_first_key(kernel, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "g-key-0123456789")
    assert profile_for(kernel).name == "gemini/gemini-2.5-flash"  # the only provider with a key
    monkeypatch.setenv("OPENAI_API_KEY", "o-key-0123456789")
    assert profile_for(kernel).name == "openai/gpt-5.4"  # openai comes before gemini
    KeyStore().set("anthropic", "sk-ant-0123456789")
    assert profile_for(kernel).name == "anthropic/claude-sonnet-4-6"  # anthropic first
    Settings().set_default("gemini/gemini-2.5-pro")
    assert profile_for(kernel).name == "gemini/gemini-2.5-pro"  # the user default beats keys
    assert profile_for(kernel, llm="haiku").name == "anthropic/claude-haiku-4-5"  # creature
    assert profile_for(kernel, "gpt-4o", llm="haiku").name == "openai/gpt-4o"  # --llm wins


def test_creature_provider_and_model_keys(kernel):
    assert profile_for(kernel, provider="anthropic", model="claude-haiku-4-5").name == (
        "anthropic/claude-haiku-4-5"
    )
    assert profile_for(kernel, provider="gemini").model == "gemini-2.5-flash"
    assert profile_for(kernel, model="gpt-4.1").name == "openai/gpt-4.1"  # model alone: a preset
    profile = profile_for(kernel, llm="gpt-4o", variation="low", retry_policy={"max_retries": 1})
    assert profile.name == "openai/gpt-4o@reasoning=low"
    assert dict(profile.options) == {"reasoning_effort": "low", "retry_policy": {"max_retries": 1}}


def test_creature_endpoint_settings_apply_only_to_its_own_choice(kernel, tmp_path):
    config = creature(llm="gpt-4o", base_url="http://127.0.0.1:9/v1", api_key_env="MY_KEY")
    assert resolve(None, config, kernel).base_url == "http://127.0.0.1:9/v1"
    assert resolve(None, config, kernel).api_key_env == "MY_KEY"
    assert resolve("gpt-4o", config, kernel).base_url is None  # --llm: the provider's own


def test_nothing_configured_says_how_to_choose(kernel):
    with pytest.raises(kt.LLMNotConfiguredError, match="kt login PROVIDER.*kt model default NAME"):
        profile_for(kernel)


def test_local_providers_never_count_as_having_a_key(kernel):
    with pytest.raises(kt.LLMNotConfiguredError):
        profile_for(kernel)  # ollama, lmstudio ... take no key: not chosen by themselves


# -- keys ----------------------------------------------------------------------------------------


def test_a_stored_key_wins_over_the_environment(kernel, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0000")
    assert profile_for(kernel, "gpt-4o").api_key == "sk-from-env-0000"
    KeyStore().set("openai", "sk-stored-1111")
    profile = profile_for(kernel, "gpt-4o")
    assert profile.api_key == "sk-stored-1111"
    assert "sk-stored" not in repr(profile)


# -- custom endpoints ----------------------------------------------------------------------------


def test_custom_endpoint_selectors(kernel):
    Settings().add_endpoint(
        Endpoint(
            name="lab",
            base_url="http://lab:8000/v1",
            model="qwen3",
            api_key_env="LAB_KEY",
            options={"temperature": 0.1},
        )
    )
    profile = profile_for(kernel, "lab")
    assert (profile.name, profile.backend, profile.model, profile.base_url) == (
        "lab/qwen3",
        "openai",
        "qwen3",
        "http://lab:8000/v1",
    )
    assert profile.api_key_env == "LAB_KEY" and dict(profile.options) == {"temperature": 0.1}
    assert profile_for(kernel, "lab/other@reasoning=low").model == "other"
    KeyStore().set("lab", "lab-key-123456789")
    assert profile_for(kernel, "lab").api_key == "lab-key-123456789"


# -- end to end: selector -> profile -> backend -> wire --------------------------------------------


async def test_agent_through_a_custom_endpoint_with_a_stored_key(kernel, server):
    Settings().add_endpoint(Endpoint(name="fake", base_url=f"{server.url}/v1", model="gpt-4o-mini"))
    KeyStore().set("fake", SECRET_KEY)
    server.replies.append(openai_text("Hello through the profile."))
    agent = await kt.Agent.build({"name": "c", "llm": "fake@temperature=0.5"}, kernel=kernel)
    assert agent.llm_name == "fake/gpt-4o-mini@temperature=0.5"
    async with agent:
        result = await agent.run("hi")
    assert result.text == "Hello through the profile."
    sent = server.requests[0]
    assert sent.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.body["model"] == "gpt-4o-mini" and sent.body["temperature"] == 0.5
    assert SECRET_KEY not in os.environ.get("KT_HOME", "")


async def test_missing_key_for_a_preset_fails_the_build_with_the_fix(kernel):
    with pytest.raises(kt.LLMNotConfiguredError, match="kt login anthropic"):
        await kt.Agent.build({"name": "c"}, kernel=kernel, llm_selector="sonnet")
