"""The ``search_memory`` tool: a creature searches its own session's history."""

from __future__ import annotations

from typing import Literal

import kt

__all__ = ["search_memory"]


@kt.tool(name="search_memory", concurrency_safe=True, timeout=60)
async def search_memory(
    query: str,
    ctx: kt.ToolContext,
    mode: Literal["auto", "fts", "semantic", "hybrid"] = "auto",
    k: int = 5,
    creature: str | None = None,
) -> kt.ToolResult:
    """Search your own earlier conversation (this session): messages, tool results, summaries.

    Use it to recall something said or found earlier that is no longer in view (after
    compaction, or long ago). Results name the round (turn) and age of each match.

    Args:
        query: Words to look for.
        ctx: The call's context (injected by the kernel; not a model argument).
        mode: fts (exact words), semantic (similar wording), hybrid (both), or auto.
        k: How many results at most.
        creature: Search another creature of the same session instead of yourself.
    """
    from kt.errors import KTError
    from kt.events import AgentWarning
    from kt_sessions.memory import MemoryIndex, format_hits, search_as_creature
    from kt_sessions.recorder import recorder_of

    recorder = recorder_of(ctx.agent)
    store = recorder.store if recorder is not None else None
    if store is None or store.closed:
        return kt.ToolResult(
            error="Session memory is not available: this creature runs without a session "
            "(start it with session=True, or kt run without --no-session)"
        )
    if k < 1:
        return kt.ToolResult(error="k must be at least 1")
    agent = ctx.agent
    store.flush()  # this turn's blocks join the full-text index now, not when the turn ends
    index = recorder.memory if recorder.memory is not None else MemoryIndex(store.db)
    recorder.memory = index
    index.kernel = agent.kernel
    try:
        hits, notes = await search_as_creature(
            index,
            query,
            mode=mode,
            k=k,
            creature=creature or agent.name,
            memory=agent.config.memory,
        )
    except KTError as exc:
        return kt.ToolResult(error=str(exc))
    for note in notes:  # for the user: a setting to change, semantic search off
        await agent.emit(AgentWarning(message=note, source="search_memory"))
    return kt.ToolResult(output=format_hits(query, hits, width=500))
