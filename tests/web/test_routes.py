"""The JSON routes against a real server: every family, typed errors as 4xx."""

from __future__ import annotations

from kt_web_helpers import start_creature


def test_health_and_readiness(server):
    assert server.client.get("/healthz").json() == {"status": "ok"}
    assert server.client.get("/readyz").json() == {"status": "ready", "mode": "standalone"}


def test_a_creature_session_from_start_to_stop(server, world):
    session = start_creature(server, world, name="solo")
    sid = session["session_id"]
    assert session["kind"] == "creature" and session["root"] == "solo"
    listed = server.client.get("/api/sessions/active").json()["sessions"]
    assert sid in [s["session_id"] for s in listed]
    assert server.client.get(f"/api/sessions/active/{sid}").json()["name"] == "solo"

    base = f"/api/sessions/{sid}/creatures"
    reply = server.client.post(f"{base}/root/chat", json={"message": "hi"}).json()
    assert reply["response"] == "hello from the script" and reply["status"] == "completed"
    assert reply["usage"]["total_tokens"] > 0
    history = server.client.get(f"{base}/solo/history").json()
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"]
    assert server.client.post(f"{base}/root/interrupt").json() == {"interrupted": False}
    assert server.client.get(f"{base}/root/jobs").json() == {"jobs": []}
    prompt = server.client.get(f"{base}/root/system-prompt").json()["system_prompt"]
    assert "You help." in prompt
    patched = server.client.patch(f"{base}/root/scratchpad", json={"plan": "one", "drop": "x"})
    assert patched.json()["scratchpad"] == {"plan": "one", "drop": "x"}
    server.client.patch(f"{base}/root/scratchpad", json={"drop": None})
    assert server.client.get(f"{base}/root/scratchpad").json()["scratchpad"] == {"plan": "one"}
    switched = server.client.post(
        f"{base}/root/model", json={"model": f"scripted:{world / 'slow.toml'}"}
    )
    assert switched.status_code == 200 and switched.json()["model"].endswith("slow.toml")
    assert (
        server.client.post(f"{base}/root/chat", json={"message": "again"}).json()["response"]
        == "a slow and steady reply"
    )

    stopped = server.client.delete(f"/api/sessions/active/{sid}").json()
    assert stopped == {"status": "stopped", "session_id": sid}
    assert server.client.get(f"/api/sessions/active/{sid}").status_code == 404


def test_errors_are_typed_4xx_answers(server, world):
    sid = start_creature(server, world)["session_id"]
    base = f"/api/sessions/{sid}/creatures"

    missing = server.client.post(f"{base}/root/chat", json={"mesage": "typo"})
    assert missing.status_code == 400
    error = missing.json()["error"]
    assert error["type"] == "BodyError" and error["field"] == "$.message"
    assert "mesage" in error["message"]

    assert server.client.post(f"{base}/root/chat", json={"message": ""}).status_code == 400
    unknown = server.client.get(f"{base}/ghost/history")
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "CreatureNotFoundError"
    assert server.client.get("/api/sessions/active/sess_nope").status_code == 404
    bad_config = server.client.post(
        "/api/sessions/active/creature", json={"config_path": str(world / "nowhere")}
    )
    assert bad_config.status_code == 400 and "ConfigNotFoundError" in bad_config.text
    taken = server.client.post(
        "/api/sessions/active/creature",
        json={"config_path": str(world / "creatures" / "helper"), "name": "helper"},
    )
    assert taken.status_code == 409 and taken.json()["error"]["type"] == "CreatureExistsError"
    assert server.client.get("/api/no/such/route").status_code == 404

    failing = start_creature(server, world, script="broken.toml", name="failing")["session_id"]
    failed = server.client.post(
        f"/api/sessions/{failing}/creatures/root/chat", json={"message": "hi"}
    )
    assert failed.status_code == 422
    assert "the model is down" in failed.json()["error"]["message"]
    assert failed.json()["reply"]["status"] == "error"


def test_a_terrarium_session_with_channels_and_topology(server, world):
    created = server.client.post(
        "/api/sessions/active/terrarium",
        json={"config_path": str(world / "team"), "llm": f"scripted:{world / 'replies.toml'}"},
    )
    assert created.status_code == 201, created.text
    session = created.json()
    sid = session["session_id"]
    assert session["root"] == "root" and {c["id"] for c in session["creatures"]} == {
        "root",
        "worker",
    }
    channels = server.client.get(f"/api/sessions/topology/{sid}/channels").json()["channels"]
    assert "tasks" in [c["name"] for c in channels]
    made = server.client.post(f"/api/sessions/topology/{sid}/channels", json={"name": "notes"})
    assert made.status_code == 201 and made.json()["name"] == "notes"
    sent = server.client.post(
        f"/api/sessions/topology/{sid}/channels/tasks/send", json={"content": "build it"}
    )
    assert sent.status_code == 201
    change = server.client.post(
        f"/api/sessions/topology/{sid}/connect",
        json={"sender": "worker", "receiver": "root", "channel": "notes"},
    )
    assert change.status_code == 200 and change.json()["channel"] == "notes"
    added = server.client.post(
        f"/api/sessions/topology/{sid}/creatures",
        json={
            "config_path": str(world / "creatures" / "helper"),
            "name": "helper2",
            "llm": f"scripted:{world / 'replies.toml'}",
        },
    )
    assert added.status_code == 201 and added.json()["id"] == "helper2"
    members = server.client.get(f"/api/sessions/active/{sid}").json()["creatures"]
    assert "helper2" in [c["id"] for c in members]
    assert server.client.delete(f"/api/sessions/topology/{sid}/creatures/root").status_code == 409
    assert (
        server.client.delete(f"/api/sessions/topology/{sid}/creatures/helper2").status_code == 200
    )
    graph = server.client.get("/api/runtime/graph").json()["graphs"]
    mine = [g for g in graph if g["session_id"] == sid]
    assert mine and {c["id"] for c in mine[0]["creatures"]} == {"root", "worker"}
    server.client.delete(f"/api/sessions/active/{sid}")


def test_saved_sessions_list_search_export_and_delete(server, world):
    sid = start_creature(server, world, name="archivist")["session_id"]
    server.client.post(
        f"/api/sessions/{sid}/creatures/root/chat", json={"message": "remember the walrus"}
    )
    page = server.client.get("/api/sessions", params={"search": "walrus", "limit": 5}).json()
    assert page["total"] == 1 and page["items"][0]["live"]
    name = page["items"][0]["name"]
    assert server.client.delete(f"/api/sessions/{name}").status_code == 409
    markdown = server.client.get(f"/api/sessions/{name}/export", params={"format": "md"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "remember the walrus" in markdown.text
    jsonl = server.client.get(f"/api/sessions/{name}/export", params={"format": "jsonl"})
    assert '"turn_completed"' in jsonl.text
    html = server.client.get(f"/api/sessions/{name}/export", params={"format": "html"})
    assert "<pre>remember the walrus</pre>" in html.text
    assert (
        server.client.get(f"/api/sessions/{name}/export", params={"format": "pdf"}).status_code
        == 400
    )
    hits = server.client.get(f"/api/sessions/{name}/memory/search", params={"q": "walrus"})
    assert hits.status_code == 200 and hits.json()["hits"]
    turns = server.client.get(f"/api/sessions/{name}/turns").json()["turns"]
    assert [t["input"] for t in turns] == ["remember the walrus"]
    events = server.client.get(f"/api/sessions/{name}/events", params={"limit": 3}).json()["events"]
    assert len(events) == 3 and events[0]["id"] < events[-1]["id"]
    after = server.client.get(
        f"/api/sessions/{name}/events", params={"after": events[-1]["id"]}
    ).json()["events"]
    assert after and after[0]["id"] > events[-1]["id"]
    bounded = server.client.get(
        f"/api/sessions/{name}/events", params={"after": 0, "until": events[1]["id"]}
    ).json()["events"]
    assert [e["id"] for e in bounded] == [e["id"] for e in events[:2]]
    assert server.client.get("/api/sessions", params={"limit": "x"}).status_code == 400
    assert server.client.get("/api/sessions/no-such-session").status_code == 404


def test_settings_mask_keys_and_catalog_lists_builtins(server):
    stored = server.client.put(
        "/api/settings/keys/openai", json={"key": "sk-test-abcdefgh12345678"}
    )
    assert stored.status_code == 200 and stored.json()["masked"] == "sk-t...5678"
    keys = server.client.get("/api/settings/keys").text
    assert "abcdefgh" not in keys and "sk-t...5678" in keys
    assert server.client.put(
        "/api/settings/default-model", json={"model": "openai/gpt-4o"}
    ).json() == {"model": "openai/gpt-4o"}
    assert server.client.get("/api/settings/default-model").json() == {"model": "openai/gpt-4o"}
    backends = server.client.get("/api/settings/backends").json()["backends"]
    assert "scripted" in [b["name"] for b in backends] or backends
    added = server.client.post(
        "/api/settings/mcp",
        json={
            "name": "time",
            "settings": {"command": "mcp-server-time", "env": {"TOKEN": "secret-value-123"}},
        },
    )
    assert added.status_code == 201 and "secret-value" not in added.text
    builtins = server.client.get("/api/catalog/builtins").json()
    assert "scratchpad" in [t["name"] for t in builtins["tools"]]
    assert "kt_web" in [p["name"] for p in builtins["plugins"]]
    assert server.client.get("/api/catalog/packages").json() == {"packages": []}
    assert server.client.get("/api/catalog/packages/nope").status_code == 404


def test_sessions_live_at_shutdown_are_offered_for_resume(tmp_path, world):
    from kt_web_helpers import Server

    first = Server(tmp_path / "home")
    try:
        sid = start_creature(first, world, name="keeper")["session_id"]
        first.client.post(f"/api/sessions/{sid}/creatures/root/chat", json={"message": "keep me"})
    finally:
        first.stop()
    second = Server(tmp_path / "home")
    try:
        listed = second.client.get("/api/sessions/active").json()
        assert listed["sessions"] == [] and len(listed["resumable"]) == 1
        (name,) = listed["resumable"]
        resumed = second.client.post(
            f"/api/sessions/{name}/resume", json={"llm": f"scripted:{world / 'replies.toml'}"}
        )
        assert resumed.status_code == 201, resumed.text
        new_sid = resumed.json()["session_id"]
        history = second.client.get(f"/api/sessions/{new_sid}/creatures/keeper/history").json()
        assert history["messages"][0]["content"] == "keep me"
        again = second.client.post(f"/api/sessions/{name}/resume", json={})
        assert again.status_code == 409  # its creature is live again under the same id
    finally:
        second.stop()
