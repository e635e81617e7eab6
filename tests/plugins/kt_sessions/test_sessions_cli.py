"""The session commands, run as a user runs them: `python -m kt_cli ...` in a subprocess."""

from __future__ import annotations

import json
import os

from kt_sessions_helpers import write

import kt
import kt_sessions
from kt.events import from_wire
from kt.testing import ScriptedLLM, ToolCall


@kt.tool
def lookup(topic: str) -> str:
    """Look a topic up.

    Args:
        topic: The topic.
    """
    return f"notes about {topic}: the auth bug is an expired token"


async def record(name, replies, inputs, home, tools=()):
    """Record a session for creature *name* in the kt home's sessions folder."""
    kernel = kt.Kernel(plugins=[kt_sessions])
    agent = await kt.Agent.build(
        {"name": name},
        llm=ScriptedLLM(replies),
        tools=list(tools),
        kernel=kernel,
        session=True,
        session_dir=home / "sessions",
    )
    async with agent:
        for text in inputs:
            await agent.run(text)
    return agent.session.path


def touch(path, when):
    os.utime(path, (when, when))
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        os.utime(wal, (when, when))


async def test_resume_finds_sessions_by_name_prefix_last_file_name_and_path(
    kt_cmd, isolated_home, tmp_path
):
    alpha_1 = await record("alpha", ["a1"], ["hi"], isolated_home)
    alpha_2 = await record("alpha", ["a2"], ["hi"], isolated_home)
    beta_1 = await record("beta", ["b1"], ["hi"], isolated_home)
    for age, path in enumerate((beta_1, alpha_2, alpha_1)):
        touch(path, 1_700_000_000 - 100 * age)  # beta newest, then alpha_2, then alpha_1
    replies = write(tmp_path / "more.toml", '[[replies]]\ntext = "resumed here"\n')
    llm = f"scripted:{replies}"

    done = kt_cmd("resume", "beta", "--llm", llm, stdin="go on\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "resumed here"
    assert f"kt: resumed {beta_1.name.removesuffix('.ktsession')}" in done.stderr
    assert "> hi" in done.stderr and "b1" in done.stderr  # the restored conversation
    assert f"continue it with: kt resume {beta_1.name.removesuffix('.ktsession')}" in done.stderr

    ambiguous = kt_cmd("resume", "alpha", "--llm", llm, stdin="")
    assert ambiguous.returncode == 1
    assert "2 sessions match 'alpha'" in ambiguous.stderr

    missing = kt_cmd("resume", "nope", "--llm", llm, stdin="")
    assert missing.returncode == 1
    assert "No session found matching: nope" in missing.stderr

    touch(alpha_1, 1_800_000_000)
    last = kt_cmd("resume", "--last", "--llm", llm, stdin="")
    assert last.returncode == 0, last.stderr
    assert alpha_1.name.removesuffix(".ktsession") in last.stderr

    for query in (alpha_2.name, str(alpha_2)):
        by_file = kt_cmd("resume", query, "--llm", llm, stdin="")
        assert by_file.returncode == 0, by_file.stderr
        assert alpha_2.name.removesuffix(".ktsession") in by_file.stderr


async def test_list_show_export_delete(kt_cmd, isolated_home, tmp_path):
    path = await record(
        "shower",
        [ToolCall("lookup", {"topic": "auth"}), "It is a token problem.", "Bye."],
        ["what about auth?", "thanks"],
        isolated_home,
        tools=[lookup],
    )
    name = path.name.removesuffix(".ktsession")

    listed = kt_cmd("sessions", "list")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "STATUS", "TURNS"]
    assert row.split()[:3] == [name, "paused", "2"] and row.endswith("what about auth?")

    shown = kt_cmd("sessions", "show", "shower")
    assert shown.returncode == 0, shown.stderr
    assert "status:    paused" in shown.stdout
    assert "#1 shower [completed]" in shown.stdout
    assert "[tool lookup ok] notes about auth" in shown.stdout
    assert "< It is a token problem." in shown.stdout

    exported = kt_cmd("sessions", "export", "shower", "--format", "jsonl")
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [line["id"] for line in lines] == list(range(1, len(lines) + 1))
    assert from_wire({k: v for k, v in lines[0].items() if k != "id"}).type == "creature_started"

    markdown = tmp_path / "out.md"
    written = kt_cmd("sessions", "export", name, "--format", "markdown", "-o", markdown)
    assert written.returncode == 0, written.stderr
    text = markdown.read_text()
    assert text.startswith(f"# Session {name}")
    assert "### Turn 1 (completed, source user)" in text
    assert "- tool `lookup`" in text and "> It is a token problem." in text

    gone = kt_cmd("sessions", "delete", name, "--yes")
    assert gone.returncode == 0, gone.stderr
    assert not path.exists()
    assert kt_cmd("sessions", "list").stdout.startswith("no sessions in")


async def test_show_gives_the_cost_of_each_turn_and_of_the_session(kt_cmd, isolated_home):
    import kt_llm

    class Priced(ScriptedLLM):
        class model_info:  # what a catalog-backed backend gives: a price for each call's usage
            @staticmethod
            def cost(usage):
                return 0.0015 if usage.prompt_tokens else None

    kernel = kt.Kernel(plugins=[kt_sessions, kt_llm])
    agent = await kt.Agent.build(
        {"name": "payer"},
        llm=Priced(["one", "two"]),
        kernel=kernel,
        session=True,
        session_dir=isolated_home / "sessions",
    )
    async with agent:
        await agent.run("first")
        await agent.run("second")
    shown = kt_cmd("sessions", "show", "payer")
    assert shown.returncode == 0, shown.stderr
    assert "cost:      $0.0030" in shown.stdout
    assert "#1 payer [completed] $0.0015" in shown.stdout
    assert "#2 payer [completed] $0.0015" in shown.stdout


async def test_embedding_and_search_offline(kt_cmd, isolated_home):
    path = await record(
        "searcher",
        [ToolCall("lookup", {"topic": "auth"}), "Found the auth bug.", "Deploying now."],
        ["look into the auth bug", "deploy it"],
        isolated_home,
        tools=[lookup],
    )
    name = path.name.removesuffix(".ktsession")

    fts = kt_cmd("search", name, "auth bug", "--mode", "fts")
    assert fts.returncode == 0, fts.stderr
    assert fts.stdout.startswith("Found ")
    assert "[round 1]" in fts.stdout and "auth bug" in fts.stdout

    semantic = kt_cmd("search", name, "deployment", "--mode", "semantic")
    assert semantic.returncode == 1
    assert "No vector index found" in semantic.stderr and "kt embedding" in semantic.stderr

    built = kt_cmd("embedding", name)
    assert built.returncode == 0, built.stderr
    assert (
        "Embedding: hashed (char-ngram-v1, 256 dimensions); lexical: matches shared words and "
        "word pieces, not meaning" in built.stdout
    )
    assert "searcher: 6 blocks" in built.stdout
    assert "Done. 6 new blocks embedded. FTS: 6 blocks, Vector: 6 blocks (256d)" in built.stdout
    again = kt_cmd("embedding", name)
    assert "Done. 0 new blocks embedded." in again.stdout

    semantic = kt_cmd("search", name, "deployment", "--mode", "semantic", "-k", "2")
    assert semantic.returncode == 0, semantic.stderr
    assert "Deploying now." in semantic.stdout or "deploy it" in semantic.stdout
    assert "lexical" in semantic.stderr and "--provider model2vec --rebuild" in semantic.stderr
    assert semantic.stdout.count("\n#") <= 2

    mismatch = kt_cmd("embedding", name, "--dimensions", "64")
    assert mismatch.returncode == 1
    assert "256 dimensions" in mismatch.stderr and "--rebuild" in mismatch.stderr


def test_a_config_recorded_kt_run_exits_cleanly_and_leaves_a_paused_session(
    kt_cmd, isolated_home, tmp_path
):
    folder = tmp_path / "creature"
    write(
        folder / "creature.toml",
        """
        name = "cleaner"
        [[plugins]]
        name = "session"
        module = "kt_sessions"
        class = "SessionRecorder"
        """,
    )
    replies = write(folder / "replies.toml", '[[replies]]\ntext = "hello back"\n')
    done = kt_cmd(
        "run",
        folder,
        "--mode",
        "plain",
        "--no-session",
        "--llm",
        f"scripted:{replies}",
        stdin="hi\n",
    )  # the config's own recorder, not kt run's default one
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hello back"
    (path,) = (isolated_home / "sessions").iterdir()
    with kt_sessions.SessionReader(path) as reader:
        assert reader.status == "paused"
        assert reader.meta["creatures"] == ["cleaner"]
        assert [m.content for m in reader.conversation()] == ["hi", "hello back"]
        assert reader.creature_record()["source"] == str((folder / "creature.toml").resolve())


def test_kt_run_records_by_default_and_prints_the_resume_command(kt_cmd, isolated_home, tmp_path):
    folder = tmp_path / "greeter"
    write(
        folder / "creature.toml", 'name = "greeter"\n[controller]\nllm = "scripted:replies.toml"\n'
    )
    write(folder / "replies.toml", 'replies = ["hello", "hello again"]\n')
    done = kt_cmd("run", folder, "--mode", "plain", stdin="hi\n")
    assert done.returncode == 0, done.stderr
    (path,) = (isolated_home / "sessions").glob("*.ktsession")
    assert f"kt resume {path.stem}" in done.stderr
    with kt_sessions.SessionReader(path) as reader:
        assert [m.content for m in reader.conversation()] == ["hi", "hello"]
    again = kt_cmd("resume", "--last", "--mode", "plain", stdin="more\n")
    assert again.returncode == 0, again.stderr
    # a new process replays the reply file from its start; the conversation goes on
    with kt_sessions.SessionReader(path) as reader:
        assert [m.content for m in reader.conversation()] == ["hi", "hello", "more", "hello"]


def test_kt_run_no_session_records_nothing(kt_cmd, isolated_home, tmp_path):
    folder = tmp_path / "quiet"
    write(folder / "creature.toml", 'name = "quiet"\n[controller]\nllm = "scripted:replies.toml"\n')
    write(folder / "replies.toml", 'replies = ["ok"]\n')
    done = kt_cmd("run", folder, "--mode", "plain", "--no-session", stdin="hi\n")
    assert done.returncode == 0, done.stderr
    assert not list((isolated_home / "sessions").glob("*.ktsession"))
    assert "kt resume" not in done.stderr
