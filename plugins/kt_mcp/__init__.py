"""kt_mcp: creatures use MCP servers' tools, and serve themselves as MCP servers.

Client side: a creature's ``[[mcp_servers]]`` entries (and servers of the global registry
``~/.kt/mcp.toml`` they name) are started when the creature starts, all at once, and their
tools become the creature's tools (``server__tool``, with the server's own JSON schemas), or
are reached through five meta-tools in ``meta`` mode. Server side: ``kt mcp serve TARGET``
offers a creature to any MCP client as an ``ask_<name>`` tool, optionally with its own tools,
with its system prompt and conversation as resources and its prompt files as prompts; a
terrarium recipe is served by its root or, with ``--members``, by each creature; and a
``kt serve`` host offers every running creature at ``/api/mcp``.

Servers' resources are read through two tools, their prompts are slash-command material, their
tool lists are followed live, and remote servers may use OAuth (``kt mcp login``).

This module is the ``kt_mcp`` entry point. It holds only the hook implementations and imports
neither the MCP SDK nor trio: those load when a creature with MCP servers starts or a ``kt mcp``
command runs. See ``docs/guides/mcp.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import kt

if TYPE_CHECKING:
    import click

    from kt_mcp.events import (
        MCPElicitation,
        MCPProgress,
        MCPSamplingApproval,
        MCPServerConnected,
        MCPServerDisconnected,
        MCPServerFailed,
        MCPServerListChanged,
    )

__all__ = [
    "MCPElicitation",
    "MCPProgress",
    "MCPSamplingApproval",
    "MCPServerConnected",
    "MCPServerDisconnected",
    "MCPServerFailed",
    "MCPServerListChanged",
    "kt_cli_commands",
    "kt_cli_slash_commands",
    "kt_creature_started",
    "kt_doctor_checks",
    "kt_prompt_sections",
    "kt_web_routes",
]


def __getattr__(name: str) -> Any:
    """The event classes, imported on first use: a creature without MCP servers never needs them."""
    if name.startswith("MCP") and name in __all__:
        from kt_mcp import events

        return getattr(events, name)
    raise AttributeError(f"module 'kt_mcp' has no attribute {name!r}")


@kt.hookimpl
async def kt_creature_started(creature: kt.Agent) -> None:
    """Start the creature's MCP servers (all at once) and add their tools."""
    if not creature.config.mcp_servers:
        return  # nothing to do, and nothing of the SDK is imported
    from kt_mcp.manager import start_servers

    await start_servers(creature)


@kt.hookimpl
def kt_prompt_sections(creature: kt.Agent) -> list[kt.PromptSection]:
    """The MCP section: meta-mode servers and their tool names, and servers' instructions."""
    if not creature.config.mcp_servers:
        return []
    from kt_mcp.manager import manager

    found = manager(creature)
    return found.prompt_sections() if found is not None else []


@kt.hookimpl
def kt_cli_slash_commands() -> list[dict[str, Any]]:
    """``/mcp``: the servers' prompts, and sending one (``/mcp SERVER:PROMPT [name=value]``)."""
    return [
        {
            "name": "mcp",
            "summary": "list the MCP servers' prompts, or send one as your message",
            "usage": "[SERVER:PROMPT [name=value ...]]",
            "run": mcp_slash_command,
            "runs_model": True,
        }
    ]


async def mcp_slash_command(session: Any, args: str) -> list[str] | None:
    """``/mcp`` lists the prompts; ``/mcp SERVER:PROMPT ARGS`` sends the filled-in prompt.

    Mentions of ``@server:uri`` in the arguments are read into the message too.

    Raises:
        KTError: the creature has no MCP servers, or the prompt is unknown or refused.
    """
    from kt_mcp.errors import MCPConfigError
    from kt_mcp.manager import manager

    found = manager(session.agent)
    if found is None:
        raise MCPConfigError("this creature has no MCP servers ([[mcp_servers]] in its config)")
    command, _, rest = args.strip().partition(" ")
    if not command:
        commands = found.prompt_commands()
        if not commands:
            return ["No MCP prompts: the connected servers offer none."]
        lines = []
        for name, (_, prompt) in sorted(commands.items()):
            arguments = " ".join(f"{a.name}=..." for a in (prompt.arguments or []))
            lines.append(f"/mcp {name} {arguments}".rstrip() + f"  {prompt.description or ''}")
        return lines
    message = await found.expand_mentions(await found.expand_prompt(command, rest))
    await session.agent.run(message)
    return None


@kt.hookimpl
def kt_doctor_checks(kernel: kt.Kernel, online: bool, config: Any) -> list[Any]:
    """``kt doctor``: the registry's MCP servers, and the creature's own with a TARGET.

    With ``--online`` each server is started and listed.
    """
    from kt_mcp.checks import registry_checks, server_checks

    checks = registry_checks(online=online, env=kernel.env)
    if config is not None and config.mcp_servers:
        checks += server_checks(
            config.mcp_servers, online=online, env=kernel.env, working_dir=config.folder
        )
    return checks


@kt.hookimpl
def kt_cli_commands(cli: click.Group) -> None:
    """Add ``kt mcp``: registry, server and serving commands.

    The registry (add, remove, list, enable, disable, import), servers (test, check,
    resources, prompts, login, logout) and ``serve``.
    """
    from kt_mcp.cli import mcp

    cli.add_command(mcp)


@kt.hookimpl
def kt_web_routes(app: Any, host: Any) -> None:
    """``POST /api/mcp`` on a ``kt serve`` host: its running creatures for MCP clients."""
    from kt_mcp.hosting import add_web_routes

    add_web_routes(app, host)
