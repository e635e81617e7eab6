"""``kt_cli``: the ``kt`` command line, and the plugin that lets other plugins extend it.

Importing this package is free: the click group lives in :mod:`kt_cli.main` and is imported by
the ``kt`` console script. The modules, by purpose:

* :mod:`kt_cli.main`: the ``kt`` group, ``main()``, lazy plugin commands, error reports.
* :mod:`kt_cli.commands`: the built-in commands (``run``, ``doctor``, ``plugins``).
* :mod:`kt_cli.hookspecs`: ``kt_cli_commands(cli)``, how plugins add commands.
* :mod:`kt_cli.state`: ``CliState``, ``pass_state``, ``common_options`` for plugin commands.
* :mod:`kt_cli.plugin`: the ``kt_cli`` entry point (hook specs, the ``stdout`` output).
* :mod:`kt_cli.plain`, :mod:`kt_cli.output`: the ``plain`` run mode and its text rendering.
"""
