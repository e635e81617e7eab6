"""Plugins add routes through ``kt_web_routes``; they get the same auth and errors."""

from __future__ import annotations

import kt
from kt_web.app import create_app
from kt_web.auth import AuthSettings
from kt_web.host import StudioHost


class ExtraRoutes:
    @kt.hookimpl
    def kt_web_routes(self, app, host):
        def hello():
            """Say hello (a plugin's route)."""
            return {"hello": "from a plugin"}

        def broken():
            """Fail with a typed error."""
            raise kt.errors.ConfigError("bad setting; fix it")

        app.add_url_rule("/api/extra/hello", "extra_hello", hello)
        app.add_url_rule("/api/extra/broken", "extra_broken", broken)


def test_hook_kt_web_routes():
    kernel = kt.Kernel(plugins=["kt_web", ExtraRoutes()])
    app = create_app(
        StudioHost(lambda: None), AuthSettings(host_token="t", loopback_bypass=False), kernel=kernel
    )
    client = app.test_client()
    assert client.get("/api/extra/hello").status_code == 401  # the host token applies
    answer = client.get("/api/extra/hello", headers={"Authorization": "Bearer t"})
    assert answer.json == {"hello": "from a plugin"}
    broken = client.get("/api/extra/broken", headers={"Authorization": "Bearer t"})
    assert broken.status_code == 400 and broken.json["error"]["type"] == "ConfigError"
