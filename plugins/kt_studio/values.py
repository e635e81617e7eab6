"""The values Studio hands out: frozen attrs classes, so one cattrs converter gives their shape.

Nothing here holds a live object: a value is a snapshot, safe to pass between threads and to
turn into JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "BackendView",
    "ChatReply",
    "CreatureView",
    "EndpointView",
    "ErrorView",
    "HistoryView",
    "JobView",
    "KeyView",
    "LiveSession",
    "McpServerView",
    "PackView",
    "Page",
    "PluginView",
    "SavedSession",
    "SpecView",
    "TriggerView",
    "UsageView",
    "WorkingDirView",
]


@attrs.frozen(kw_only=True)
class ErrorView:
    """An error as data: its class name and message."""

    type: str
    message: str


@attrs.frozen(kw_only=True)
class UsageView:
    """Token usage of a turn."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@attrs.frozen(kw_only=True)
class CreatureView:
    """One creature of a live session (a snapshot of ``Terrarium.status(creature)``)."""

    id: str
    graph_id: str
    state: str
    running: bool
    busy: bool
    model: str | None
    pwd: str | None
    turn_index: int
    privileged: bool = False
    is_root: bool = False
    listen: tuple[str, ...] = ()
    send: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    context_window: int | None = None  # the model's, in tokens, when its backend knows it


@attrs.frozen(kw_only=True)
class LiveSession:
    """A creature or terrarium started through Studio, with its creatures now.

    Attributes:
        session_id: Studio's id for it (``sess_<hex>``); stable across graph merges.
        kind: ``creature`` or ``terrarium``.
        name: The display name.
        config_path: What it was started from.
        root: The id ``root`` stands for (the terrarium's root, or the creature).
        created_at: When it was started (seconds since the epoch).
        creatures: Its creatures.
        graph_ids: The graphs its creatures are in.
        channels: Names of the channels of those graphs.
        store_paths: Session files its graphs are recorded in.
    """

    session_id: str
    kind: str
    name: str
    config_path: str
    root: str
    created_at: float
    creatures: tuple[CreatureView, ...] = ()
    graph_ids: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    store_paths: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class ChatReply:
    """The result of one chat turn.

    Attributes:
        response: The final assistant text.
        status: How the turn ended (``completed``, ``interrupted``, ``error`` ...).
        usage: Tokens the turn used.
        turn_index: The creature's turn number.
        tool_calls: Names of the tools it called, in order.
        error: The turn's error, for ``error`` and ``timeout``.
    """

    response: str
    status: str
    usage: UsageView
    turn_index: int
    tool_calls: tuple[str, ...] = ()
    error: ErrorView | None = None


@attrs.frozen(kw_only=True)
class HistoryView:
    """A creature's conversation and its session branches.

    Attributes:
        creature: The creature's id.
        messages: The live history (``kt.Message`` values as data).
        branches: Every branch of its session (``kt_sessions.Branch`` values), if recorded.
    """

    creature: str
    messages: tuple[Mapping[str, Any], ...]
    branches: tuple[Mapping[str, Any], ...] = ()


@attrs.frozen(kw_only=True)
class JobView:
    """One background job of a creature."""

    id: str
    kind: str
    name: str
    status: str
    started_at: float
    ended_at: float | None = None
    error: str | None = None


@attrs.frozen(kw_only=True)
class TriggerView:
    """One trigger of a creature: a job of kind ``trigger``.

    Attributes:
        trigger_id: Its id (its job id; remove it by this id).
        trigger_type: ``timer``, ``schedule``, ``channel`` ... (the job's name).
        running: Whether it still runs (``False``: it finished, failed or was removed).
        created_at: When it started (seconds since the epoch).
        status: The job's status: ``running``, ``done``, ``cancelled``, ``error``.
        error: Why it failed, if it did.
    """

    trigger_id: str
    trigger_type: str
    running: bool
    created_at: float
    status: str
    error: str | None = None


@attrs.frozen(kw_only=True)
class WorkingDirView:
    """A creature's working directory and the folder it may move within.

    Attributes:
        pwd: The working directory now.
        root: The folder the creature started in; the working directory stays inside it.
    """

    pwd: str
    root: str


@attrs.frozen(kw_only=True)
class Page:
    """One page of a listing: ``items[offset:offset+limit]`` of ``total``."""

    total: int
    offset: int
    limit: int
    items: tuple[Any, ...]


@attrs.frozen(kw_only=True)
class SavedSession:
    """A saved session file, as listings show it (``kt_sessions.SessionInfo``)."""

    name: str
    path: str
    status: str
    creatures: tuple[str, ...] = ()
    created_at: float = 0.0
    last_active: float = 0.0
    turns: int = 0
    preview: str = ""
    size: int = 0
    parent: Mapping[str, Any] | None = None
    error: str | None = None
    live: bool = False


@attrs.frozen(kw_only=True)
class KeyView:
    """An API key as it may be shown: masked, with where it comes from."""

    provider: str
    masked: str
    source: str
    env_var: str | None = None


@attrs.frozen(kw_only=True)
class BackendView:
    """An installed LLM backend and its presets."""

    name: str
    plugin: str
    description: str = ""
    key_env_var: str | None = None
    presets: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class EndpointView:
    """A custom model endpoint of ``~/.kt/llm.toml``."""

    name: str
    base_url: str
    backend: str = "openai"
    model: str = ""
    api_key_env: str | None = None


@attrs.frozen(kw_only=True)
class McpServerView:
    """A server of the MCP registry (``~/.kt/mcp.toml``); secrets in ``env`` are masked."""

    name: str
    settings: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class McpTestView:
    """What connecting to a registry server now found: its tools, or why it failed."""

    name: str
    ok: bool
    tools: tuple[str, ...] = ()
    error: str = ""


@attrs.frozen(kw_only=True)
class SpecView:
    """A tool, sub-agent or trigger a plugin offers."""

    name: str
    plugin: str
    description: str = ""
    parameters: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class PluginView:
    """A plugin of the kernel: loaded with its hooks, or failed with the reason."""

    name: str
    version: str
    hooks: tuple[str, ...] = ()
    failure: str | None = None


@attrs.frozen(kw_only=True)
class PackView:
    """An installed pack and what it holds."""

    name: str
    root: str
    kind: str
    source: str = ""
    broken: bool = False
    version: str = ""
    description: str = ""
    creatures: tuple[str, ...] = ()
    terrariums: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    plugins: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()  # ``@pack/path`` of each creature, then each terrarium
