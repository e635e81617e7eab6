"""A host that died (kill -9) comes back and takes its creatures back: ``engine.adopt``.

The first host is a real process placing a creature on a `kt worker`; it is killed after a
turn. The creature keeps running on the worker; a new engine with the same host name adopts
it, with its conversation, without placing it again.
"""

from __future__ import annotations

import subprocess

import trio
from lab_support import engine, host_process, start

from kt_lab.status import Lab

HOST = """
import sys, trio, kt, kt_terrarium

async def main(url):
    options = {"redis": {"url": url, "host": "h1", "watch_every": 0.1}}
    kernel = kt.Kernel(plugins=["kt_lab"])
    async with kt_terrarium.Terrarium(kernel=kernel, transports=options) as engine:
        far = await engine.add_creature(
            {"name": "far"}, transport="redis", llm_selector="labscript/echo"
        )
        print("ran", (await far.run("first")).text, flush=True)
        await trio.sleep_forever()

trio.run(main, sys.argv[1])
"""


def run_host_until_a_turn_ran(url: str) -> subprocess.Popen[str]:
    return host_process(HOST, url, "ran got: first")


async def test_a_restarted_host_adopts_the_creatures_it_had_placed(workers, redis_server):
    await start(workers, "w1")
    first = await trio.to_thread.run_sync(run_host_until_a_turn_ran, redis_server.url)
    first.kill()  # kill -9: no goodbye, the creature stays on w1
    first.wait()

    async with engine(redis_server.url, host="h1") as host:
        (far,) = await host.adopt("redis")
        assert far.id == "far" and far.transport == "redis" and far.is_running
        said = [m.content for m in far.body.history if m.role in ("user", "assistant")]
        assert said == ["first", "got: first"]  # learned from the stream, not run again
        assert host.status("far")["turn_index"] == 1

        result = await far.run("second")
        assert result.text == "got: second"
        assert [m.content for m in far.body.history][-2:] == ["second", "got: second"]
        (node,) = await Lab(redis_server.url).nodes()
        assert node.name == "w1" and len(node.creatures) == 1  # the same placement, not a new one

        assert await host.adopt("redis") == []  # already here: nothing more to take back


async def test_another_host_name_adopts_nothing(workers, redis_server):
    await start(workers, "w1")
    first = await trio.to_thread.run_sync(run_host_until_a_turn_ran, redis_server.url)
    first.kill()
    first.wait()
    async with engine(redis_server.url, host="someone-else") as host:
        assert await host.adopt("redis") == []
