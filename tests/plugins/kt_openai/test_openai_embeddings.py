"""The ``openai`` embedding provider against a loopback server that answers like /v1/embeddings.

The server embeds with the offline hashed embedder, so answers are real vectors whose ranking
tests can predict; it answers in base64 or as float lists, as asked. The official ``openai``
SDK's request is recorded next to ours, and must be the same.
"""

from __future__ import annotations

import array
import base64
import json
import math

import pytest
import trio
from fake_llm_servers import SECRET_KEY, Recorded, Reply, openai_error, openai_rate_limited

import kt
import kt_openai
from kt.errors import LLMAuthError, LLMNotConfiguredError, LLMResponseError
from kt.events import ToolCallCompleted
from kt.testing import ScriptedLLM, ToolCall
from kt_openai.embeddings import OpenAIEmbedder

kt_sessions = pytest.importorskip("kt_sessions")
from kt_sessions.memory import HashedEmbedder, make_embedder  # noqa: E402

FAST_RETRY = {"max_retries": 2, "base_delay": 0.01, "max_delay": 0.5}
TEXTS = ["We deploy the service tomorrow.", "The auth bug is in login.", ""]


def answer(request: Recorded, *, scramble: bool = False) -> Reply:
    """What an OpenAI-compatible server answers: one embedding per input, as asked."""
    body = request.body
    size = body.get("dimensions", 32)
    vectors = HashedEmbedder(size).embed(body["input"])
    data = []
    for i, vector in enumerate(vectors):
        scaled = [3.0 * v for v in vector]  # not normalised: the client does that
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(array.array("f", scaled).tobytes()).decode()
        else:
            encoded = scaled
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    if scramble:
        data.reverse()
    payload = {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": 9, "total_tokens": 9},
    }
    return Reply(chunks=[json.dumps(payload).encode()], content_type="application/json")


def embedder(server, **options) -> OpenAIEmbedder:
    options.setdefault("retry_policy", FAST_RETRY)
    options.setdefault("base_url", f"{server.url}/v1")
    options.setdefault("api_key_env", "EMBED_KEY")
    return OpenAIEmbedder("local-embed", None, options=options, env={"EMBED_KEY": SECRET_KEY})


def test_our_request_is_the_one_the_official_sdk_sends(server):
    openai = pytest.importorskip("openai")
    server.default = answer
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=SECRET_KEY, max_retries=0)
    sdk = client.embeddings.create(model="text-embedding-3-small", input=TEXTS[:2], dimensions=24)
    ours = OpenAIEmbedder(
        "text-embedding-3-small",
        24,
        options={"base_url": f"{server.url}/v1", "api_key_env": "EMBED_KEY"},
        env={"EMBED_KEY": SECRET_KEY},
    )
    vectors = ours.embed(TEXTS[:2])  # the synchronous path: a trio run of its own
    theirs, mine = server.requests
    assert (mine.method, mine.path) == (theirs.method, theirs.path) == ("POST", "/v1/embeddings")
    assert (
        mine.body
        == theirs.body
        == {
            "model": "text-embedding-3-small",
            "input": TEXTS[:2],
            "dimensions": 24,
            "encoding_format": "base64",
        }
    )
    for header in ("authorization", "content-type"):
        assert mine.headers[header] == theirs.headers[header]
    for got, sdk_item in zip(vectors, sdk.data, strict=True):  # the SDK decodes, not normalises
        norm = math.sqrt(sum(v * v for v in sdk_item.embedding))
        assert got == pytest.approx([v / norm for v in sdk_item.embedding], rel=1e-6)


@pytest.mark.parametrize("encoding", ["base64", "float"])
async def test_answers_are_decoded_put_in_order_and_normalised(server, encoding):
    server.default = lambda request: answer(request, scramble=True)
    ours = embedder(server, encoding_format=encoding)
    vectors = await ours.aembed(TEXTS)
    assert server.requests[0].body["input"] == [*TEXTS[:2], " "]  # the API refuses ""
    assert server.requests[0].body["encoding_format"] == encoding
    expected = HashedEmbedder(32).embed([*TEXTS[:2], " "])
    for got, want in zip(vectors, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-6)
    assert ours.dimensions == 32  # learned from the answer: the model's own size is unknown
    assert "dimensions" not in server.requests[0].body


async def test_texts_go_in_batches(server):
    server.default = answer
    vectors = await embedder(server, batch_size=2).aembed([f"text {i}" for i in range(5)])
    assert len(vectors) == 5
    assert [len(r.body["input"]) for r in server.requests] == [2, 2, 1]


async def test_transient_failures_are_retried_and_a_bad_key_is_typed_without_the_key(server):
    server.replies = [openai_rate_limited("0.01"), answer]
    assert len(await embedder(server).aembed(["x"])) == 1
    assert len(server.requests) == 2
    server.replies = [openai_error(401, f"Incorrect API key provided: {SECRET_KEY}", "auth")]
    with pytest.raises(LLMAuthError) as caught:
        await embedder(server).aembed(["x"])
    assert SECRET_KEY not in str(caught.value) and "api_key_env" in str(caught.value)


async def test_an_answer_that_does_not_fit_the_request_is_refused(server):
    def short(request):
        reply = answer(request)
        payload = json.loads(reply.chunks[0])
        payload["data"] = payload["data"][:1]
        return Reply(chunks=[json.dumps(payload).encode()], content_type="application/json")

    server.default = short
    with pytest.raises(LLMResponseError, match="asked for 2 vectors, got 1"):
        await embedder(server).aembed(TEXTS[:2])
    server.default = answer
    sized = embedder(server)
    sized.dimensions = 64
    with pytest.raises(LLMResponseError, match=r"vectors of \[32\] dimensions, expected 64"):
        await sized.aembed(["x"])


def test_keys_come_from_the_key_store_and_reach_only_their_own_endpoint(isolated_home, server):
    with pytest.raises(LLMNotConfiguredError, match="kt login openai"):
        OpenAIEmbedder(env={"KT_HOME": str(isolated_home)})
    from kt_llm.keys import KeyStore

    env = {"KT_HOME": str(isolated_home)}
    KeyStore(env).set("openai", SECRET_KEY)
    stored = OpenAIEmbedder(env=env)
    assert stored._headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert SECRET_KEY not in repr(stored) and "api_key" not in json.dumps(stored.config)
    elsewhere = OpenAIEmbedder(options={"base_url": f"{server.url}/v1"}, env=env)
    assert "authorization" not in elsewhere._headers  # an OpenAI key never goes elsewhere
    with pytest.raises(LLMNotConfiguredError, match="a key does not belong in a config"):
        OpenAIEmbedder(options={"api_key": SECRET_KEY}, env=env)
    with pytest.raises(LLMNotConfiguredError, match="unknown memory.embedding key"):
        OpenAIEmbedder(options={"base_url": server.url, "colour": "red"}, env=env)


def test_hook_registers_openai_and_the_reference_name_api(server):
    kernel = kt.Kernel(plugins=[kt_sessions, kt_openai])
    options = {"base_url": f"{server.url}/v1"}
    for name in ("openai", "api"):
        built = make_embedder(name, "nomic-embed-text", kernel=kernel, options=options)
        assert isinstance(built, OpenAIEmbedder) and built.model == "nomic-embed-text"
    assert built.config == {"provider": "openai", "model": "nomic-embed-text", **options}


async def test_a_creature_searches_its_memory_through_the_endpoint(server, tmp_path, monkeypatch):
    server.default = answer
    monkeypatch.setenv("EMBED_KEY", SECRET_KEY)
    memory = {
        "embedding": {
            "provider": "openai",
            "model": "text-embedding-3-small",
            "base_url": f"{server.url}/v1",
            "api_key_env": "EMBED_KEY",
            "dimensions": 256,
        }
    }
    search = ToolCall("search_memory", {"query": "deploy service", "mode": "semantic", "k": 1})
    kernel = kt.Kernel(plugins=[kt_sessions, kt_openai])
    agent = await kt.Agent.build(
        {"name": "m", "tools": [{"name": "search_memory"}], "memory": memory},
        llm=ScriptedLLM(["ok", "ok", search, "done"]),
        kernel=kernel,
        session=True,
        session_dir=tmp_path / "sessions",
    )
    async with agent:
        await agent.run(TEXTS[0])
        await agent.run(TEXTS[1])
        completed = [
            event
            async for event in agent.run_stream("search")
            if isinstance(event, ToolCallCompleted)
        ]
    assert completed[0].output.startswith("Found 1 result(s) for: deploy service")
    assert "We deploy the service" in completed[0].output
    bodies = [r.body for r in server.requests]
    assert all(b["dimensions"] == 256 and b["model"] == "text-embedding-3-small" for b in bodies)
    assert all(r.headers["authorization"] == f"Bearer {SECRET_KEY}" for r in server.requests)
    with kt_sessions.SessionReader(agent.session.path) as reader:
        settings = reader.memory.settings()
    assert settings["embedding"] == {**memory["embedding"], "provider": "openai"}
    assert SECRET_KEY not in agent.session.path.read_bytes().decode("utf-8", "replace")


async def test_embed_in_trio_code_says_to_await(server):
    with pytest.raises(RuntimeError, match="await aembed"):
        embedder(server).embed(["x"])
    await trio.lowlevel.checkpoint()


async def test_kt_embedding_and_kt_search_use_the_recorded_endpoint(server, isolated_home):
    """The command line path: a trio run per call, the creature's settings from the file."""
    import os
    import subprocess
    import sys

    server.default = answer
    memory = {
        "embedding": {"provider": "api", "model": "local-embed", "base_url": f"{server.url}/v1"}
    }
    agent = await kt.Agent.build(
        {"name": "cli", "memory": memory},
        llm=ScriptedLLM(["ok", "ok"]),
        kernel=kt.Kernel(plugins=[kt_sessions]),
        session=True,
        session_dir=isolated_home / "sessions",
    )
    async with agent:
        await agent.run(TEXTS[0])
        await agent.run(TEXTS[1])
    name = agent.session.path.name.removesuffix(".ktsession")
    env = {
        **os.environ,
        "KT_HOME": str(isolated_home),
        "KT_PLUGINS": "kt_cli,kt_sessions,kt_llm,kt_openai",
    }

    def kt_cmd(*args):
        return subprocess.run(
            [sys.executable, "-m", "kt_cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    built = await trio.to_thread.run_sync(kt_cmd, "embedding", name)
    assert built.returncode == 0, built.stderr
    assert "Embedding: openai (local-embed, 32 dimensions); semantic" in built.stdout
    found = await trio.to_thread.run_sync(
        kt_cmd, "search", name, "deploy service", "--mode", "semantic", "-k", "1"
    )
    assert found.returncode == 0, found.stderr
    assert "We deploy the service tomorrow." in found.stdout
    assert server.requests[-1].body["input"] == ["deploy service"]
