"""A lab host's Studio takes a terrarium spread over workers back as one session.

A Studio on a `StudioHost` (as `kt serve --mode lab-host` runs it) places two creatures joined
by a channel on a `kt worker`, and stops leaving them running; the next Studio adopts them
(``kt_lab.lab_host.adopt``) as one ``terrarium`` session, and a lone creature as its own.
"""

from __future__ import annotations

import pytest
import trio
from lab_support import drain, engine, start

import kt

pytest.importorskip("flask", reason="the web extra is not installed")

from kt_lab import lab_host  # noqa: E402
from kt_studio import Studio  # noqa: E402
from kt_web.host import StudioHost  # noqa: E402


def studio_host(tmp_path, monkeypatch, url: str) -> StudioHost:
    monkeypatch.setenv("KT_LAB_REDIS", url)
    kernel = kt.Kernel(plugins=["kt_lab", "kt_sessions"])
    host = StudioHost(lambda: Studio(kernel=kernel, session_dir=tmp_path / "sessions"))
    return host.start()


def place_and_leave(tmp_path, monkeypatch, url: str) -> None:
    host = studio_host(tmp_path, monkeypatch, url)
    try:
        engine_ = host.studio.engine
        for name in ("speaker", "ear", "alone"):
            selector = "labscript/send-news" if name == "speaker" else "labscript/echo"
            host.run(engine_.add_creature, {"name": name}, transport="redis", llm_selector=selector)
        host.run(engine_.connect, "speaker", "ear", channel="news")
        host.run(setattr, engine_, "leave_remote", True)
    finally:
        host.close()


def adopt_in_a_new_host(tmp_path, monkeypatch, url: str) -> list[tuple[str, list[str]]]:
    host = studio_host(tmp_path, monkeypatch, url)
    try:
        lab_host.adopt(host)
        sessions = host.run(host.studio.sessions.list)
        host.run(setattr, host.studio.engine, "leave_remote", True)
        return sorted((s.kind, sorted(c.id for c in s.creatures)) for s in sessions)
    finally:
        host.close()


async def test_a_terrarium_comes_back_as_one_session(workers, redis_server, tmp_path, monkeypatch):
    await start(workers, "w1")
    url = redis_server.url
    await trio.to_thread.run_sync(place_and_leave, tmp_path, monkeypatch, url)
    sessions = await trio.to_thread.run_sync(adopt_in_a_new_host, tmp_path, monkeypatch, url)
    assert sessions == [("creature", ["alone"]), ("terrarium", ["ear", "speaker"])]

    async with engine(url) as host:  # the creatures still run, joined: the channel delivers
        await host.adopt("redis")
        events = host.subscribe(creature_events=True)
        await host["speaker"].run("hi")
        await host.wait_idle()
        heard = [e.input for e in drain(events) if e.type == "turn_started" and e.creature == "ear"]
        assert heard == ["[Channel 'news' from speaker]: hi"]


def place_with_a_local_root_and_leave(tmp_path, monkeypatch, url: str) -> None:
    """A terrarium as a lab host runs one: its privileged root here, its member on a worker."""
    folder = tmp_path / "root"
    folder.mkdir()
    (folder / "creature.toml").write_text(
        'name = "root"\n[controller]\nllm = "scripted:replies.toml"\n', encoding="utf-8"
    )
    (folder / "replies.toml").write_text(
        '[[replies]]\ntext = "Noted."\n[[replies]]\ntext = "Still here."\n', encoding="utf-8"
    )
    host = studio_host(tmp_path, monkeypatch, url)
    try:
        engine_ = host.studio.engine
        host.run(engine_.add_creature, str(folder), is_privileged=True)
        host.run(
            engine_.add_creature, {"name": "ear"}, transport="redis", llm_selector="labscript/echo"
        )
        host.run(engine_.connect, "root", "ear", channel="tasks", kind="queue")
        host.run(engine_["root"].run, "remember the plan")
        host.run(setattr, engine_, "leave_remote", True)
    finally:
        host.close()  # the root stops with the host; its session file stays


async def test_a_terrarium_with_a_local_root_comes_back_whole(
    workers, redis_server, tmp_path, monkeypatch
):
    await start(workers, "w1")
    url = redis_server.url
    await trio.to_thread.run_sync(place_with_a_local_root_and_leave, tmp_path, monkeypatch, url)

    def adopt_and_look() -> tuple[list, dict, list, list[str]]:
        host = studio_host(tmp_path, monkeypatch, url)
        try:
            lab_host.adopt(host)
            engine_ = host.studio.engine
            sessions = [
                (s.kind, sorted(c.id for c in s.creatures))
                for s in host.run(host.studio.sessions.list)
            ]
            root = host.run(engine_.status, "root")
            history = [(m.role, m.content) for m in engine_["root"].agent.history]
            events = host.run(engine_.subscribe, creature_events=True)
            host.run(engine_.send, "tasks", "hello", sender="root")
            host.run(engine_.wait_idle)
            heard = [
                e.input for e in drain(events) if e.type == "turn_started" and e.creature == "ear"
            ]
            host.run(setattr, engine_, "leave_remote", True)
            return sessions, root, history, heard
        finally:
            host.close()

    sessions, root, history, heard = await trio.to_thread.run_sync(adopt_and_look)
    assert sessions == [("terrarium", ["ear", "root"])]  # one session: the terrarium, whole
    assert (root["send"], root["privileged"]) == (["tasks"], True)
    assert ("user", "remember the plan") in history and ("assistant", "Noted.") in history
    assert heard == ["[Channel 'tasks' from root]: hello"]  # the channel joins them again
