"""A creature's MCP servers: connected when it starts, offered as tools, reconnected on demand.

:class:`MCPManager` is created by the plugin's ``kt_creature_started`` hook for a creature with
``[[mcp_servers]]`` and kept in the creature's stash (:func:`manager`). It starts every server
at once, each in a job of the creature (so the connections end when the creature stops), and
waits until each is connected or has failed; a slow or broken server costs at most its
``connect_timeout`` and never stops the creature or the other servers. Then it adds the tools
with ``agent.add_tools``: each ``native`` server's tools as ``server__tool``, and the five
meta-tools when some server is in ``meta`` mode.
"""

from __future__ import annotations

from typing import Any

import trio

import kt
from kt.events import AgentWarning
from kt_mcp.connection import ServerConnection, log_file
from kt_mcp.errors import MCPConfigError, require_mcp_extra
from kt_mcp.events import MCPServerFailed
from kt_mcp.settings import ServerSettings, SettingsProblem, resolve_servers
from kt_mcp.tools import describe_tools, meta_tools, native_tools

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
        self._offered: dict[str, set[str]] = {}  # per native server: its tools already offered
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
        published as ``mcp_server_failed`` events; nothing is raised for them.
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
        self._started = True
        await self.agent.add_tools(specs)

    def _native_specs(
        self, connection: ServerConnection, tools: Any, taken: set[str]
    ) -> list[kt.ToolSpec]:
        tools = list(tools)
        specs = native_tools(connection, tools, taken=taken, default_timeout=self.default_timeout)
        self._offered.setdefault(connection.name, set()).update(t.name for t in tools)
        return specs

    async def _connected(self, connection: ServerConnection) -> None:
        """After a reconnection: offer tools the server did not have before."""
        if not self._started or connection.settings.mode != "native":
            return
        offered = self._offered.get(connection.name, set())
        new = [t for t in connection.tools if t.name not in offered]
        if not new:
            return
        specs = self._native_specs(connection, new, set(self.agent.tools))
        await self.agent.add_tools(specs)
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

    def prompt_sections(self) -> list[kt.PromptSection]:
        """What the system prompt says about MCP servers: meta servers' tools, instructions."""
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
        return sections

    def describe(self, name: str) -> str:
        """A server's tools and schemas (``mcp_tools``'s answer)."""
        return describe_tools(self.connections[name])


def _import_sdk() -> None:
    require_mcp_extra("mcp")
    import mcp.client.session  # noqa: F401
    import mcp.client.stdio  # noqa: F401
    import mcp.types  # noqa: F401
