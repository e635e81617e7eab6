"""Where auth settings come from: config file, environment, files; ``kt admin token``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kt.errors import ConfigError
from kt_web.auth import AuthSettings, is_loopback, load_auth, presented_host_token


def test_config_then_environment_then_files(tmp_path):
    (tmp_path / "config.toml").write_text(
        '[auth]\nhost_token = "from-config"\nloopback_bypass = false\n'
    )
    env = {"KT_HOME": str(tmp_path)}
    settings = load_auth(env)
    assert settings.host_token == "from-config" and settings.loopback_bypass is False
    assert settings.admin_token is None
    assert load_auth({**env, "KT_AUTH_HOST_TOKEN": "from-env"}).host_token == "from-env"
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    assert load_auth({**env, "KT_AUTH_ADMIN_TOKEN_FILE": str(secret)}).admin_token == "from-file"
    assert load_auth({**env, "KT_AUTH_LOOPBACK_BYPASS": "1"}).loopback_bypass is True
    with pytest.raises(ConfigError, match="KT_AUTH_HOST_TOKEN_FILE"):
        load_auth({**env, "KT_AUTH_HOST_TOKEN_FILE": str(tmp_path / "missing")})
    assert load_auth({**env, "KT_AUTH_MULTI_USER": "required"}).multi_user == "required"
    with pytest.raises(ConfigError, match="auth.multi_user"):
        load_auth({**env, "KT_AUTH_MULTI_USER": "sometimes"})
    with pytest.raises(ConfigError, match="auth.registration"):
        load_auth({**env, "KT_AUTH_REGISTRATION": "whoever"})


def test_tokens_are_found_wherever_a_client_puts_them():
    assert presented_host_token({"Authorization": "Bearer abc"}, {}) == "abc"
    assert presented_host_token({"X-KT-Host-Token": "abc"}, {}) == "abc"
    assert presented_host_token({"Sec-WebSocket-Protocol": "chat, kt-token.abc"}, {}) == "abc"
    assert presented_host_token({}, {"token": "abc"}) == "abc"
    assert presented_host_token({}, {}) is None


def test_loopback_is_decided_by_the_address():
    assert is_loopback("127.0.0.1") and is_loopback("127.8.9.10") and is_loopback("::1")
    assert not is_loopback("10.0.0.1") and not is_loopback("") and not is_loopback("localhost")
    settings = AuthSettings(host_token="t", loopback_bypass=True)
    assert settings.host_ok(None, "127.0.0.1") and not settings.host_ok(None, "192.0.2.1")
    assert settings.host_ok("t", "192.0.2.1") and not settings.host_ok("x", "192.0.2.1")
    assert AuthSettings(admin_token="a").admin_ok("a") and not AuthSettings(
        admin_token="a"
    ).admin_ok(None)


def test_kt_admin_token_stores_a_new_token_privately(tmp_path):
    env = {**os.environ, "KT_HOME": str(tmp_path)}
    made = subprocess.run(
        [sys.executable, "-m", "kt_cli", "admin", "token", "admin"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert len(token) >= 40
    assert load_auth({"KT_HOME": str(tmp_path)}).admin_token == token
    assert (tmp_path / "config.toml").stat().st_mode & 0o777 == 0o600
