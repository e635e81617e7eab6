"""The commands built into ``kt``, one module each, imported only when used.

:data:`BUILTIN_COMMANDS` maps each command name to ``"module:attribute"``. The ``kt`` group
(:class:`kt_cli.main.KTGroup`) resolves these names without loading any plugin; names it does
not find here are looked up among the commands plugins contribute through ``kt_cli_commands``.
A new built-in command is a module in this package plus one line here.
"""

from __future__ import annotations

BUILTIN_COMMANDS: dict[str, str] = {
    "doctor": "kt_cli.commands.doctor:doctor",
    "edit": "kt_cli.commands.edit:edit",
    "hooks": "kt_cli.commands.hooks:hooks",
    "plugins": "kt_cli.commands.plugins:plugins",
    "run": "kt_cli.commands.run:run",
}
