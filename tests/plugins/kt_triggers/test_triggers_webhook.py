"""The webhook trigger, exercised with real HTTP requests on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest
import trio
from triggers_helpers import build, turns

from kt.testing import EventRecorder
from kt_triggers import TriggerConfigError, TriggerFired, WebhookTrigger
from kt_triggers.webhook import signed_headers


async def raw_request(port: int, data: bytes) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        chunks = []
        while chunk := await stream.receive_some(65536):
            chunks.append(chunk)
    return b"".join(chunks)


async def test_a_post_becomes_an_event_and_a_turn():
    recorder = EventRecorder()
    async with await build(extra_plugins=[recorder]) as agent:
        events = agent.subscribe()
        trigger = WebhookTrigger(port=0, id="hook")
        await agent.add_trigger(trigger)
        assert trigger.port > 0 and trigger.url == f"http://127.0.0.1:{trigger.port}/webhook"
        async with httpx.AsyncClient() as client:
            response = await client.post(trigger.url, json={"message": "deploy finished"})
        assert response.status_code == 202
        assert response.json() == {"accepted": True, "trigger_id": "hook"}
        (result,) = await turns(agent, 1, events)
    assert result.input == "[webhook hook] deploy finished"
    (fired,) = recorder.of_type(TriggerFired)
    assert fired.trigger_type == "webhook" and fired.context["path"] == "/webhook"


async def test_posts_start_turns_in_the_order_they_arrived():
    async with await build() as agent:
        events = agent.subscribe()
        trigger = WebhookTrigger(port=0, prompt="{content} #{n}")
        await agent.add_trigger(trigger)
        async with httpx.AsyncClient() as client:
            for n in range(4):
                r = await client.post(trigger.url, json={"content": "event", "n": n})
                assert r.status_code == 202
        results = await turns(agent, 4, events)
    assert [r.input for r in results] == [f"event #{n}" for n in range(4)]


async def test_body_forms_become_content():
    async with await build() as agent:
        events = agent.subscribe()
        trigger = WebhookTrigger(port=0, prompt="{content}")
        await agent.add_trigger(trigger)
        async with httpx.AsyncClient() as client:
            await client.post(trigger.url, content=b"plain text body")
            await client.post(trigger.url, json={"status": "red", "count": 3})
            await client.post(trigger.url, json=[1, 2])
        results = await turns(agent, 3, events)
    assert [r.input for r in results] == [
        "plain text body",
        json.dumps({"status": "red", "count": 3}),
        "[1, 2]",
    ]


async def test_refusals_have_a_status_and_a_reason():
    async with await build() as agent:
        trigger = WebhookTrigger(port=0, max_body=100)
        await agent.add_trigger(trigger)
        base = f"http://127.0.0.1:{trigger.port}"
        async with httpx.AsyncClient() as client:
            assert (await client.post(base + "/other", json={})).status_code == 404
            wrong_method = await client.get(trigger.url)
            assert wrong_method.status_code == 405 and "POST" in wrong_method.json()["error"]
            too_big = await client.post(trigger.url, content=b"x" * 101)
            assert too_big.status_code == 413 and "limit is 100" in too_big.json()["error"]
        no_length = await raw_request(trigger.port, b"POST /webhook HTTP/1.1\r\nHost: x\r\n\r\n")
        assert no_length.startswith(b"HTTP/1.1 411")
        garbage = await raw_request(trigger.port, b"HELLO\r\n\r\n")
        assert garbage.startswith(b"HTTP/1.1 400")
        chunked = await raw_request(
            trigger.port,
            b"POST /webhook HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        )
        assert chunked.startswith(b"HTTP/1.1 411")
        assert trigger.fired == 0


async def test_a_client_that_stalls_gets_408(autojump_clock):
    async with await build() as agent:
        trigger = WebhookTrigger(port=0, read_timeout=5)
        await agent.add_trigger(trigger)
        stalled = await raw_request(
            trigger.port, b"POST /webhook HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"
        )
    assert stalled.startswith(b"HTTP/1.1 408")


async def test_signed_requests():
    secret = "s3cret"
    body = json.dumps({"message": "signed"}).encode()
    good = signed_headers(secret, body, delivery_id="d-1")
    body_only = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    async with await build() as agent:
        events = agent.subscribe()
        trigger = WebhookTrigger(port=0, secret=secret, id="gh")
        await agent.add_trigger(trigger)
        async with httpx.AsyncClient() as client:
            missing = await client.post(trigger.url, content=body)
            wrong = await client.post(
                trigger.url, content=body, headers={**good, "X-Signature-256": "sha256=00"}
            )
            unstamped = await client.post(
                trigger.url, content=body, headers={"X-Signature-256": body_only}
            )
            accepted = await client.post(trigger.url, content=body, headers=good)
        assert [r.status_code for r in (missing, wrong, unstamped, accepted)] == [
            403,
            403,
            403,
            202,
        ]
        assert "X-Webhook-Timestamp" in unstamped.json()["error"]
        (result,) = await turns(agent, 1, events)
    assert result.input == "[webhook gh] signed"


async def test_replayed_and_old_deliveries_are_refused():
    """The same signed body sent 3 times gives 1 turn; a delivery signed too long ago, none."""
    secret = "s3cret"
    body = json.dumps({"message": "once"}).encode()
    async with await build() as agent:
        events = agent.subscribe()
        trigger = WebhookTrigger(port=0, secret=secret, id="hook", replay_window=60)
        await agent.add_trigger(trigger)
        now = trigger.clock()
        fresh = signed_headers(secret, body, timestamp=now, delivery_id="d-1")
        old = signed_headers(secret, body, timestamp=now - 61, delivery_id="d-2")
        future = signed_headers(secret, body, timestamp=now + 3600, delivery_id="d-3")
        # the same id re-signed with a new timestamp is still the same delivery
        resigned = signed_headers(secret, body, timestamp=now + 1, delivery_id="d-1")
        async with httpx.AsyncClient() as client:
            answers = [
                await client.post(trigger.url, content=body, headers=headers)
                for headers in (fresh, fresh, fresh, resigned, old, future)
            ]
        assert [a.status_code for a in answers] == [202, 409, 409, 409, 403, 403]
        assert "already accepted" in answers[1].json()["error"]
        assert "accepted for 60s" in answers[4].json()["error"]
        (result,) = await turns(agent, 1, events)
        assert result.input == "[webhook hook] once"
        # a delivery id is forgotten once its timestamp could no longer pass
        trigger.clock = lambda: now + 500
        late = signed_headers(secret, body, timestamp=now + 500, delivery_id="d-1")
        async with httpx.AsyncClient() as client:
            again = await client.post(trigger.url, content=body, headers=late)
        assert again.status_code == 202
        await turns(agent, 1, events)


def test_replay_window_is_checked():
    with pytest.raises(TriggerConfigError, match="replay_window"):
        WebhookTrigger(port=0, replay_window=0)


async def test_expect_100_continue_is_honoured():
    async with await build() as agent:
        events = agent.subscribe()
        trigger = WebhookTrigger(port=0, prompt="{content}")
        await agent.add_trigger(trigger)
        stream = await trio.open_tcp_stream("127.0.0.1", trigger.port)
        async with stream:
            await stream.send_all(
                b"POST /webhook HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
            )
            assert (await stream.receive_some(100)).startswith(b"HTTP/1.1 100 Continue")
            await stream.send_all(b"hello")
            assert (await stream.receive_some(1000)).startswith(b"HTTP/1.1 202")
        (result,) = await turns(agent, 1, events)
    assert result.input == "hello"


async def test_config_webhook_and_closing_the_socket_when_stopped():
    config = {"triggers": [{"type": "webhook", "name": "ci", "port": 0, "path": "/ci"}]}
    async with await build(config) as agent:
        assert agent.jobs["ci"].name == "webhook"
        async with httpx.AsyncClient() as client:
            # The port is only known to the trigger object; find it through the job's trigger.
            (trigger,) = agent.triggers
            response = await client.post(trigger.url, json={"message": "build 7 failed"})
            assert response.status_code == 202
        port = trigger.port
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", port)


@pytest.mark.parametrize(
    ("options", "path", "fragment"),
    [
        ({"host": "0.0.0.0"}, "triggers[0].secret", "reachable from other machines"),
        ({"port": 70000}, "triggers[0].port", "TCP port"),
        ({"path": "hook"}, "triggers[0].path", "must start with '/'"),
        ({"max_body": 0}, "triggers[0].max_body", "positive number of bytes"),
        ({"prompt": "{x!r}"}, "triggers[0].prompt", "not a plain name"),
    ],
)
async def test_config_webhook_errors(options, path, fragment):
    with pytest.raises(TriggerConfigError) as info:
        await build({"triggers": [{"type": "webhook", **options}]})
    assert info.value.path == path and fragment in str(info.value)


def test_non_loopback_host_is_allowed_with_a_secret():
    trigger = WebhookTrigger(host="0.0.0.0", port=0, secret="x")
    assert trigger.describe() == "POST http://0.0.0.0:0/webhook"


async def test_the_documented_sender_is_accepted_once():
    """The sender in docs/reference/triggers.md signs deliveries the endpoint accepts."""
    docs = Path(__file__).resolve().parents[3] / "docs" / "reference" / "triggers.md"
    block = next(
        b.split("```", 1)[0] for b in docs.read_text().split("```python\n") if "def notify" in b
    )
    namespace: dict = {}
    exec(block, namespace)
    async with await build() as agent:
        events = agent.subscribe()
        trigger = WebhookTrigger(port=0, secret="s3", id="doc")
        await agent.add_trigger(trigger)
        status = await trio.to_thread.run_sync(namespace["notify"], trigger.url, "s3", "hi")
        assert status == 202
        (result,) = await turns(agent, 1, events)
    assert result.input == "[webhook doc] hi"
