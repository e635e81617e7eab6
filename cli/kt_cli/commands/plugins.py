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
    help="Print a JSON list of {name, version, status, hooks, failure} instead of a table.",
)
@common_options
@pass_state
def plugins(state: CliState, as_json: bool) -> None:
    """List the plugins of the current plugin set.

    Loaded plugins show their version and the hooks they implement; plugins that failed to
    load show why (a missing optional dependency, say). The set is every installed plugin
    unless --plugins, --no-plugins, KT_PLUGINS or `[kt] plugins` in the user config choose
    it. Exit code 0 even when some failed: `kt doctor` judges.
    """
    infos = state.kernel().plugin_infos()
    if as_json:
        data = [
            {
                "name": info.name,
                "version": info.version or None,
                "status": "failed" if info.failure else "loaded",
                "hooks": list(info.hooks),
                "failure": info.failure,
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
