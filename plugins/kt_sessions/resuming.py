"""Resuming a recorded creature: rebuild it, restore its conversation, keep recording.

What is restored, and from where:

* **The creature** is rebuilt with ``kt.Agent.build`` from what the session recorded: the
  folder or file it was built from when that still exists (so edits to its prompt apply),
  else the config dict it was given, else the resolved config stored in the log. The model is
  the recorded ``--llm`` selector unless ``llm=`` / ``llm_selector=`` is given. The working
  directory is the recorded one (``pwd=`` overrides).
* **The conversation** is replayed from the log (the snapshot is only a shortcut). A turn the
  previous run did not finish is closed: its partial reply is kept and marked interrupted;
  every call that completed gets its recorded result (from its ``tool_call_completed`` event,
  even when the round's results never reached the history); every call that started and never
  completed gets an "In doubt" result (it may have partly run). Nothing is re-run.
* **Usage and the turn counter** continue: ``agent.usage`` starts at the recorded total
  (including model calls of an unfinished turn) and turn indexes go on from the last one.
* **Plugin state** (a scratchpad, triggers added at run time, ...): plugins rebuild their own
  from the log through the ``kt_session_restore(creature, reader)`` hook this plugin declares,
  called when the resumed creature starts (``kt_triggers`` restarts the triggers its tools
  added). Config triggers restart from the config.

The resumed creature records into the same file; its first events say so (``session_attached``
with ``resumed_from`` and the interrupted calls).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import kt
from kt.errors import LLMNotConfiguredError
from kt_sessions.errors import SessionBusyError, SessionError
from kt_sessions.finder import find_session
from kt_sessions.store import owner_alive

__all__ = ["build_source", "resume"]


def build_source(record: dict[str, Any]) -> Any:
    """What to pass ``Agent.build`` to rebuild a recorded creature (see the module docs)."""
    source = record.get("source")
    if isinstance(source, str) and (source.startswith("@") or Path(source).exists()):
        return source
    if isinstance(source, dict):
        return source
    config = record.get("config") or {}
    if not config:
        raise SessionError(
            "the session does not record how the creature was built; pass the config "
            "yourself: kt.Agent.build(config, session=PATH) after agent.restore(...)"
        )
    import cattrs

    converter = cattrs.Converter()
    converter.register_structure_hook(Path, lambda value, _: Path(value))
    return converter.structure(config, kt.CreatureConfig)


async def resume(
    session: str | os.PathLike[str],
    *,
    kernel: kt.Kernel | None = None,
    session_dir: str | os.PathLike[str] | None = None,
    creature: str | None = None,
    **build_options: Any,
) -> kt.Agent:
    """Rebuild a recorded creature and restore its conversation; it is not started yet.

    ``kt.Agent.resume(path)`` calls this when ``kt_sessions`` is the loaded session store.

    Args:
        session: The session file, or a session name / prefix in *session_dir*.
        kernel: The plugin set to build with (default: ``kt.Kernel()``).
        session_dir: Where names are looked up (default ``~/.kt/sessions``).
        creature: Which creature, when the session recorded several.
        **build_options: ``Agent.build`` options overriding what was recorded (``llm``,
            ``llm_selector``, ``pwd``, ``tools``, ``plugins``, ``env``, ``output``).

    Returns:
        The agent; ``async with agent`` starts it, recording into the same session.

    Raises:
        SessionNotFoundError: no session matches.
        SessionBusyError: a live process is still writing the session.
        SessionError: the session recorded several creatures and *creature* is not given,
            or it does not say how the creature was built.
        LLMNotConfiguredError: the recorded model cannot be rebuilt (it was an ``llm=``
            object); pass ``llm=`` or ``llm_selector=``.
    """
    from kt_sessions.reader import SessionReader

    kernel = kernel if kernel is not None else kt.Kernel()
    path = Path(session).expanduser()
    if not path.is_file():
        path = find_session(os.fspath(session), session_dir=session_dir)
    with SessionReader(path, kernel=kernel) as reader:
        path = reader.path  # an upgraded copy when the file was older
        meta = reader.meta
        names = meta.get("creatures") or reader.creatures
        if creature is None:
            if len(names) > 1:
                raise SessionError(
                    f"session {reader.name} recorded several creatures ({', '.join(names)}); "
                    "pass creature=NAME (a terrarium is resumed as a whole by its engine)"
                )
            if not names:
                raise SessionError(f"session {reader.name} has no recorded creature to resume")
            creature = names[0]
        owner = (meta.get("recording") or {}).get(creature)
        if meta.get("status") == "running" and owner_alive(owner):
            raise SessionBusyError(
                f"creature '{creature}' of session {reader.name} is still being recorded by "
                f"process {owner.get('pid')}; stop that run first (or fork the session: "
                "kt_sessions.fork)"
            )
        record = reader.creature_record(creature)
        state = reader.state(creature)
    closed = state.closed()
    options = dict(build_options)
    if "pwd" not in options and record.get("pwd") and Path(record["pwd"]).is_dir():
        options["pwd"] = record["pwd"]
    model = record.get("model") or ""
    source = build_source(record)
    try:
        # The recorded config selects its model the way it did the first time (a relative
        # `scripted:` file resolves against the creature folder); the recorded selector is
        # only a fallback for a creature whose model came from a flag.
        agent = await kt.Agent.build(source, kernel=kernel, session=path, **options)
    except LLMNotConfiguredError as exc:
        chosen = "llm" in options or "llm_selector" in options
        if not chosen and _is_selector(model, kernel):
            options["llm_selector"] = model
            agent = await kt.Agent.build(source, kernel=kernel, session=path, **options)
        else:
            raise LLMNotConfiguredError(
                f"{exc} The session ran with '{model}', which cannot be rebuilt by name; pass "
                "llm= (Python) or --llm (kt resume)."
            ) from exc
    recorder = agent.session
    recorder.resumed = closed
    recorder.preloaded = state
    agent.restore(
        closed.messages, usage=state.usage + state.open_turn_usage, turn_index=state.turn_index
    )
    return agent


def _is_selector(model: str, kernel: kt.Kernel) -> bool:
    """Whether *model* names a backend (``openai/gpt-4o``, ``scripted:file``), not a class."""
    for separator in (":", "/"):
        if separator in model:
            return model.partition(separator)[0] in kernel.llm_backends
    return False
