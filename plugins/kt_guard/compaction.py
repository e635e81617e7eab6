"""The compaction policy: *when* to fold old history into a summary (the kernel does the *how*).

After every model call the guard compares the prompt size the provider reported
(``usage.prompt_tokens``) with the creature's ``[compact]`` settings. When it reaches
``max_tokens × threshold``, no compaction is running and the cooldown has passed, it starts
``agent.compact(keep_recent_turns=...)`` as a background job and returns at once: the turn goes
on while the summary is written. The kernel's mechanism keeps the system prompt (it is not part
of the history), keeps the newest ``keep_recent_turns`` turns verbatim, cuts only at a user
message (never between a tool call and its result), keeps every message appended while the
summary was being written, and leaves history untouched if summarising fails (publishing
``CompactionSkipped``).

* ``compact.enabled = false`` switches the policy off (manual ``agent.compact()`` still works).
* ``compact.max_tokens`` unset: the model's context window, when the backend object reports one
  as an integer ``context_window`` attribute; otherwise the policy does nothing.
* A provider that reports no usage (``prompt_tokens == 0``): the prompt size is estimated as
  the characters of the system prompt and history divided by 4.
* ``compact.compact_model`` (``backend/model``): the summary is written by that model, built
  through the kernel's backend registry, instead of the creature's own.
* ``keep_recent_turns = 0`` is treated as 1: the turn in progress is always kept.

The feature has no guard options: it follows the ``[compact]`` table of every creature its
guard serves. Its hooks are :class:`kt_guard.hooks.CompactionHooks`, which load this module
at the first model call's end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

import kt
from kt_guard.feature import now
from kt_guard.options import GuardConfigError

__all__ = [
    "CompactionState",
    "consider",
    "context_limit",
    "summarise_with_compact_model",
]

SUMMARY_REQUEST = (
    "You are compacting a long conversation so that it fits in the context window. Write a "
    "summary that the assistant will read instead of the messages below. Keep, in this order: "
    "the user's current goal; decisions taken and their reasons; progress, marking each item "
    "DONE, IN PROGRESS or PENDING; files, commands, names and numbers that matter; facts "
    "learned; and any sentence that must survive word for word, quoted. If the messages start "
    "with an earlier summary, merge it in. Write only the summary."
)
_TOOL_PREVIEW = 500


@attrs.define
class CompactionState:
    """Per creature: whether a compaction runs, when the last one ended, the summary model."""

    running: bool = False
    last_ended: float | None = None
    summary_llm: Any = None


_STATE = kt.StashKey[CompactionState]()


def state_of(agent: kt.Agent) -> CompactionState:
    """The creature's compaction state (created on first use)."""
    return agent.stash.setdefault(_STATE, CompactionState())


def context_limit(agent: kt.Agent) -> int | None:
    """``compact.max_tokens``, else the model's ``context_window``, else ``None``."""
    configured = agent.config.compact.max_tokens
    if configured:
        return configured
    window = getattr(agent.llm, "context_window", None)
    return window if isinstance(window, int) and window > 0 else None


def _text(message: kt.Message) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(p.text if p.type == "text" else "[image]" for p in message.content)


def estimate_prompt_tokens(agent: kt.Agent) -> int:
    """The prompt size when the provider reports none: characters / 4."""
    chars = len(agent.system_prompt) + sum(len(_text(m)) for m in agent.history)
    return chars // 4


def consider(agent: kt.Agent, usage: kt.Usage) -> bool:
    """Start a background compaction if the last model call's prompt passed the threshold.

    Returns at once; the compaction runs as a ``task`` job named ``compaction``.

    Args:
        agent: The creature.
        usage: The usage the model call reported.

    Returns:
        Whether a compaction was started.
    """
    config = agent.config.compact
    limit = context_limit(agent)
    if not config.enabled or limit is None or not agent.is_running:
        return False
    prompt_tokens = usage.prompt_tokens or estimate_prompt_tokens(agent)
    if prompt_tokens < limit * config.threshold:
        return False
    state = state_of(agent)
    if state.running:
        return False  # single flight: this one is not queued
    started = now()
    if state.last_ended is not None and started - state.last_ended < config.cooldown_seconds:
        return False
    state.running = True
    keep = max(1, config.keep_recent_turns)
    agent.start_job(_compact, agent, state, keep, name="compaction", kind="task")
    return True


async def _compact(agent: kt.Agent, state: CompactionState, keep: int) -> None:
    try:
        await agent.compact(keep_recent_turns=keep)
    finally:
        state.running = False
        state.last_ended = now()


def _render(messages: Sequence[kt.Message]) -> str:
    blocks = []
    for m in messages:
        text = _text(m)
        if m.role == "tool" and len(text) > _TOOL_PREVIEW:
            text = text[:_TOOL_PREVIEW] + " ..."
        calls = "".join(f"\n(called {c.name} with {c.args})" for c in m.tool_calls)
        blocks.append(f"[{m.role}]: {text}{calls}")
    return "\n\n".join(blocks)


def _summary_llm(agent: kt.Agent, state: CompactionState, selector: str) -> Any:
    if state.summary_llm is None:
        kernel = agent.kernel
        profile = None
        resolve = getattr(kernel.pm.hook, "kt_resolve_llm", None)  # presets and aliases
        if resolve is not None:
            profile = resolve(selector=selector, creature=agent.config, kernel=kernel)
        if profile is None:
            backend, _, model = selector.partition("/")
            profile = kt.LLMProfile(name=selector, backend=backend, model=model)
        spec = kernel.llm_backends.get(profile.backend)
        if spec is None:
            installed = ", ".join(sorted(kernel.llm_backends)) or "none"
            raise GuardConfigError(
                f"no LLM backend '{profile.backend}' for the summary model '{selector}'; write "
                f"BACKEND/MODEL with an installed backend ({installed}), or remove the key to "
                "use the creature's own model",
                path="compact.compact_model",
            )
        state.summary_llm = spec.factory(profile)
    return state.summary_llm


async def summarise_with_compact_model(
    agent: kt.Agent, messages: Sequence[kt.Message]
) -> str | None:
    """Write the summary with ``compact.compact_model``; ``None`` when that key is unset.

    Raises:
        GuardConfigError: the key names a backend that is not installed.
        kt.errors.LLMError: the summary model failed (the compaction is then skipped).
    """
    selector = agent.config.compact.compact_model
    if not selector:
        return None
    llm = _summary_llm(agent, state_of(agent), selector)
    limit = context_limit(agent) or 256_000
    request = kt.LLMRequest(
        messages=(kt.Message("system", SUMMARY_REQUEST), kt.Message("user", _render(messages))),
        options={"max_tokens": min(4096, max(512, limit // 64))},
        model=selector.partition("/")[2] or None,
    )
    parts = []
    async for chunk in llm.stream(request):
        if isinstance(chunk, kt.TextChunk):
            parts.append(chunk.text)
    return "".join(parts).strip()
