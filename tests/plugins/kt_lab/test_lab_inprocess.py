"""The redis transport with a worker in this process (a trio task): the path, quickly."""

from __future__ import annotations

import shutil

import pytest
import trio
from lab_support import REDIS_SERVER, RedisServer

import kt
import kt_terrarium
from kt.testing import ScriptedLLM
from kt_lab.errors import LabUnavailableError
from kt_lab.status import Lab
from kt_lab.worker import LabWorker


def echo(name):
    return ScriptedLLM([lambda request: f"{name} got: {request.messages[-1].content}"])


async def test_a_creature_runs_on_a_worker_in_this_process(redis_server):
    models = {}

    def llm(creature_id, config):
        models[creature_id] = echo(creature_id)
        return models[creature_id]

    node = LabWorker(redis_server.url, "w1", kernel=kt.Kernel(plugins=[]), llm=llm, lease_ttl=1)
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        kernel = kt.Kernel(plugins=["kt_lab"])
        options = {"redis": {"url": redis_server.url, "watch_every": 0.2}}
        async with kt_terrarium.Terrarium(kernel=kernel, transports=options) as engine:
            far = await engine.add_creature({"name": "far"}, transport="redis", node="w1")
            result = await far.run("hello")
            assert result.text == "far got: hello"
            async with far.run_stream("again") as stream:
                types = [event.type async for event in stream]
            assert types[0] == "turn_started" and types[-1] == "turn_completed"
        nursery.cancel_scope.cancel()


async def test_an_acl_user_from_a_password_file(redis_server, tmp_path):
    import redis as redis_client

    admin = redis_client.Redis.from_url(redis_server.url)
    admin.execute_command("ACL", "SETUSER", "kt-lab", "on", ">s3cret-pass", "~kt:*", "&*", "+@all")
    admin.execute_command("CONFIG", "SET", "requirepass", "root-only")  # no anonymous access
    admin.close()
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text("kt-lab:s3cret-pass\n")
    bad.write_text("kt-lab:wrong\n")

    assert await Lab(redis_server.url, password_file=str(good)).ready()
    lab = Lab(redis_server.url, password_file=str(bad))
    assert not await lab.ready()
    with pytest.raises(LabUnavailableError, match="refused the credentials") as caught:
        await lab.redis.check()
    assert "wrong" not in str(caught.value)  # the secret never reaches a message
    node = LabWorker(
        redis_server.url,
        "w1",
        kernel=kt.Kernel(plugins=[]),
        password_file=str(good),
        llm=lambda creature_id, config: echo(creature_id),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        nodes = await Lab(redis_server.url, password_file=str(good)).nodes()
        assert [n.name for n in nodes] == ["w1"] and nodes[0].alive
        nursery.cancel_scope.cancel()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test CA")
async def test_a_creature_over_tls(tmp_path):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path / "redis", tls=True)
    server.folder.mkdir()
    server.start()
    try:
        assert server.url.startswith("rediss://")
        plain = Lab(server.url.replace("rediss://", "redis://").split("?")[0])
        assert not await plain.ready()  # the port speaks TLS only
        node = LabWorker(
            server.url,
            "w1",
            kernel=kt.Kernel(plugins=[]),
            llm=lambda creature_id, config: echo(creature_id),
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            kernel = kt.Kernel(plugins=["kt_lab"])
            options = {"redis": {"url": server.url, "watch_every": 0.2}}
            async with kt_terrarium.Terrarium(kernel=kernel, transports=options) as engine:
                far = await engine.add_creature({"name": "far"}, transport="redis")
                assert (await far.run("secret")).text == "far got: secret"
            nursery.cancel_scope.cancel()
    finally:
        server.stop()
