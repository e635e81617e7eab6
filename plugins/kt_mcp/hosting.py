"""Serving many creatures over MCP: a terrarium recipe, and the live creatures of a host.

* ``kt mcp serve RECIPE`` runs the recipe in a :class:`kt_terrarium.Terrarium` and serves its
  root as one creature (``ask_<root>``, with ``--expose-tools`` the root's own tools), or, with
  ``--members``, every creature of the terrarium as its own ``ask_<id>`` tool
  (:func:`recipe_server`).
* A ``kt serve`` host offers every running creature of its Studio at ``POST /api/mcp``
  (:func:`add_web_routes`, called through ``kt_web``'s ``kt_web_routes`` hook). The endpoint
  is stateless streamable HTTP answering in JSON: each request is handled on its own, on the
  engine's loop, so nothing outlives a request and no thread waits on a stream. It sits under
  ``/api/``, so the host's token guards it like every other route.

Both read the creatures again on every request (:func:`engine_creatures`): a creature a root
adds, a session started on the host, shows up the next time a client lists the tools.

The terrarium engine is reached through the kernel, never imported: ``kt_mcp`` does not require
``kt_terrarium`` (its client side has no use for it), and a plugin set without it serves
creatures as before and says what a recipe needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import trio

import kt
from kt_mcp.errors import MCPConfigError
from kt_mcp.serve import ServedCreature, build_group_server, is_loopback

__all__ = [
    "ENDPOINT",
    "RECIPE_FILE_NAMES",
    "add_web_routes",
    "answer_http",
    "engine_creatures",
    "is_recipe",
    "recipe_server",
    "terrarium_plugin",
]

ENDPOINT = "/api/mcp"
"""Where a ``kt serve`` host answers MCP clients."""


def engine_creatures(
    engine: Any, ids: Iterable[str] | None = None
) -> Callable[[], list[ServedCreature]]:
    """The running creatures of a terrarium *engine* (all, or *ids*), read anew on each call.

    A creature hosted through a transport (on another machine) is served by its tool alone:
    its agent, and so its conversation and prompts, live where it runs.
    """
    wanted = None if ids is None else set(ids)

    def current() -> list[ServedCreature]:
        served = []
        for creature_id, handle in engine.creatures.items():
            if (wanted is not None and creature_id not in wanted) or not handle.is_running:
                continue
            try:
                agent = handle.agent
            except kt.KTError:  # hosted elsewhere (kt_terrarium's TransportError)
                agent = None
            served.append(ServedCreature(creature_id, handle, agent))
        return served

    return current


RECIPE_FILE_NAMES = ("terrarium.toml", "terrarium.yaml", "terrarium.yml")
"""The files kt_terrarium reads as a recipe (a folder holding one is a recipe)."""


def is_recipe(target: str, kernel: kt.Kernel) -> bool:
    """Whether *target* (a path or ``@pack/path``) is a terrarium recipe, not a creature."""
    from pathlib import Path

    path = kernel.resolve_ref(target) if target.startswith("@") else Path(target).expanduser()
    if path is None:
        return False
    if path.is_file():
        return path.name in RECIPE_FILE_NAMES
    return path.is_dir() and any((path / name).is_file() for name in RECIPE_FILE_NAMES)


def terrarium_plugin(kernel: kt.Kernel) -> Any:
    """The ``kt_terrarium`` plugin module, found through *kernel* (never imported).

    Raises:
        MCPConfigError: it is not in the kernel's plugin set.
    """
    plugin = kernel.pm.get_plugin("kt_terrarium")
    if plugin is None:
        raise MCPConfigError(
            "serving a terrarium recipe needs the kt_terrarium plugin, which is not in the "
            "plugin set (kt plugins lists it; add it with --plugins ...,kt_terrarium)"
        )
    return plugin


@asynccontextmanager
async def recipe_server(
    recipe: Any,
    *,
    kernel: kt.Kernel,
    members: bool = False,
    expose_tools: bool = False,
    stateless: bool = False,
    turn_timeout: float | None | Any = kt.USE_CONFIG,
    llm: Any = None,
    llm_selector: str | None = None,
    pwd: Any = None,
) -> AsyncIterator[tuple[Any, str]]:
    """Run *recipe* in a terrarium and yield an MCP server for it, and what it serves.

    The terrarium runs as ``kt terrarium run`` runs it (channels, wires, the root's group
    tools) until the block ends; then its creatures stop.

    Args:
        recipe: A recipe folder or file, ``@pack/path``, or the recipe as a mapping.
        kernel: The plugin set the creatures are built with.
        members: Serve every creature as its own ``ask_<id>`` tool; else the root alone.
        expose_tools: Also offer the root's own tools (the root alone only).
        stateless: Clear a creature's history before each of its asks.
        turn_timeout: Limit for each turn (default: each creature's ``turn_timeout``).
        llm: Models as ``Terrarium.apply_recipe`` takes them: one LLM for all, a mapping
            ``creature id -> LLM``, or ``(creature_id, config) -> LLM | None``.
        llm_selector: The model of every creature (``BACKEND/MODEL``, ``scripted:FILE``).
        pwd: The creatures' working directory (default: the current directory).

    Yields:
        ``(server, description)``, the description for the serving message
        (``terrarium 'team' (root 'lead')``).

    Raises:
        MCPConfigError: the root alone is asked of a recipe without one, ``expose_tools``
            with ``members``, or the kernel has no ``kt_terrarium``.
        ConfigError: the recipe or one of its creatures is invalid.
    """
    if members and expose_tools:
        raise MCPConfigError(
            "--expose-tools offers the root's own tools and --members serves every creature "
            "by its ask tool; give one of them"
        )
    terrarium = terrarium_plugin(kernel)
    loaded = terrarium.load_recipe(recipe, env=kernel.env, resolve_ref=kernel.resolve_ref)
    if not members and loaded.root is None:
        raise MCPConfigError(
            f"terrarium '{loaded.name}' has no root creature to serve; serve each of its "
            "creatures with --members, or give the recipe a root"
        )
    async with terrarium.Terrarium(kernel=kernel, pwd=pwd, env=kernel.env) as engine:
        applied = await engine.apply_recipe(loaded, llm=llm, llm_selector=llm_selector, pwd=pwd)
        if members:
            server = build_group_server(
                engine_creatures(engine),
                name=f"kt-{applied.name}",
                instructions=(
                    f"The KT terrarium '{applied.name}': a team of creatures joined by "
                    "channels. Ask any of them; each keeps its own conversation."
                ),
                stateless=stateless,
                turn_timeout=turn_timeout,
            )
            about = f"terrarium '{applied.name}' ({len(applied.creature_ids)} creatures)"
        else:
            root = engine[loaded.root]
            agent = root.agent
            server = build_group_server(
                engine_creatures(engine, [root.id]),
                name=f"kt-{applied.name}",
                instructions=agent.config.description
                or f"The root of the KT terrarium '{applied.name}', which leads its team.",
                expose_tools_of=agent if expose_tools else None,
                stateless=stateless,
                turn_timeout=turn_timeout,
                group=False,
            )
            about = f"terrarium '{applied.name}' (root '{root.id}')"
        yield server, about


# -- A kt serve host ------------------------------------------------------------------------


def add_web_routes(app: Any, host: Any) -> None:
    """Add ``/api/mcp`` to a ``kt serve`` host's Flask *app* (the ``kt_web_routes`` hook).

    Nothing is added when the ``mcp`` extra is not installed.
    """
    import importlib.util

    if importlib.util.find_spec("mcp") is None:
        return
    import flask

    def mcp_endpoint() -> Any:
        """MCP over streamable HTTP: every running creature of this host as an ``ask_<id>`` tool.

        Stateless, with JSON answers: ``POST`` one JSON-RPC message (``initialize``,
        ``tools/list``, ``tools/call``, ``resources/read``, ``prompts/get`` ...) with
        ``Accept: application/json, text/event-stream``. A call of ``ask_<id>`` runs one turn
        of that creature, queued behind its running turn, in its one conversation (the one
        the web pages show). Each creature offers ``kt://<id>/system-prompt`` and
        ``kt://<id>/conversation`` and its prompt files as ``<id>__<prompt>``.

        Returns:
            The JSON-RPC answer; ``405`` for ``GET``/``DELETE`` (no server stream, no
            sessions); ``403`` for a browser page of a non-loopback origin, or when the server
            has user accounts; ``503`` while Studio starts.
        """
        request = flask.request
        if request.method != "POST":
            refused = _refusal(
                405, "MethodNotAllowed", "this MCP endpoint is stateless: POST each message"
            )
            refused.headers["Allow"] = "POST"
            return refused
        if app.extensions.get("kt_accounts") is not None:  # kt_web's multi-user accounts
            return _refusal(
                403,
                "Forbidden",
                "/api/mcp serves every running creature, and this server has user accounts "
                "whose creatures are private; it is off with multi_user",
            )
        origin = request.headers.get("Origin")
        if origin and not is_loopback(urlsplit(origin).hostname or ""):
            return _refusal(
                403,
                "Forbidden",
                f"requests from web pages of {origin} are refused: only pages served from "
                "this machine (a loopback origin) may use /api/mcp",
            )
        if not host.ready:
            return _refusal(503, "Unavailable", "the server is starting; try again")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": request.scheme,
            "path": ENDPOINT,
            "raw_path": ENDPOINT.encode(),
            "root_path": "",
            "query_string": request.query_string,
            "headers": [
                (key.lower().encode("latin-1"), value.encode("latin-1"))
                for key, value in request.headers.items()
            ],
            "client": (request.remote_addr or "", 0),
            "server": (request.host.rpartition(":")[0] or request.host, 0),
        }
        status, headers, body = host.run(answer_http, host.studio.engine, scope, request.get_data())
        response = flask.Response(body, status=status)
        for key, value in headers:
            response.headers[key] = value
        return response

    app.add_url_rule(ENDPOINT, "kt_mcp_endpoint", mcp_endpoint, methods=["GET", "POST", "DELETE"])


def _refusal(status: int, kind: str, message: str) -> Any:
    import flask

    response = flask.jsonify({"error": {"type": kind, "message": message}})
    response.status_code = status
    return response


async def answer_http(
    engine: Any, scope: dict[str, Any], body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Answer one MCP request over streamable HTTP (stateless, JSON) for *engine*'s creatures.

    Runs on the engine's loop. The SDK's own transport reads the request, so the protocol's
    checks (``Accept``, content type, versions, JSON-RPC shape) are its.

    Args:
        engine: The terrarium engine whose running creatures are served.
        scope: The request as an ASGI HTTP scope.
        body: The request's body.

    Returns:
        ``(status, headers, body)``.
    """
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    server = build_group_server(
        engine_creatures(engine),
        name="kt-serve",
        instructions=(
            "The running creatures of a KT host: ask any of them (ask_<id>); each keeps "
            "its own conversation."
        ),
    )
    manager = StreamableHTTPSessionManager(app=server, json_response=True, stateless=True)
    answer = _Answer(body)
    async with manager.run():
        await manager.handle_request(scope, answer.receive, answer.send)
    return answer.status, answer.headers, bytes(answer.body)


class _Answer:
    """The two ASGI channels of one buffered request: the body in, the answer out."""

    def __init__(self, body: bytes) -> None:
        self.request = body
        self.read = False
        self.done = trio.Event()
        self.status = 500
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()

    async def receive(self) -> dict[str, Any]:
        if not self.read:
            self.read = True
            return {"type": "http.request", "body": self.request, "more_body": False}
        await self.done.wait()  # the client stays until the answer is complete
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [
                (key.decode("latin-1"), value.decode("latin-1"))
                for key, value in message.get("headers", ())
                if key.lower() != b"content-length"  # Flask counts the buffered body itself
            ]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                self.done.set()
