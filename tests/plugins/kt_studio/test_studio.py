"""Studio without HTTP: live sessions, saved sessions, catalog and identity over real plugins."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

import kt
from kt.testing import ScriptedLLM
from kt_studio import SessionNotFoundError, Studio, StudioInputError, TurnFailedError
from kt_studio.convert import unstructure


def echo(request):
    return f"echo: {request.messages[-1].content}"


def studio(tmp_path, llm=None):
    return Studio(session_dir=tmp_path / "sessions", pwd=tmp_path, llm=llm or ScriptedLLM([echo]))


async def test_a_creature_session_starts_chats_and_stops(tmp_path, creature_dir):
    async with studio(tmp_path) as s:
        session = await s.sessions.start_creature(str(creature_dir))
        assert session.kind == "creature" and session.root == "helper"
        assert [c.id for c in session.creatures] == ["helper"]
        reply = await s.sessions.chat(session.session_id, "root", "hello")
        assert reply.response == "echo: hello" and reply.status == "completed"
        assert reply.usage.total_tokens > 0 and reply.turn_index == 1
        history = await s.sessions.history(session.session_id, "helper")
        assert [m["role"] for m in history.messages] == ["user", "assistant"]
        assert "You help." in s.sessions.system_prompt(session.session_id, "root")
        assert [v.session_id for v in s.sessions.list()] == [session.session_id]
        await s.sessions.stop(session.session_id)
        assert s.sessions.list() == []
        with pytest.raises(SessionNotFoundError, match="no live session"):
            s.sessions.get(session.session_id)


async def test_a_creature_view_carries_its_model_s_context_window(tmp_path, creature_dir):
    class Windowed(ScriptedLLM):
        context_window = 128_000  # what a backend that knows its model reports

    async with studio(tmp_path, llm=Windowed([echo])) as s:
        session = await s.sessions.start_creature(str(creature_dir))
        assert [c.context_window for c in session.creatures] == [128_000]
    async with studio(tmp_path) as s:  # a model that does not say
        session = await s.sessions.start_creature(str(creature_dir))
        assert [c.context_window for c in session.creatures] == [None]


async def test_values_unstructure_to_plain_json(tmp_path, creature_dir):
    import json

    async with studio(tmp_path) as s:
        session = await s.sessions.start_creature(str(creature_dir), name="bob")
        data = unstructure(session)
        json.dumps(data)
        assert data["name"] == "bob" and data["creatures"][0]["id"] == "bob"


async def test_a_failed_turn_raises_with_its_reply(tmp_path, creature_dir):
    llm = ScriptedLLM([kt.errors.LLMConnectionError("the model is down")])
    async with studio(tmp_path, llm) as s:
        session = await s.sessions.start_creature(str(creature_dir))
        with pytest.raises(TurnFailedError, match="the model is down") as failed:
            await s.sessions.chat(session.session_id, "root", "hi")
        assert failed.value.error_type == "LLMConnectionError"
        assert failed.value.reply.status == "error"


async def test_bad_input_names_the_field(tmp_path, creature_dir):
    async with studio(tmp_path) as s:
        with pytest.raises(StudioInputError, match="config_path"):
            await s.sessions.start_creature("  ")
        with pytest.raises(StudioInputError, match="pwd"):
            await s.sessions.start_creature(str(creature_dir), pwd=str(tmp_path / "nope"))
        session = await s.sessions.start_creature(str(creature_dir))
        with pytest.raises(StudioInputError, match="message"):
            await s.sessions.chat(session.session_id, "root", "")
        with pytest.raises(kt.errors.KTError, match="no creature 'ghost'"):
            await s.sessions.chat(session.session_id, "ghost", "hi")


async def test_a_terrarium_session_has_root_channels_and_an_observer(tmp_path, recipe_dir):
    async with studio(tmp_path) as s:
        session = await s.sessions.start_terrarium(str(recipe_dir))
        assert session.kind == "terrarium" and session.root == "root"
        assert {c.id for c in session.creatures} == {"root", "worker"}
        assert "tasks" in session.channels
        observer = s.attach.observer(session.session_id)
        message = await s.sessions.send(session.session_id, "tasks", "do it")
        seen = await observer.receive()
        assert seen.type == "channel_message" and seen.content == "do it"
        assert message.channel == "tasks"
        await s.engine.wait_idle()  # the worker consumed the queue message; observing took none
        worker = await s.sessions.history(session.session_id, "worker")
        assert "do it" in worker.messages[0]["content"]
        await observer.aclose()
        graph = s.sessions.graph()
        assert graph[0]["session_id"] == session.session_id


async def test_scratchpad_jobs_model_and_interrupt(tmp_path, creature_dir):
    replies = tmp_path / "other.toml"
    replies.write_text('replies = ["from the other model"]\n')
    async with studio(tmp_path) as s:
        session = await s.sessions.start_creature(str(creature_dir))
        sid = session.session_id
        pad = await s.sessions.patch_scratchpad(sid, "root", {"plan": "step 1", "x": "y"})
        assert pad == {"plan": "step 1", "x": "y"}
        assert await s.sessions.patch_scratchpad(sid, "root", {"x": None}) == {"plan": "step 1"}
        assert s.sessions.jobs(sid, "root") == []
        assert s.sessions.interrupt(sid, "root") is False
        view = await s.sessions.set_model(sid, "root", f"scripted:{replies}")
        assert view.model == f"scripted:{replies}"
        reply = await s.sessions.chat(sid, "root", "hi")
        assert reply.response == "from the other model"


async def test_saved_sessions_list_search_export_resume_delete(tmp_path, creature_dir):
    async with studio(tmp_path) as s:
        session = await s.sessions.start_creature(str(creature_dir))
        await s.sessions.chat(session.session_id, "root", "remember the walrus")
        page = s.persistence.list()
        assert page.total == 1 and page.items[0].live
        name = page.items[0].name
        with pytest.raises(kt.errors.KTError, match="is live"):
            s.persistence.delete(name)
    # leaving Studio (a server stopping) keeps the session resumable

    async with studio(tmp_path) as s:
        assert s.persistence.list(search="walrus").total == 1
        assert s.persistence.list(search="penguin").total == 0
        markdown = "".join(s.persistence.export(name, "md"))
        assert "remember the walrus" in markdown and "echo: remember the walrus" in markdown
        lines = "".join(s.persistence.export(name, "jsonl")).splitlines()
        assert any('"turn_completed"' in line for line in lines)
        assert "<pre>remember the walrus</pre>" in "".join(s.persistence.export(name, "html"))
        with pytest.raises(StudioInputError, match="format"):
            s.persistence.export(name, "pdf")
        hits = s.persistence.memory_search(name, "walrus")
        assert hits
        resumed = await s.resume(name)
        reply = await s.sessions.chat(resumed.session_id, "helper", "and now?")
        assert reply.turn_index == 2
        history = await s.sessions.history(resumed.session_id, "helper")
        assert history.messages[0]["content"] == "remember the walrus"
        await s.sessions.stop(resumed.session_id)
        s.persistence.delete(name)
        assert name not in [i.name for i in s.persistence.list().items]
        with pytest.raises(SessionNotFoundError):
            s.persistence.get(name)


async def test_identity_masks_keys_and_catalog_lists_builtins(tmp_path):
    s = studio(tmp_path)
    view = s.identity.set_key("openai", "sk-secret-1234567890")
    assert view.masked == "sk-s...7890"
    keys = {k.provider: k for k in s.identity.keys()}
    assert keys["openai"].source == "stored" and "secret" not in keys["openai"].masked
    assert s.identity.set_default_model("openai/gpt-4o") == "openai/gpt-4o"
    assert s.identity.default_model() == "openai/gpt-4o"
    assert "openai" in [b.name for b in s.identity.backends()]
    s.identity.add_mcp_server(
        "time", {"command": "mcp-server-time", "env": {"TOKEN": "abcdefghijkl"}}
    )
    (server,) = s.identity.mcp_servers()
    assert server.settings["env"]["TOKEN"] == "abcd...ijkl"
    tools = {t.name: t for t in s.catalog.tools()}
    assert tools["scratchpad"].plugin == "kt_tools" and tools["scratchpad"].parameters
    assert "kt_studio" in [p.name for p in s.catalog.plugins()]
    assert s.catalog.packs() == []


async def test_a_session_follows_its_creatures_when_graphs_merge(tmp_path, creature_dir):
    async with studio(tmp_path) as s:
        a = await s.sessions.start_creature(str(creature_dir), name="a")
        b = await s.sessions.start_creature(str(creature_dir), name="b")
        await s.sessions.connect(a.session_id, "a", "a")  # an edge inside its own graph
        with trio.fail_after(5):
            await s.engine.connect("a", "b", channel="ab")  # the graphs merge
        assert {c.id for c in s.sessions.get(a.session_id).creatures} == {"a", "b"}
        assert s.sessions.creature_id(a.session_id, "b") == "b"
        assert {c.id for c in s.sessions.get(b.session_id).creatures} == {"a", "b"}


async def test_regenerate_and_edit_make_branches(tmp_path, creature_dir):
    async with studio(tmp_path) as s:
        sid = (await s.sessions.start_creature(str(creature_dir))).session_id
        await s.sessions.chat(sid, "root", "first question")
        again = await s.sessions.regenerate(sid, "root")
        assert again.response == "echo: first question"
        edited = await s.sessions.edit(sid, "root", 0, "better question")
        assert edited.response == "echo: better question"
        history = await s.sessions.history(sid, "root")
        assert [m["content"] for m in history.messages] == [
            "better question",
            "echo: better question",
        ]
        # Recorded in its graph's session, the creature keeps every try as a branch.
        assert [(b["path"], b["reason"], b["input"], b["live"]) for b in history.branches] == [
            ((1,), "", "first question", False),
            ((2,), "regenerate", "first question", False),
            ((3,), "edit", "better question", True),
        ]
        chosen = await s.sessions.select_branch(sid, "root", (1,))  # back to the first try
        assert [m["content"] for m in chosen.messages] == [
            "first question",
            "echo: first question",
        ]
        assert [b["live"] for b in chosen.branches] == [True, False, False]
        with pytest.raises(StudioInputError, match="no branch"):
            await s.sessions.select_branch(sid, "root", (9,))
        rewound = await s.sessions.rewind(sid, "root", 1)
        assert [m["role"] for m in rewound.messages] == ["user"]
        with pytest.raises(StudioInputError, match="not a user message"):
            await s.sessions.edit(sid, "root", 1, "x")


async def test_a_terrarium_creature_branches_and_a_resume_keeps_them(tmp_path, recipe_dir):
    async with studio(tmp_path) as s:
        session = await s.sessions.start_terrarium(str(recipe_dir))
        sid = session.session_id
        await s.sessions.chat(sid, "worker", "one")
        await s.sessions.chat(sid, "worker", "two")
        edited = await s.sessions.edit(sid, "worker", 0, "uno")
        assert edited.response == "echo: uno"
        history = await s.sessions.history(sid, "worker")
        assert [m["content"] for m in history.messages] == ["uno", "echo: uno"]
        assert [(b["path"], b["live"]) for b in history.branches] == [
            ((1,), False),
            ((1, 1), False),
            ((2,), True),
        ]
        name = Path(session.store_paths[0]).name.removesuffix(".ktsession")
        await s.sessions.stop(sid)
        (saved,) = s.persistence.list().items  # taking the graph apart wrote no other file
        assert saved.status == "paused" and set(saved.creatures) == {"root", "worker"}
        resumed = await s.resume(name)
        assert {c.id for c in resumed.creatures} == {"root", "worker"}
        assert "tasks" in resumed.channels
        files = s.persistence.list().items  # rebuilt creature by creature, written as one
        assert [(f.status, set(f.creatures)) for f in files] == [
            ("running", {"root", "worker"}),
            ("paused", {"root", "worker"}),
        ]
        await s.sessions.chat(resumed.session_id, "worker", "dos")
        again = await s.sessions.regenerate(resumed.session_id, "worker")
        assert again.response == "echo: dos"
        history = await s.sessions.history(resumed.session_id, "worker")
        assert [m["content"] for m in history.messages] == ["uno", "echo: uno", "dos", "echo: dos"]
        # The tree of every run: the resumed file holds the earlier run's records too.
        assert [(b["path"], b["reason"], b["input"], b["live"]) for b in history.branches] == [
            ((1,), "", "one", False),
            ((1, 1), "", "two", False),
            ((2,), "edit", "uno", True),
            ((2, 1), "", "dos", False),
            ((2, 2), "regenerate", "dos", True),
        ]
        # The resumed file starts where the conversation stood, so a second resume has it all.
        await s.sessions.stop(resumed.session_id)
        name = Path(resumed.store_paths[0]).name.removesuffix(".ktsession")
        twice = await s.resume(name)
        history = await s.sessions.history(twice.session_id, "worker")
        assert [m["content"] for m in history.messages] == ["uno", "echo: uno", "dos", "echo: dos"]


async def test_stopping_a_session_that_falls_apart_writes_no_new_files(tmp_path, creature_dir):
    async with studio(tmp_path) as s:
        sid = (await s.sessions.start_creature(str(creature_dir), name="hub")).session_id
        for name in ("left", "right"):
            await s.sessions.add_creature(sid, str(creature_dir), name=name)
            await s.sessions.connect(sid, "hub", name, channel=f"to_{name}")
        await s.sessions.chat(sid, "left", "remember the left")
        await s.sessions.stop(sid)  # removing the hub first splits left from right
        (saved,) = s.persistence.list().items
        assert set(saved.creatures) == {"hub", "left", "right"}
        resumed = await s.resume(saved.name)
        assert {c.id for c in resumed.creatures} == {"hub", "left", "right"}
        left = await s.sessions.history(resumed.session_id, "left")
        assert left.messages[0]["content"] == "remember the left"


async def test_a_file_of_a_creature_on_its_own_is_refused_with_the_way_out(tmp_path, creature_dir):
    from kt_studio import StudioConflictError

    async with await kt.Agent.build(
        creature_dir, llm=ScriptedLLM(["hi"]), session=True, session_dir=tmp_path / "sessions"
    ) as agent:
        await agent.run("on my own")
    async with studio(tmp_path) as s:
        (saved,) = s.persistence.list().items
        with pytest.raises(StudioConflictError, match=f"kt resume {saved.name}"):
            await s.resume(saved.name)
        assert s.sessions.list() == [] and s.persistence.list().total == 1


def test_a_pack_s_refs_follow_the_paths_its_manifest_gives(tmp_path):
    pack = tmp_path / "acme"
    (pack / "agents" / "support").mkdir(parents=True)
    (pack / "agents" / "support" / "creature.toml").write_text('name = "support"\n')
    (pack / "terrariums" / "triage").mkdir(parents=True)
    (pack / "terrariums" / "triage" / "terrarium.toml").write_text(
        'name = "triage"\n[[creatures]]\nname = "a"\nbase_config = "../../agents/support"\n'
    )
    (pack / "kt-pack.toml").write_text(
        '[pack]\nname = "acme"\n[[creatures]]\nname = "support"\npath = "agents/support"\n'
        '[[terrariums]]\nname = "triage"\n'
    )
    view = studio(tmp_path).catalog.install(str(pack))
    assert view.refs == ("@acme/agents/support", "@acme/terrariums/triage")


async def test_testing_an_mcp_server_connects_or_says_why(tmp_path):
    s = studio(tmp_path)
    with pytest.raises(StudioInputError, match="no MCP server 'nope' in the registry"):
        await s.identity.test_mcp_server("nope")
    s.identity.add_mcp_server("broken", {"command": "/no/such/program"})
    found = await s.identity.test_mcp_server("broken")
    assert not found.ok and found.tools == () and found.error
