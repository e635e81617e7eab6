"""The webhook input module: a creature served from real HTTP requests on 127.0.0.1."""

from __future__ import annotations

import json

import httpx
import pytest
import trio

import kt
import kt_triggers
from kt.errors import ConfigValidationError
from kt.events import TurnCompleted
from kt.testing import ScriptedLLM, ToolCall
from kt_triggers.webhook import signed_headers
from kt_triggers.webhook_input import WebhookInput


async def serve(config: dict, replies: list, client_work, tools=()):
    """Build a creature served by `input = {type = "webhook", ...}`, run *client_work* on it."""
    agent = await kt.Agent.build(
        {"name": "hooked", "input": {"type": "webhook", "port": 0, **config}},
        llm=ScriptedLLM(replies),
        tools=tools,
        kernel=kt.Kernel(plugins=[kt_triggers]),
    )
    assert isinstance(agent.input, WebhookInput)
    events = []
    async with agent, trio.open_nursery() as nursery:
        seen = agent.subscribe()

        async def record():
            async for event in seen:
                events.append(event)

        nursery.start_soon(record)
        served = trio.Event()

        async def run_serve():
            await agent.serve()  # returns when the input's source ends (max_requests)
            served.set()

        nursery.start_soon(run_serve)
        await agent.input.listening.wait()
        result = await client_work(agent.input.url)
        await served.wait()
        nursery.cancel_scope.cancel()
    return agent, result, [e for e in events if isinstance(e, TurnCompleted)]


async def test_a_post_is_a_turn_and_the_reply_comes_back():
    async def post(url):
        async with httpx.AsyncClient() as client:
            return await client.post(url, json={"message": "deploy finished"})

    agent, response, turns = await serve({"reply": True, "max_requests": 1}, ["Noted."], post)
    assert response.status_code == 200
    assert response.json() == {"status": "completed", "text": "Noted."}
    (turn,) = turns
    assert turn.result.input == "deploy finished" and turn.result.text == "Noted."
    assert agent.input.handled == 1 and agent.input.url.startswith("http://127.0.0.1:")


async def test_requests_are_accepted_at_once_and_run_in_order():
    async def posts(url):
        async with httpx.AsyncClient() as client:
            answers = [await client.post(url, json={"text": f"job {n}"}) for n in range(3)]
        return answers

    _, answers, turns = await serve(
        {"max_requests": 3, "prompt": "[{path}] {content}"}, ["a", "b", "c"], posts
    )
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert [t.result.input for t in turns] == [f"[/webhook] job {n}" for n in range(3)]


async def test_signed_requests_only_and_no_more_than_max_requests():
    secret = "s3cret"
    body = json.dumps({"message": "signed"}).encode()
    gate = trio.Event()

    @kt.tool
    async def wait_for_the_test() -> str:
        """Hold the turn until the test has sent its last request."""
        await gate.wait()
        return "released"

    async def posts(url):
        async with httpx.AsyncClient() as client:
            unsigned = await client.post(url, content=body)
            signed = await client.post(url, content=body, headers=signed_headers(secret, body))
            extra = await client.post(url, content=body, headers=signed_headers(secret, body))
        gate.set()  # the accepted turn may end now; the input then ends
        return unsigned, signed, extra

    _, (unsigned, signed, extra), turns = await serve(
        {"secret": secret, "max_requests": 1},
        [ToolCall("wait_for_the_test", {}), "ok"],
        posts,
        tools=[wait_for_the_test],
    )
    assert unsigned.status_code == 403 and "X-Signature-256" in unsigned.json()["error"]
    assert signed.status_code == 202
    assert extra.status_code == 503 and "takes 1 requests" in extra.json()["error"]
    assert [(t.result.input, t.result.text) for t in turns] == [("signed", "ok")]


async def test_a_failed_turn_is_reported_to_the_sender():
    async def post(url):
        async with httpx.AsyncClient() as client:
            return await client.post(url, content=b"plain text")

    _, response, _ = await serve(
        {"reply": True, "max_requests": 1, "timeout": 5}, [kt.errors.LLMError("down")], post
    )
    assert response.status_code == 200
    assert response.json()["status"] == "error"


@pytest.mark.parametrize(
    ("options", "path", "fragment"),
    [
        ({"host": "0.0.0.0"}, "input.secret", "reachable from other machines"),
        ({"port": -1}, "input.port", "TCP port"),
        ({"reply": "yes"}, "input.reply", "true or false"),
        ({"max_requests": 0}, "input.max_requests", "positive number"),
        ({"timeout": 0}, "input.timeout", "positive number of seconds"),
        ({"colour": "red"}, "input.colour", "has no option 'colour'"),
    ],
)
async def test_config_errors_name_the_key(options, path, fragment):
    with pytest.raises(ConfigValidationError) as info:
        await kt.Agent.build(
            {"name": "t", "input": {"type": "webhook", **options}},
            llm=ScriptedLLM([]),
            kernel=kt.Kernel(plugins=[kt_triggers]),
        )
    assert info.value.path == path and fragment in str(info.value)


def test_the_webhook_input_is_registered_next_to_the_trigger():
    kernel = kt.Kernel(plugins=[kt_triggers])
    assert kernel.inputs.origin("webhook") == "kt_triggers"
    assert "webhook" in kernel.triggers
