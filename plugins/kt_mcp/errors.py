"""kt_mcp's errors, under the kernel's ``KTError`` tree.

::

    KTError
    ├── ConfigError
    │   └── MCPConfigError         an [[mcp_servers]] entry or ~/.kt/mcp.toml cannot be used
    └── MCPServerError             a server did not start, did not answer, or closed the connection

Inside a turn these never escape: a tool backed by a failed server answers the model with the
message as its error, and the failure is published as an ``mcp_server_failed`` event.
"""

from __future__ import annotations

from kt.errors import ConfigError, KTError

__all__ = ["MCPConfigError", "MCPServerError", "require_mcp_extra"]


class MCPConfigError(ConfigError):
    """An MCP server's settings cannot be used (unknown transport, no command, bad option)."""


class MCPServerError(KTError):
    """An MCP server did not start, did not answer in time, or closed the connection.

    Attributes:
        server: The server's name.
        log: The file holding the server's stderr, when it has one.
    """

    def __init__(self, message: str, *, server: str, log: str | None = None) -> None:
        super().__init__(message)
        self.server = server
        self.log = log


def require_mcp_extra(*modules: str) -> None:
    """Refuse to go on when a library of the ``mcp`` extra is missing, naming the extra.

    Raises:
        MCPConfigError: *module* is not installed.
    """
    import importlib.util

    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MCPConfigError(
                f"MCP needs the '{module}' package, which is not installed: "
                "pip install 'kt-terrarium[mcp]'"
            )
