"""A creature's MCP servers: connected when it starts, offered as tools, reconnected on demand.

:class:`MCPManager` is created by the plugin's ``kt_creature_started`` hook for a creature with
``[[mcp_servers]]`` and kept in the creature's stash (:func:`manager`). It starts every server
at once, each in a job of the creature (so the connections end when the creature stops), and
waits until each is connected or has failed; a slow or broken server costs at most its
``connect_timeout`` and never stops the creature or the other servers. Then it adds the tools
with ``agent.add_tools``: each ``native`` server's tools as ``server__tool``, the five
meta-tools when some server is in ``meta`` mode, and the two resource tools when some server
offers resources.

The tools follow the servers: when a server announces a change of its tool list (or comes
back after a reconnection with other tools), new tools are added, tools it no longer offers
are withdrawn, and a tool whose schema changed is replaced. A server that could not be started
is reported three ways: an ``mcp_server_failed`` event, an ``AgentWarning`` that every front
end shows, and a section of the system prompt that tells the model which servers are
unavailable and why.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import trio

import kt
from kt.events import AgentWarning
from kt_mcp.asking import elicit, serve_sampling
from kt_mcp.connection import ServerConnection, log_file
from kt_mcp.errors import MCPConfigError, require_mcp_extra
from kt_mcp.events import MCPServerFailed
from kt_mcp.oauth import creature_auth
from kt_mcp.settings import ServerSettings, SettingsProblem, resolve_servers
from kt_mcp.tools import describe_tools, meta_tools, native_tools, resource_tools

__all__ = ["MCPManager", "manager", "start_servers"]

_MANAGER = kt.StashKey["MCPManager"]()

PLUGIN = "kt_mcp"
"""The plugin's name: a creature sets ``mode`` for all its servers in a ``[[plugins]]`` entry
of this name (``[[plugins]] name = "kt_mcp"`` / ``mode = "meta"``)."""


def manager(agent: kt.Agent) -> MCPManager | None:
    """The creature's MCP manager, or ``None`` when it has no MCP servers (or has not started)."""
    return agent.stash.get(_MANAGER, None)


async def start_servers(agent: kt.Agent) -> MCPManager | None:
    """Start *agent*'s MCP servers and add their tools, once per creature.

    Returns:
        The new manager, or ``None`` when the creature already has one (``kt_mcp`` is both in
        the kernel's plugin set and in the creature's ``[[plugins]]``, so its hook runs twice).
    """
    if manager(agent) is not None:
        return None
    created = MCPManager.for_agent(agent)
    agent.stash[_MANAGER] = created
    await created.start()
    return created


class MCPManager:
    """The MCP servers of one creature.

    Args:
        agent: The creature.
        servers: Its resolved servers (settings, or problems to report).

    Attributes:
        connections: The servers that could be set up, by name, in config order.
        problems: Servers whose settings are unusable, by name, with the error.
        default_timeout: The creature's ``tool_timeout`` (for servers without
            ``call_timeout``).
    """

    def __init__(self, agent: kt.Agent, servers: list[ServerSettings | SettingsProblem]) -> None:
        self.agent = agent
        self.connections: dict[str, ServerConnection] = {}
        self.problems: dict[str, MCPConfigError] = {}
        self.default_timeout = agent.config.controller.tool_timeout
        # Per native server: the server's tool name -> (the creature's tool name, the tool).
        self._offered: dict[str, dict[str, tuple[str, Any]]] = {}
        self._resource_tools = False
        self._started = False
        env = agent.kernel.env
        for item in servers:
            if isinstance(item, SettingsProblem):
                self.problems[item.name] = item.error
                continue
            self.connections[item.name] = ServerConnection(
                item,
                spawn=self._spawner(item.name),
                emit=agent.emit,
                log=log_file(item.name, env),
                on_connected=self._connected,
                on_changed=self._changed,
                auth=partial(creature_auth, item, env) if item.auth else None,
                roots=[agent.working_dir],
                elicit=partial(elicit, agent, item.name),
                sample=partial(serve_sampling, agent, item.name, item.sampling),
            )

    @classmethod
    def for_agent(cls, agent: kt.Agent) -> MCPManager:
        """Resolve the creature's ``[[mcp_servers]]`` (and the registry) into a manager.

        Raises:
            MCPConfigError: the creature's ``[[plugins]] name = "kt_mcp"`` entry sets an
                unknown ``mode``.
        """
        mode = agent.plugin_options(PLUGIN).get("mode", "native")
        if mode not in ("native", "meta"):
            raise MCPConfigError(
                f"mode must be 'native' or 'meta', not {mode!r}", path="plugins.kt_mcp.mode"
            )
        files = agent.config.files
        servers = resolve_servers(
            agent.config.mcp_servers,
            env=agent.kernel.env,
            working_dir=agent.working_dir,
            default_mode=mode,
            file=str(files[-1]) if files else None,
        )
        return cls(agent, servers)

    def _spawner(self, name: str) -> Any:
        async def spawn(fn: Any) -> None:
            await self.agent.start_service(fn, name=f"mcp:{name}")

        return spawn

    # -- Starting ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect every server concurrently, then offer their tools in one step.

        Takes as long as the slowest server (at most its ``connect_timeout``). Failures are
        published as ``mcp_server_failed`` events and an ``AgentWarning``; nothing is raised.
        """
        for name, error in self.problems.items():
            await self.agent.emit(MCPServerFailed(server=name, stage="config", error=str(error)))
        if self.connections:
            # Importing the SDK takes about a second; a worker thread keeps the creature's
            # other tasks (and other creatures in this process) running meanwhile.
            await trio.to_thread.run_sync(_import_sdk)
        async with trio.open_nursery() as nursery:
            for connection in self.connections.values():
                nursery.start_soon(connection.connect)
        specs: list[kt.ToolSpec] = []
        taken = set(self.agent.tools)
        for connection in self.connections.values():
            if connection.settings.mode == "native" and connection.status == "connected":
                specs += self._native_specs(connection, connection.tools, taken)
                taken |= {spec.name for spec in specs}
        if self.meta_servers():
            specs += [spec for spec in meta_tools(self) if spec.name not in taken]
        specs += self._new_resource_tools(taken)
        self._started = True
        await self.agent.add_tools(specs)
        unavailable = self.unavailable()
        if unavailable:
            total = len(self.connections) + len(self.problems)
            lines = [f"{len(unavailable)} of {total} MCP servers are unavailable:"]
            lines += [f"  {name}: {why.splitlines()[0]}" for name, why in unavailable.items()]
            await self.agent.emit(AgentWarning(message="\n".join(lines), source="kt_mcp"))

    def _native_specs(
        self, connection: ServerConnection, tools: Any, taken: set[str]
    ) -> list[kt.ToolSpec]:
        tools = list(tools)
        specs = native_tools(connection, tools, taken=taken, default_timeout=self.default_timeout)
        offered = self._offered.setdefault(connection.name, {})
        for tool, spec in zip(tools, specs, strict=True):
            offered[tool.name] = (spec.name, tool)
        return specs

    def _new_resource_tools(self, taken: set[str]) -> list[kt.ToolSpec]:
        """The resource tools, the first time some connected server offers resources."""
        if self._resource_tools or not any(
            c.resources or c.resource_templates for c in self.connections.values()
        ):
            return []
        self._resource_tools = True
        return [spec for spec in resource_tools(self) if spec.name not in taken]

    async def _connected(self, connection: ServerConnection) -> None:
        """After a reconnection: the server may offer other tools than before."""
        if self._started:
            await self._sync_tools(connection, reconnected=True)

    async def _changed(self, connection: ServerConnection, kind: str) -> None:
        """The server changed a list: tools are synced; new resources may need the tools."""
        if not self._started:
            return  # start() offers the tools as they are once every server has answered
        if kind == "tools":
            await self._sync_tools(connection, reconnected=False)
        elif kind == "resources":
            specs = self._new_resource_tools(set(self.agent.tools))
            if specs:
                await self.agent.add_tools(specs)

    async def _sync_tools(self, connection: ServerConnection, *, reconnected: bool) -> None:
        """Make the creature's tools of a native server match the server's current list.

        Tools the server no longer offers are withdrawn, changed ones replaced, new ones
        added; then the schemas and the system prompt are prepared again, once.
        """
        if connection.settings.mode != "native":
            await self.agent.add_tools([])  # the prompt lists meta servers' tool names
            return
        offered = self._offered.setdefault(connection.name, {})
        current = {tool.name: tool for tool in connection.tools}
        stale = [
            name
            for name, (_, tool) in offered.items()
            if name not in current or _shape(current[name]) != _shape(tool)
        ]
        for name in stale:
            spec_name, _ = offered.pop(name)
            # The kernel has add_tools but no way to withdraw one: the tool table is the
            # agent's public mapping, and add_tools below prepares schemas and prompt again.
            self.agent.tools.pop(spec_name, None)
        new = [tool for name, tool in current.items() if name not in offered]
        specs = self._native_specs(connection, new, set(self.agent.tools)) if new else []
        await self.agent.add_tools(specs)
        if specs and reconnected:
            await self.agent.emit(
                AgentWarning(
                    message=f"MCP server '{connection.name}' now offers {len(specs)} more tools: "
                    + ", ".join(spec.name for spec in specs),
                    source=f"mcp:{connection.name}",
                )
            )

    # -- What the meta-tools and the prompt say ------------------------------------------------

    def meta_servers(self) -> list[str]:
        """Names of the servers reached through the meta-tools."""
        return [n for n, c in self.connections.items() if c.settings.mode == "meta"]

    async def lookup(
        self, name: str, *, connect: bool
    ) -> tuple[ServerConnection | None, str | None]:
        """Find a server by name for a meta-tool; with *connect*, make sure it is connected.

        Returns:
            The connection (or ``None``) and a problem for the model (or ``None``).
        """
        connection = self.connections.get(name)
        if connection is None:
            if name in self.problems:
                return None, f"MCP server '{name}' cannot be used: {self.problems[name]}"
            known = ", ".join(self.connections) or "none"
            return None, f"no MCP server '{name}'; this creature's servers: {known}"
        if connect and connection.status != "connected" and not await connection.connect():
            return connection, connection.error or f"MCP server '{name}' is not connected"
        return connection, None

    def describe_servers(self) -> str:
        """One line per server: name, transport, mode, status, tool count, last error."""
        if not self.connections and not self.problems:
            return "This creature has no MCP servers; add [[mcp_servers]] entries to its config."
        lines = []
        for name, connection in self.connections.items():
            settings = connection.settings
            line = (
                f"- {name} ({settings.transport}, {settings.mode}, {connection.status}, "
                f"{len(connection.tools)} tools)"
            )
            if connection.status == "failed" and connection.error:
                line += f": {connection.error.splitlines()[0]}"
            lines.append(line)
        for name, error in self.problems.items():
            lines.append(f"- {name} (unusable settings): {error}")
        return "\n".join(lines)

    def unavailable(self) -> dict[str, str]:
        """Servers the creature cannot use now, by name, with why (their first error line)."""
        down = {name: str(error) for name, error in self.problems.items()}
        for name, connection in self.connections.items():
            if connection.status == "failed":
                down[name] = connection.error or "it failed"
        return down

    def prompt_sections(self) -> list[kt.PromptSection]:
        """What the system prompt says about MCP servers.

        Meta servers' tools, the servers' instructions, and the servers that are unavailable
        (so the model does not promise what their tools would do).
        """
        sections = []
        meta = [self.connections[name] for name in self.meta_servers()]
        if meta:
            lines = [
                "These MCP servers are reached through tools: mcp_tools(server) shows a "
                "server's tools and their arguments, mcp_call(server, tool, arguments) calls "
                "one, mcp_servers shows their status.",
            ]
            for connection in meta:
                names = [t.name for t in connection.tools]
                more = f" (+{len(names) - 25} more)" if len(names) > 25 else ""
                shown = ", ".join(names[:25]) + more
                lines.append(f"- {connection.name}: {shown or 'not connected'}")
            sections.append(kt.PromptSection("mcp.meta", "\n".join(lines), 400))
        notes = [
            f"- {connection.name}: {connection.instructions.strip()}"
            for connection in self.connections.values()
            if connection.instructions and connection.instructions.strip()
        ]
        if notes:
            text = "Notes from the MCP servers this creature uses:\n" + "\n".join(notes)
            sections.append(kt.PromptSection("mcp.instructions", text, 410))
        down = self.unavailable()
        if down and self._started:
            lines = [
                "These MCP servers of this creature are unavailable, so their tools cannot be "
                "used now; tell the user when a task needs them:"
            ]
            lines += [f"- {name}: {why.splitlines()[0]}" for name, why in down.items()]
            sections.append(kt.PromptSection("mcp.unavailable", "\n".join(lines), 420))
        return sections

    def prompt_commands(self) -> dict[str, tuple[ServerConnection, Any]]:
        """The servers' prompts as slash-command names: ``server:prompt`` -> (server, prompt).

        The way Claude Code names them; a front end offers each as ``/server:prompt ARGS``
        and runs :meth:`expand_prompt` to turn the line into the user's message.
        """
        commands = {}
        for connection in self.connections.values():
            if connection.status == "connected":
                for prompt in connection.prompts:
                    commands[f"{connection.name}:{prompt.name}"] = (connection, prompt)
        return commands

    async def expand_prompt(self, command: str, text: str = "") -> str:
        """Fetch the prompt behind slash command *command* with the arguments in *text*.

        *text* holds ``name=value`` pairs (values may be quoted, as in a shell); with no
        ``=`` at all, the whole text is the prompt's first argument.

        Returns:
            The prompt's text, ready to send as the user's message.

        Raises:
            MCPConfigError: no such prompt, or a required argument is missing.
            MCPServerError: the server is gone.
            mcp.shared.exceptions.MCPError: the server refused the prompt.
        """
        import shlex

        found = self.prompt_commands().get(command)
        if found is None:
            known = ", ".join(sorted(self.prompt_commands())) or "none"
            raise MCPConfigError(f"no MCP prompt '{command}'; the prompts: {known}")
        connection, prompt = found
        declared = [a.name for a in (prompt.arguments or ())]
        words = shlex.split(text) if text.strip() else []
        if words and not any("=" in w for w in words) and declared:
            arguments = {declared[0]: text.strip()}
        else:
            arguments = dict(w.partition("=")[::2] for w in words)
        missing = [
            a.name for a in (prompt.arguments or ()) if a.required and a.name not in arguments
        ]
        if missing:
            usage = " ".join(f"{a}=..." for a in declared)
            raise MCPConfigError(
                f"the MCP prompt '{command}' needs {', '.join(missing)}: /{command} {usage}"
            )
        from kt_mcp.tools import prompt_text

        return prompt_text(await connection.get_prompt(prompt.name, arguments))

    async def expand_mentions(self, text: str) -> str:
        """Add the resources that *text* mentions as ``@server:uri`` to the user's message.

        Each mention of a connected server's resource is read and appended after the text,
        in a ``<resource server="..." uri="...">`` block (the mention itself stays, so the
        model sees where the user referred to it). Mentions of unknown servers are left alone;
        a resource the server refuses is appended as an ``error`` block.

        Returns:
            The message to send.
        """
        import re

        from kt_mcp.tools import map_resource

        blocks = []
        seen = set()
        for match in re.finditer(r"(?<!\S)@([A-Za-z0-9_.-]+):(\S+)", text):
            server, uri = match.group(1), match.group(2).rstrip(".,;:!?)")
            connection = self.connections.get(server)
            if connection is None or connection.status != "connected" or (server, uri) in seen:
                continue
            seen.add((server, uri))
            try:
                output = map_resource(await connection.read_resource(uri), server=server).output
            except Exception as exc:  # a refused read is the user's to see, not a crash
                blocks.append(f'<resource server="{server}" uri="{uri}" error="{exc}"/>')
                continue
            body = output if isinstance(output, str) else "\n".join(p.text for p in output)
            blocks.append(f'<resource server="{server}" uri="{uri}">\n{body}\n</resource>')
        return "\n\n".join([text, *blocks]) if blocks else text

    def describe(self, name: str) -> str:
        """A server's tools and schemas (``mcp_tools``'s answer)."""
        return describe_tools(self.connections[name])


def _shape(tool: Any) -> tuple[Any, ...]:
    """What the model sees of a tool: a change here means the tool must be offered again."""
    import json

    schema = json.dumps(tool.input_schema or {}, sort_keys=True)
    return (tool.description, tool.title, schema)


def _import_sdk() -> None:
    require_mcp_extra("mcp")
    import mcp.client.session  # noqa: F401
    import mcp.client.stdio  # noqa: F401
    import mcp.types  # noqa: F401
