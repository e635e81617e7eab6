"""``kt plugins``: the plugin set, with versions, hooks and failures."""

from __future__ import annotations

import json

import click

from kt_cli.state import CliState, common_options, pass_state
from kt_cli.tables import format_table


@click.command("plugins")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON list of {name, version, status, hooks, failure, clashes} instead of a "
    "table.",
)
@common_options
@pass_state
def plugins(state: CliState, as_json: bool) -> None:
    """List the plugins of the current plugin set.

    Loaded plugins show their version and the hooks they implement; plugins that failed to
    load show why (a missing optional dependency, say). Names two plugins both register (a
    tool, a backend ...) are listed after the table: the first registration is kept, and the
    line says how to choose the other. The set is every installed plugin unless --plugins,
    --no-plugins, KT_PLUGINS or `[kt] plugins` in the user config choose it. Exit code 0
    even when some failed: `kt doctor` judges.
    """
    kernel = state.kernel()
    infos = kernel.plugin_infos()
    clashes = kernel.clashes
    if as_json:
        data = [
            {
                "name": info.name,
                "version": info.version or None,
                "status": "failed" if info.failure else "loaded",
                "hooks": list(info.hooks),
                "failure": info.failure,
                "clashes": [c.message for c in clashes if info.name in (c.kept, c.ignored)],
            }
            for info in infos
        ]
        click.echo(json.dumps(data, indent=2))
        return
    if not infos:
        click.echo("No plugins loaded: the bare kernel (built-ins: the native tool format and")
        click.echo("the scripted LLM backend).")
        return
    rows = [
        (
            info.name,
            info.version or "-",
            "failed" if info.failure else "loaded",
            info.failure if info.failure else ", ".join(info.hooks) or "-",
        )
        for info in infos
    ]
    click.echo(format_table(("NAME", "VERSION", "STATUS", "HOOKS / FAILURE"), rows))
    if clashes:
        click.echo(f"\n{len(clashes)} name(s) registered by two plugins (the first one is kept):")
        for clash in clashes:
            click.echo(f"  {clash.message}")
