"""``kt_cli``: the ``kt`` command line, and the plugin that lets other plugins extend it.

Importing this package is free: the click group lives in :mod:`kt_cli.main` and is imported by
the ``kt`` console script. The modules, by purpose:

* :mod:`kt_cli.main`: the ``kt`` group, ``main()``, lazy plugin commands, error reports.
* :mod:`kt_cli.command_cache`: the cache of command names and help that keeps ``kt --help`` fast.
* :mod:`kt_cli.commands`: the built-in commands (``run``, ``edit``, ``doctor``, ``plugins``).
* :mod:`kt_cli.hookspecs`: ``kt_cli_commands``, ``kt_doctor_checks``.
* :mod:`kt_cli.state`: ``CliState`` (with ``kernel()`` and ``interact()``), ``pass_state``,
  ``common_options`` for plugin commands.
* :mod:`kt_cli.plugin`: the ``kt_cli`` entry point: hook specs, the ``plain`` and ``cli``
  inputs and the ``stdout`` output (``kt_inputs`` / ``kt_outputs``).
* :mod:`kt_cli.modes`: run modes (input modules by name) and ``interact()``, which hands a
  creature to the user.
* :mod:`kt_cli.repl`: the one read-run-render loop every terminal front end shares (``plain``,
  ``cli``, ``tui``, ``kt terrarium run``), and the base of the terminal inputs.
* :mod:`kt_cli.plain`, :mod:`kt_cli.output`: the ``plain`` input and the ``stdout`` output.
* :mod:`kt_cli.interactive`, :mod:`kt_cli.activity`: the session the loop drives for one
  creature (turns, slash commands, activity notes).
* :mod:`kt_cli.line_ui`, :mod:`kt_cli.terminal`: the ``cli`` input and its line editor.
"""
