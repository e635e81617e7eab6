"""The WebSockets and concurrency against a real server."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from kt_web_helpers import connect, frames_until, start_creature, start_team
from websockets.exceptions import ConnectionClosed


def test_chat_socket_streams_a_turn(server, world):
    sid = start_creature(server, world, script="slow.toml", name="streamer")["session_id"]
    ws = connect(f"{server.ws_url}/ws/sessions/{sid}/creatures/root/chat")
    try:
        ws.send(json.dumps({"type": "input", "content": "tell me"}))
        frames = frames_until(ws, "idle")
    finally:
        ws.close()
    kinds = [f["type"] for f in frames]
    assert frames[0]["type"] == "activity" and frames[0]["activity_type"] == "session_info"
    assert frames[0]["session"]["session_id"] == sid
    assert "user_input" in kinds and "token_usage" in kinds
    assert {f["source"] for f in frames if f["type"] in ("text", "idle")} == {"streamer"}
    assert kinds.index("processing_start") < kinds.index("text") < kinds.index("processing_end")
    text = "".join(f["content"] for f in frames if f["type"] == "text")
    assert text == "a slow and steady reply"
    end = next(f for f in frames if f["type"] == "processing_end")
    assert end["status"] == "completed" and end["event"]["type"] == "turn_completed"


def test_closing_the_chat_socket_never_cancels_the_turn(server, world):
    sid = start_creature(server, world, script="slow.toml", name="survivor")["session_id"]
    ws = connect(f"{server.ws_url}/ws/sessions/{sid}/creatures/root/chat")
    ws.send(json.dumps({"type": "input", "content": "first"}))
    frames_until(ws, "text")  # the turn is under way
    ws.close()
    # the next chat queues behind the first turn, so it returns after the first one ended
    second = server.client.post(
        f"/api/sessions/{sid}/creatures/root/chat", json={"message": "second"}
    )
    assert second.status_code == 200, second.text
    assert second.json()["turn_index"] == 2
    history = server.client.get(f"/api/sessions/{sid}/creatures/root/history").json()["messages"]
    assert [m["content"] for m in history if m["role"] == "assistant"] == [
        "a slow and steady reply",
        "a slow and steady reply",
    ]


def test_chat_socket_of_a_terrarium(server, world):
    """Acceptance scenario 18: replayed channel history, a target, channel traffic mid-turn."""
    created = start_team(server, world, "scenario18", script="slow.toml")
    sid = created["session_id"]
    server.client.post(f"/api/sessions/topology/{sid}/channels", json={"name": "log"})
    server.client.post(
        f"/api/sessions/topology/{sid}/channels/log/send", json={"content": "before"}
    )
    ws = connect(f"{server.ws_url}/ws/sessions/{sid}/creatures/root/chat")
    try:
        opening = frames_until(ws, "activity")
        assert [(f["channel"], f["content"], f["history"]) for f in opening[:-1]] == [
            ("log", "before", True)
        ]
        assert opening[-1]["activity_type"] == "session_info"
        ws.send(json.dumps({"type": "input", "content": "do it", "target": "worker"}))
        started = frames_until(ws, "processing_start")
        assert [f for f in started if f["type"] == "user_input"][0]["source"] == "worker"
        server.client.post(
            f"/api/sessions/topology/{sid}/channels/log/send", json={"content": "during"}
        )
        frames = frames_until(ws, "idle")
        live = [f for f in frames if f["type"] == "channel_message"]
        assert [(f["content"], "history" in f) for f in live] == [("during", False)]
        assert {f["source"] for f in frames if f["type"] in ("text", "processing_end")} == {
            "worker"
        }
        assert frames[-1] == {"type": "idle", "source": "worker"}
        ws.send(json.dumps({"type": "input", "content": "and then", "target": "worker"}))
        frames_until(ws, "text")
    finally:
        ws.close()  # mid-turn: the turn goes on
    history = server.client.get(f"/api/sessions/{sid}/creatures/worker/history").json()["messages"]
    server.client.post(f"/api/sessions/{sid}/creatures/worker/chat", json={"message": "last"})
    history = server.client.get(f"/api/sessions/{sid}/creatures/worker/history").json()["messages"]
    replies = [m["content"] for m in history if m["role"] == "assistant"]
    assert replies == ["a slow and steady reply"] * 3
    server.client.delete(f"/api/sessions/active/{sid}")


def test_bad_input_on_the_chat_socket_is_an_error_frame(server, world):
    sid = start_creature(server, world, name="strict")["session_id"]
    ws = connect(f"{server.ws_url}/ws/sessions/{sid}/creatures/root/chat")
    try:
        ws.send(json.dumps({"type": "shout"}))
        error = frames_until(ws, "error")[-1]
        assert "input" in error["error"]["message"]
    finally:
        ws.close()


def test_an_unknown_session_closes_the_socket_with_4404(server):
    ws = connect(f"{server.ws_url}/ws/sessions/nope/creatures/root/chat")
    frame = json.loads(ws.recv(timeout=10))
    assert frame["type"] == "error" and frame["error"]["type"] == "SessionNotFoundError"
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert closed.value.rcvd.code == 4404


def test_the_observer_sees_channel_messages_without_consuming_them(server, world):
    session = start_team(server, world, "observed")
    sid = session["session_id"]
    only_tasks = connect(f"{server.ws_url}/ws/sessions/{sid}/channels/tasks")
    frames_until(only_tasks, "activity")
    ws = connect(f"{server.ws_url}/ws/sessions/{sid}/observer")
    try:
        frames_until(ws, "activity")  # attached: what is sent from now on is seen
        server.client.post(
            f"/api/sessions/topology/{sid}/channels/tasks/send", json={"content": "job 1"}
        )
        seen = frames_until(ws, "channel_message")[-1]
        assert seen["event"]["content"] == "job 1" and seen["event"]["channel"] == "tasks"
        assert frames_until(only_tasks, "channel_message")[-1]["content"] == "job 1"
    finally:
        ws.close()
        only_tasks.close()
    # the queue message still reached its listener
    chat = server.client.post(
        f"/api/sessions/{sid}/creatures/worker/chat", json={"message": "status?"}
    ).json()
    assert chat["turn_index"] == 2
    history = server.client.get(f"/api/sessions/{sid}/creatures/worker/history").json()
    assert "job 1" in history["messages"][0]["content"]
    server.client.delete(f"/api/sessions/active/{sid}")


def test_fifty_concurrent_chats(server, world):
    sessions = [start_creature(server, world, name=f"crowd{i}")["session_id"] for i in range(5)]

    def chat(n):
        with httpx.Client(base_url=server.url, timeout=60) as client:
            sid = sessions[n % len(sessions)]
            return client.post(
                f"/api/sessions/{sid}/creatures/root/chat", json={"message": f"hi {n}"}
            )

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(chat, range(50)))
    assert all(a.status_code == 200 for a in answers), [
        a.text for a in answers if a.status_code != 200
    ]
    assert all(a.json()["response"] == "hello from the script" for a in answers)
    turns = [
        len(server.client.get(f"/api/sessions/{sid}/creatures/root/history").json()["messages"])
        for sid in sessions
    ]
    assert turns == [20] * 5  # 10 turns each: user + assistant


def test_the_log_socket_shows_what_the_server_does(server, world):
    ws = connect(f"{server.ws_url}/ws/logs")
    try:
        frames_until(ws, "activity")
        sid = start_creature(server, world, name="logged")["session_id"]
        line = frames_until(ws, "log")[-1]
        assert line["level"] == "INFO" and f"started session {sid}" in line["message"]
    finally:
        ws.close()
