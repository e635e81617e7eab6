"""Triggers, the working dir, channel removal, branches and resuming a stopped session, over HTTP."""

from __future__ import annotations

from pathlib import Path

from kt_web_helpers import start_creature, start_team


def saved_name(session: dict) -> str:
    return Path(session["store_paths"][0]).name.removesuffix(".ktsession")


def test_triggers_are_listed_added_and_removed(server, world):
    sid = start_creature(server, world)["session_id"]
    base = f"/api/sessions/{sid}/creatures/root/triggers"
    assert server.client.get(base).json() == {"triggers": []}

    added = server.client.post(
        base, json={"type": "timer", "options": {"interval": 3600, "prompt": "tick", "name": "t1"}}
    )
    assert added.status_code == 201, added.text
    assert added.json()["trigger_id"] == "t1" and added.json()["trigger_type"] == "timer"
    assert added.json()["running"] is True
    daily = server.client.post(
        base, json={"type": "schedule", "options": {"daily_at": "09:00", "prompt": "standup"}}
    ).json()
    listed = server.client.get(base).json()["triggers"]
    assert [t["trigger_id"] for t in listed] == ["t1", daily["trigger_id"]]

    taken = server.client.post(
        base, json={"type": "timer", "options": {"interval": 5, "prompt": "x", "name": "t1"}}
    )
    assert taken.status_code == 409
    bad = server.client.post(
        base, json={"type": "timer", "options": {"interval": -1, "prompt": "x"}}
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "interval"
    missing = server.client.post(base, json={"type": "timer", "options": {"prompt": "x"}})
    assert missing.status_code == 400 and "interval" in missing.json()["error"]["message"]
    unknown = server.client.post(base, json={"type": "alarm"})
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "type"

    assert server.client.delete(f"{base}/t1").json() == {"removed": True}
    after = {t["trigger_id"]: t for t in server.client.get(base).json()["triggers"]}
    assert after["t1"]["running"] is False and after["t1"]["status"] == "cancelled"
    assert after[daily["trigger_id"]]["running"] is True
    gone = server.client.delete(f"{base}/nope")
    assert gone.status_code == 404 and gone.json()["error"]["type"] == "TriggerNotFoundError"
    server.client.delete(f"/api/sessions/active/{sid}").raise_for_status()


def test_triggers_and_the_scratchpad_come_back_with_every_resume(server, world):
    session = start_creature(server, world)
    sid = session["session_id"]
    base = f"/api/sessions/{sid}/creatures/root"
    server.client.post(
        f"{base}/triggers",
        json={"type": "timer", "options": {"interval": 3600, "prompt": "tick", "name": "keep"}},
    ).raise_for_status()
    server.client.patch(f"{base}/scratchpad", json={"plan": "walk"}).raise_for_status()
    server.client.delete(f"/api/sessions/active/{sid}").raise_for_status()
    name = saved_name(session)
    for _ in range(2):  # the resumed file holds the earlier runs' records: resume it again
        resumed = server.client.post(f"/api/sessions/{name}/resume", json={}).json()
        base = f"/api/sessions/{resumed['session_id']}/creatures/root"
        triggers = server.client.get(f"{base}/triggers").json()["triggers"]
        assert [(t["trigger_id"], t["running"]) for t in triggers] == [("keep", True)]
        assert server.client.get(f"{base}/scratchpad").json()["scratchpad"] == {"plan": "walk"}
        server.client.delete(f"/api/sessions/active/{resumed['session_id']}").raise_for_status()
        name = saved_name(resumed)


def test_the_working_dir_moves_only_inside_the_start_folder(server, world, tmp_path):
    start = tmp_path / "project"
    (start / "src").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (start / "escape").symlink_to(tmp_path / "outside")
    sid = start_creature(server, world, pwd=str(start))["session_id"]
    base = f"/api/sessions/{sid}/creatures/root/working-dir"
    here = str(start.resolve())
    assert server.client.get(base).json() == {"pwd": here, "root": here}

    moved = server.client.put(base, json={"path": "src"})
    assert moved.json() == {"pwd": str((start / "src").resolve()), "root": here}
    creature = server.client.get(f"/api/sessions/{sid}/creatures/root").json()
    assert creature["pwd"] == str((start / "src").resolve())
    assert server.client.put(base, json={"path": ".."}).json()["pwd"] == here

    for escape in ["..", str(tmp_path / "outside"), "escape", "/"]:
        refused = server.client.put(base, json={"path": escape})
        assert refused.status_code == 400, escape
        assert refused.json()["error"]["field"] == "path"
    for bad in ["nope", "a\x00b", "x" * 5000]:
        assert server.client.put(base, json={"path": bad}).status_code == 400, bad
    assert server.client.put(base, json={}).status_code == 400
    assert server.client.get(base).json()["pwd"] == here
    server.client.delete(f"/api/sessions/active/{sid}").raise_for_status()


def test_a_channel_is_deleted_with_its_edges(server, world):
    sid = start_team(server, world, "deleting")["session_id"]
    topology = f"/api/sessions/topology/{sid}"
    server.client.post(f"{topology}/channels", json={"name": "scratch"}).raise_for_status()
    assert "scratch" in [
        c["name"] for c in server.client.get(f"{topology}/channels").json()["channels"]
    ]

    removed = server.client.delete(f"{topology}/channels/tasks")
    assert removed.status_code == 200, removed.text
    names = [c["name"] for c in server.client.get(f"{topology}/channels").json()["channels"]]
    assert "tasks" not in names and "scratch" in names
    worker = server.client.get(f"/api/sessions/{sid}/creatures/worker").json()
    assert "tasks" not in worker["listen"]
    again = server.client.delete(f"{topology}/channels/tasks")
    assert again.status_code == 404 and again.json()["error"]["type"] == "ChannelNotFoundError"
    sent = server.client.post(f"{topology}/channels/tasks/send", json={"content": "x"})
    assert sent.status_code == 404
    server.client.delete(f"/api/sessions/active/{sid}").raise_for_status()


def test_a_stopped_session_resumes_with_its_history(server, world):
    session = start_creature(server, world)
    sid = session["session_id"]
    server.client.post(
        f"/api/sessions/{sid}/creatures/root/chat", json={"message": "remember the pear"}
    ).raise_for_status()
    assert server.client.delete(f"/api/sessions/active/{sid}").status_code == 200

    name = saved_name(session)
    saved = server.client.get(f"/api/sessions/{name}").json()
    assert saved["status"] == "paused" and saved["creatures"] == [session["root"]]
    resumed = server.client.post(f"/api/sessions/{name}/resume", json={})
    assert resumed.status_code == 201, resumed.text
    new_sid = resumed.json()["session_id"]
    history = server.client.get(f"/api/sessions/{new_sid}/creatures/root/history").json()
    assert [m["content"] for m in history["messages"]] == [
        "remember the pear",
        "hello from the script",
    ]
    reply = server.client.post(
        f"/api/sessions/{new_sid}/creatures/root/chat", json={"message": "and now?"}
    ).json()
    assert reply["turn_index"] == 2
    live_again = server.client.post(f"/api/sessions/{saved_name(resumed.json())}/resume", json={})
    assert live_again.status_code == 409  # the resumed file is being written
    server.client.delete(f"/api/sessions/active/{new_sid}").raise_for_status()


def test_regenerate_and_edit_keep_branches_of_a_terrarium_creature(server, world):
    sid = start_team(server, world, "branching")["session_id"]
    base = f"/api/sessions/{sid}/creatures/worker"
    server.client.post(f"{base}/chat", json={"message": "first"}).raise_for_status()
    regenerated = server.client.post(f"{base}/regenerate")
    assert regenerated.status_code == 200, regenerated.text
    edited = server.client.post(f"{base}/messages/0/edit", json={"content": "second"})
    assert edited.status_code == 200, edited.text
    history = server.client.get(f"{base}/history").json()
    assert [m["content"] for m in history["messages"]][0] == "second"
    assert [[b["path"], b["reason"], b["live"]] for b in history["branches"]] == [
        [[1], "", False],
        [[2], "regenerate", False],
        [[3], "edit", True],
    ]
    chosen = server.client.post(f"{base}/branches/select", json={"path": [1]})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["messages"][0]["content"] == "first"
    missing = server.client.post(f"{base}/branches/select", json={"path": [7]})
    assert missing.status_code == 400 and "no branch" in missing.json()["error"]["message"]
    server.client.delete(f"/api/sessions/active/{sid}").raise_for_status()
