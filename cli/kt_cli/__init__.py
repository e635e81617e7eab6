"""``kt_cli``: the ``kt`` command line, and the plugin that lets other plugins extend it.

Importing this package is free: the click group lives in :mod:`kt_cli.main` and is imported by
the ``kt`` console script. The modules, by purpose:

* :mod:`kt_cli.main`: the ``kt`` group, ``main()``, lazy plugin commands, error reports.
* :mod:`kt_cli.command_cache`: the cache of command names and help that keeps ``kt --help`` fast.
* :mod:`kt_cli.commands`: the built-in commands (``run``, ``edit``, ``doctor``, ``plugins``).
* :mod:`kt_cli.hookspecs`: ``kt_cli_commands``, ``kt_cli_run_modes``, ``kt_doctor_checks``.
* :mod:`kt_cli.state`: ``CliState`` (with ``kernel()`` and ``interact()``), ``pass_state``,
  ``common_options`` for plugin commands.
* :mod:`kt_cli.plugin`: the ``kt_cli`` entry point (hook specs, the ``stdout`` output).
* :mod:`kt_cli.modes`: run modes and ``interact()``, which hands a creature to the user.
* :mod:`kt_cli.plain`, :mod:`kt_cli.output`: the ``plain`` run mode and its text rendering.
* :mod:`kt_cli.interactive`, :mod:`kt_cli.activity`: the session every interactive front end
  shares (turns, slash commands, activity notes).
* :mod:`kt_cli.line_ui`, :mod:`kt_cli.terminal`: the ``cli`` run mode and its line editor.
"""
