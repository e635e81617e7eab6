"""The key store: mode 0600 from the first byte, stored > environment, masking, broken files."""

from __future__ import annotations

import os
import stat

import pytest

import kt
from kt_llm.keys import KeyStore, mask
from kt_llm.settings import Endpoint, Settings


def test_keys_file_is_created_with_mode_0600(home):
    store = KeyStore()
    old = os.umask(0o000)  # even a permissive umask must not widen it
    try:
        store.set("openai", "sk-abcdefgh1234")
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.path == home / "keys.toml"
    assert store.stored() == {"openai": "sk-abcdefgh1234"}
    assert [p.name for p in home.iterdir()] == ["keys.toml"]  # no temporary file left


def test_rewrites_keep_0600_and_other_keys(home):
    store = KeyStore()
    store.set("openai", "sk-1")
    store.path.chmod(0o644)
    store.set("anthropic", " sk-ant-2 \n")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.stored() == {"anthropic": "sk-ant-2", "openai": "sk-1"}
    assert store.remove("openai") and not store.remove("openai")
    assert store.stored() == {"anthropic": "sk-ant-2"}


def test_lookup_prefers_the_stored_key(monkeypatch):
    store = KeyStore()
    assert store.lookup("openai", "OPENAI_API_KEY") == (None, "missing")
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    assert store.lookup("openai", "OPENAI_API_KEY") == ("from-env", "env")
    store.set("openai", "stored")
    assert store.lookup("openai", "OPENAI_API_KEY") == ("stored", "stored")


def test_empty_key_is_refused():
    with pytest.raises(ValueError):
        KeyStore().set("openai", "   ")


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        ("sk-abcdefgh1234", "sk-a...1234"),
        ("12345678", "****"),
        ("short", "****"),
        ("123456789", "1234...6789"),
    ],
)
def test_mask(key, masked):
    assert mask(key) == masked


def test_a_broken_keys_file_is_a_config_error_without_its_content(home):
    home.mkdir(parents=True)
    (home / "keys.toml").write_text('openai = "sk-secret-value\n')
    with pytest.raises(kt.ConfigError) as caught:
        KeyStore().stored()
    assert "sk-secret" not in str(caught.value)
    assert "keys.toml" in str(caught.value)


def test_settings_edits_keep_hand_written_comments(home):
    home.mkdir(parents=True)
    (home / "llm.toml").write_text('# my models\ndefault = "gpt-4o"  # the usual\n')
    settings = Settings()
    settings.add_endpoint(
        Endpoint(name="lab", base_url="http://lab/v1", model="m", options={"temperature": 0.1})
    )
    settings.set_default("lab/m")
    text = (home / "llm.toml").read_text()
    assert "# my models" in text
    reread = Settings()
    assert reread.default == "lab/m"
    assert reread.endpoints["lab"] == Endpoint(
        name="lab", base_url="http://lab/v1", model="m", options={"temperature": 0.1}
    )
    assert reread.remove_endpoint("lab") and not Settings().endpoints


def test_an_endpoint_without_base_url_is_a_config_error(home):
    home.mkdir(parents=True)
    (home / "llm.toml").write_text('[endpoints.lab]\nmodel = "m"\n')
    with pytest.raises(kt.ConfigError, match="endpoints.lab.*base_url"):
        Settings()
