"""``kt resume``, ``kt sessions list|show|delete|export``, ``kt search`` and ``kt embedding``.

Added to the ``kt`` command through ``kt_cli_commands``. Every command takes ``--dir`` (default
``$KT_SESSION_DIR``, else ``~/.kt/sessions``) and a session as a path, a name, or a unique name
prefix or substring. Errors are :class:`kt.errors.KTError` subclasses, which ``kt`` reports in
one line with exit code 1.
"""

from __future__ import annotations

import datetime
import sys
import warnings
from pathlib import Path
from typing import Any

import click

import kt

__all__ = ["add_commands"]

_DIR_OPTION = click.option(
    "--dir",
    "session_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of sessions (default: $KT_SESSION_DIR, else ~/.kt/sessions).",
)


def add_commands(cli: click.Group) -> None:
    """Add the session commands to *cli*."""
    cli.add_command(resume_command)
    cli.add_command(sessions_group)
    cli.add_command(search_command)
    cli.add_command(embedding_command)


def _kernel() -> kt.Kernel:
    """The invocation's kernel when ``kt`` built one (same plugin set), else a new one."""
    root = click.get_current_context().find_root().obj
    make = getattr(root, "kernel", None)
    return make() if callable(make) else kt.Kernel()


def _when(timestamp: float) -> str:
    if not timestamp:
        return "-"
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _resolve(query: str | None, session_dir: Path | None, *, last: bool = False) -> Path:
    from kt_sessions.errors import SessionAmbiguousError
    from kt_sessions.finder import find_session, last_session, session_files

    if last:
        return last_session(session_dir)
    if query is not None:
        try:
            return find_session(query, session_dir=session_dir)
        except SessionAmbiguousError as exc:
            if not sys.stdin.isatty():
                raise
            return _pick(exc.matches)
    files = session_files(session_dir)
    if not files:
        return last_session(session_dir)  # raises: no session at all
    if not sys.stdin.isatty():
        raise click.UsageError("name a session (kt sessions list shows them) or pass --last")
    return _pick(files)


PICK_LAST_CHARS = 50
"""How much of a session's last message the resume picker shows."""


def _pick(files: list[Path]) -> Path:
    """Ask which of the 10 newest *files* to resume: name, creature, time, last message."""
    shown = files[:10]
    rows = [_pick_row(path) for path in shown]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for i, row in enumerate(rows, start=1):
        cells = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        click.echo(f"{i:>2}. {cells}  {row[3]}".rstrip(), err=True)
    answer = click.prompt("Pick a number", type=click.IntRange(1, len(shown)), err=True)
    return shown[answer - 1]


def _pick_row(path: Path) -> tuple[str, str, str, str]:
    """``(name, creature, time, last message)`` of one session file, for the picker."""
    from kt_sessions.reader import SessionReader
    from kt_sessions.wire import message_text

    name = path.name.removesuffix(".ktsession")
    try:
        with SessionReader(path) as reader:
            info = reader.info()
            said = [
                m
                for m in reader.conversation()
                if m.role in ("user", "assistant") and message_text(m).strip()
            ]
    except Exception as exc:  # one unreadable file must not hide the others
        return name, "?", "-", f"(unreadable: {type(exc).__name__})"
    last = ""
    if said:
        text = " ".join(message_text(said[-1]).split())
        last = ("> " if said[-1].role == "user" else "") + _clip(text, PICK_LAST_CHARS)
    return name, ", ".join(info.creatures) or "?", _when(info.last_active), last


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- kt resume ----------------------------------------------------------------------------------


@click.command("resume")
@click.argument("query", required=False)
@click.option("--last", is_flag=True, help="Resume the most recent session.")
@click.option(
    "--llm",
    "llm_selector",
    metavar="SELECTOR",
    help="The model (BACKEND/MODEL or scripted:FILE); default: the one the session used.",
)
@click.option(
    "--mode",
    default=None,
    help="How to talk to the creature, as in `kt run`: plain, cli, tui or a plugin's mode. "
    "Default: cli on a terminal, plain otherwise.",
)
@click.option(
    "--pwd",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Working directory (default: the one recorded).",
)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS")
@click.option("--quiet", "-q", is_flag=True, help="Do not print tool activity on stderr.")
@_DIR_OPTION
def resume_command(
    query: str | None,
    last: bool,
    llm_selector: str | None,
    mode: str | None,
    pwd: Path | None,
    timeout: float | None,
    quiet: bool,
    session_dir: Path | None,
) -> None:
    """Resume a recorded session: rebuild the creature, restore its conversation, go on.

    QUERY is a session file, name, or a unique name prefix (the creature's name finds its
    sessions); with no QUERY and no --last, pick from the 10 most recent. Tool calls that
    were running when the session ended are reported to the model as interrupted; nothing is
    re-run. Each line of stdin is then one turn, as in `kt run`.
    """
    import trio

    path = _resolve(query, session_dir, last=last)
    kernel = _kernel()
    # Like `kt run`: without --mode the creature keeps its configured input and output.
    options: dict[str, Any] = {} if mode is None else {"input": None, "output": None}
    if llm_selector:
        options["llm_selector"] = llm_selector
    if pwd is not None:
        options["pwd"] = pwd
    code = trio.run(_continue, path, kernel, options, mode, timeout, not quiet)
    click.get_current_context().exit(code)


async def _continue(
    path: Path,
    kernel: kt.Kernel,
    options: dict[str, Any],
    mode: str | None,
    timeout: float | None,
    show_tools: bool,
) -> int:
    """Rebuild the creature, show where it stopped, then hand it to the ``kt`` run modes."""
    from kt_sessions.resuming import resume

    agent = await resume(path, kernel=kernel, **options)
    _preview(agent, sys.stderr)
    state = click.get_current_context().find_root().obj
    interact = getattr(state, "interact", None)
    if interact is None:  # not under the `kt` command: nothing to talk through
        raise click.UsageError("kt resume must run under the `kt` command")
    return await interact(agent, mode=mode, timeout=timeout, show_tools=show_tools)


PREVIEW_CHARS = 100
"""The longest line of the resume preview (a message's first line, a tool call)."""


def _preview(agent: kt.Agent, err: Any, turns: int = 3) -> None:
    """Show the end of the restored conversation compactly: one line per message or call.

    The last *turns* user turns: each input after ``>``, each reply's first line (with how many
    lines were left out), each tool call with its arguments, each result's first line.
    """
    from kt_sessions.wire import message_text

    def line(text: str) -> str:
        lines = text.strip().splitlines() or [""]
        more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
        return _clip(lines[0].strip(), PREVIEW_CHARS - len(more)) + more

    history = agent.history
    starts = [i for i, m in enumerate(history) if m.role == "user"]
    shown = history[starts[-turns] :] if len(starts) >= turns else history
    err.write(f"kt: resumed {agent.session.name} ({len(starts)} user messages)\n")
    for message in shown:
        text = message_text(message).strip()
        if message.role == "user":
            err.write(f"> {line(text)}\n")
        elif message.role == "assistant":
            mark = " [interrupted]" if message.meta.get("interrupted") else ""
            if text:
                err.write(f"{line(text)}{mark}\n")
            for call in message.tool_calls:
                err.write(f"  [tool {call.name} {_clip(str(call.args), PREVIEW_CHARS - 10)}]\n")
        elif message.role == "tool":
            err.write(f"  [{message.name} -> {line(text)}]\n")
    err.flush()


# -- kt sessions --------------------------------------------------------------------------------


@click.group("sessions")
def sessions_group() -> None:
    """List, show, delete and export recorded sessions."""


@sessions_group.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@_DIR_OPTION
def list_command(limit: int, session_dir: Path | None) -> None:
    """List sessions, newest first: name, status, turns, last activity, first input."""
    from kt_sessions.finder import sessions_dir
    from kt_sessions.listing import list_sessions

    infos = list_sessions(session_dir, limit=limit)
    if not infos:
        click.echo(f"no sessions in {sessions_dir(session_dir)}")
        return
    width = max(len(i.name) for i in infos)
    click.echo(f"{'NAME':<{width}}  {'STATUS':<10} {'TURNS':>5}  {'LAST ACTIVE':<16}  FIRST INPUT")
    for info in infos:
        preview = info.error if info.error else info.preview
        click.echo(
            f"{info.name:<{width}}  {info.status:<10} {info.turns:>5}  "
            f"{_when(info.last_active):<16}  {preview}"
        )


@sessions_group.command("show")
@click.argument("session")
@click.option("--events", "show_events", is_flag=True, help="List every event instead.")
@_DIR_OPTION
def show_command(session: str, show_events: bool, session_dir: Path | None) -> None:
    """Show a session: its facts, then each turn (input, tools, reply)."""
    from kt_sessions.reader import SessionReader

    with SessionReader(_resolve(session, session_dir)) as reader:
        if show_events:
            for logged in reader.events():
                click.echo(f"{logged.id:>6} {logged.creature} #{logged.turn_index} {logged.type}")
            return
        info = reader.info()
        usage = reader.usage()
        click.echo(f"session:   {info.name}")
        click.echo(f"file:      {info.path}")
        click.echo(f"status:    {info.status}")
        click.echo(f"creatures: {', '.join(info.creatures)}")
        click.echo(f"created:   {_when(info.created_at)}   last active: {_when(info.last_active)}")
        click.echo(f"usage:     {usage.prompt_tokens} prompt, {usage.completion_tokens} completion")
        priced = list(reader.events("cost_updated"))  # one per model call that was priced
        if priced:
            click.echo(f"cost:      {_dollars(priced)}")
        if info.parent:
            click.echo(f"forked from {info.parent['path']} at event {info.parent['event_id']}")
        for turn in reader.turns():
            calls = [
                e
                for e in priced
                if e.creature == turn.creature and turn.first_event_id <= e.id <= turn.last_event_id
            ]
            cost = f" {_dollars(calls)}" if calls else ""
            click.echo(f"\n#{turn.index} {turn.creature} [{turn.status}]{cost}")
            click.echo(f"  > {turn.input}")
            for call in turn.tool_calls:
                click.echo(
                    f"  [tool {call.name} {call.status}] {(call.error or call.output)[:120]}"
                )
            if turn.text:
                click.echo(f"  < {turn.text}")


def _dollars(calls: list[Any]) -> str:
    """The cost of the model calls whose ``cost_updated`` events are *calls*, in US dollars.

    Summed call by call, so a session resumed in several runs adds up; ``+`` marks a total
    that leaves out calls whose prices were not known.
    """
    known = [e.wire.get("call_cost") for e in calls]
    total = sum(cost for cost in known if cost is not None)
    return f"${total:.4f}" + ("+" if None in known else "")


@sessions_group.command("delete")
@click.argument("sessions", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Delete even a session a live process writes.")
@_DIR_OPTION
def delete_command(
    sessions: tuple[str, ...], yes: bool, force: bool, session_dir: Path | None
) -> None:
    """Delete sessions (the file and its -wal / -shm sidecars)."""
    from kt_sessions.errors import SessionBusyError
    from kt_sessions.reader import SessionReader

    for query in sessions:
        path = _resolve(query, session_dir)
        with SessionReader(path) as reader:
            status = reader.status
        if status == "running" and not force:
            raise SessionBusyError(
                f"session {path.name} is being written by a live process; stop it first, or "
                "pass --force"
            )
        if not yes and not click.confirm(f"Delete {path.name}?", default=False, err=True):
            continue
        for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            file.unlink(missing_ok=True)
        click.echo(f"deleted {path.name}")


@sessions_group.command("export")
@click.argument("session")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "markdown"]),
    default="jsonl",
    show_default=True,
    help="jsonl: every event, one per line; markdown: a readable transcript.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
@_DIR_OPTION
def export_command(session: str, fmt: str, output: Path | None, session_dir: Path | None) -> None:
    """Export a session to JSON Lines or Markdown (stdout, or --output FILE)."""
    from kt_sessions.export import to_jsonl, to_markdown
    from kt_sessions.reader import SessionReader

    with SessionReader(_resolve(session, session_dir)) as reader:
        text = (
            "".join(f"{line}\n" for line in to_jsonl(reader))
            if fmt == "jsonl"
            else (to_markdown(reader))
        )
    if output is None:
        click.echo(text, nl=False)
    else:
        from kt_sessions.db import private_file

        private_file(output).write_text(text, encoding="utf-8")  # an export is as private
        click.echo(f"wrote {output}", err=True)


# -- kt search / kt embedding -------------------------------------------------------------------


@click.command("search")
@click.argument("session")
@click.argument("query")
@click.option(
    "--mode",
    type=click.Choice(["auto", "fts", "semantic", "hybrid"]),
    default="auto",
    show_default=True,
    help="fts: words; semantic: vectors (needs `kt embedding`); hybrid: both; auto: hybrid "
    "when the session has vectors, else fts.",
)
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--creature", help="Only this creature's history.")
@_DIR_OPTION
def search_command(
    session: str, query: str, mode: str, k: int, creature: str | None, session_dir: Path | None
) -> None:
    """Search a session's history (messages, tool results, summaries)."""
    from kt_sessions import db as _db
    from kt_sessions.memory import LEXICAL_PROVIDERS, MemoryIndex, format_hits

    path = _resolve(session, session_dir)
    db = _db.open_database(path)
    try:
        index = MemoryIndex(db, kernel=_kernel())
        if mode in ("semantic", "hybrid") and index.settings() is None:
            if mode == "semantic":
                raise click.ClickException(
                    "No vector index found for this session; build one with "
                    f"`kt embedding {path.name.removesuffix('.ktsession')}`, or use --mode fts"
                )
            click.echo("kt: no vector index yet; searching full text only", err=True)
            mode = "fts"
        settings = index.settings()
        if settings is not None and mode != "fts":
            index.index()  # blocks written since the last indexing, with the index's embedder
            if settings["provider"] in LEXICAL_PROVIDERS:
                click.echo(
                    f"kt: this session's vectors are {settings['provider']} (lexical: they match "
                    "words and word pieces, not meaning); for meaning: kt embedding "
                    f"{path.name.removesuffix('.ktsession')} --provider model2vec --rebuild",
                    err=True,
                )
        hits = index.search(query, mode=mode, k=k, creature=creature)
    finally:
        db.close()
    click.echo(format_hits(query, hits, width=200))


@click.command("embedding")
@click.argument("session")
@click.option(
    "--provider",
    help="Embedding provider: hashed (the default: offline, lexical, matches words and word "
    "pieces, not meaning), model2vec (semantic, numpy only), openai (an embeddings endpoint), "
    "sentence-transformers, or a plugin's.",
)
@click.option("--model", help="The provider's model.")
@click.option("--dimensions", type=click.IntRange(min=8), help="Vector size.")
@click.option("--rebuild", is_flag=True, help="Drop existing vectors first (to change model).")
@_DIR_OPTION
def embedding_command(
    session: str,
    provider: str | None,
    model: str | None,
    dimensions: int | None,
    rebuild: bool,
    session_dir: Path | None,
) -> None:
    """Build (or bring up to date) a session's vector index for semantic search."""
    from peewee import fn

    from kt_sessions import db as _db
    from kt_sessions.db import Block
    from kt_sessions.memory import (
        MemoryIndex,
        configured_embedder,
        describe_embedding,
        make_embedder,
        recorded_memory,
        resolve_provider,
    )

    if provider is not None and (note := resolve_provider(provider)[1]) is not None:
        click.echo(f"kt: {note}", err=True)
    path = _resolve(session, session_dir)
    db = _db.open_database(path)
    try:
        index = MemoryIndex(db, kernel=_kernel())
        embedder = None
        if provider or model or dimensions:
            with warnings.catch_warnings():  # the note is on stderr already
                warnings.simplefilter("ignore", DeprecationWarning)
                embedder = make_embedder(provider, model, dimensions, kernel=index.kernel)
        elif index.settings() is None and (memory := recorded_memory(db)) is not None:
            embedder, note = configured_embedder(memory, kernel=index.kernel)  # the creature's
            if note is not None:
                click.echo(f"kt: {note}", err=True)
        added = index.index(embedder, rebuild=rebuild)
        settings = index.settings() or {}
        counts = index.counts()
        per_creature = list(
            Block.select(Block.creature, fn.COUNT(Block.id))
            .group_by(Block.creature)
            .order_by(fn.MIN(Block.id))
            .tuples()
            .execute(db)
        )
    finally:
        db.close()
    click.echo(f"Session: {path.name.removesuffix('.ktsession')}")
    click.echo(f"Embedding: {describe_embedding(settings)}")
    for name, blocks in per_creature:
        click.echo(f"  {name}: {blocks} blocks")
    click.echo(
        f"Done. {added} new blocks embedded. FTS: {counts['fts']} blocks, "
        f"Vector: {counts['vectors']} blocks ({settings.get('dimensions')}d)"
    )
