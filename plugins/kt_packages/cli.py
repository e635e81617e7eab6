"""The ``kt`` commands of ``kt_packages``: install, uninstall, update, list, info, marketplace.

Added through the ``kt_cli_commands`` hook, so this module (and click) is imported only when
``kt`` lists its commands or runs one of these. Failures raise :class:`kt.errors.KTError`
subclasses, which ``kt`` reports as one line with a hint and a non-zero exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

import kt

__all__ = ["add_commands"]


def add_commands(cli: click.Group) -> None:
    """Add this plugin's commands to *cli* (the group ``kt_cli_commands`` hands over).

    Args:
        cli: The group collecting the plugin's commands.
    """
    for command in (install, uninstall, update, list_packs, info, marketplace):
        cli.add_command(command)


def _set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # The kt command keeps --verbose on its context object; accept it after our command too.
    if value and hasattr(ctx.find_root().obj, "verbose"):
        ctx.find_root().obj.verbose = True


def _verbose_option(command):
    return click.option(
        "--verbose",
        "-v",
        is_flag=True,
        is_eager=True,
        expose_value=False,
        callback=_set_verbose,
        help="Show tracebacks with errors.",
    )(command)


def _kernel() -> kt.Kernel:
    """The invocation's kernel (the plugin set ``kt`` chose), or a default one."""
    ctx = click.get_current_context(silent=True)
    state = ctx.find_root().obj if ctx is not None else None
    make = getattr(state, "kernel", None)
    return make() if callable(make) else kt.Kernel()


# -- install / uninstall / update ---------------------------------------------------------------


@click.command()
@click.argument("source")
@click.option("-e", "--editable", is_flag=True, help="Link the folder instead of copying it.")
@click.option("--name", help="Install under this name instead of the manifest's.")
@click.option(
    "--allow-downgrade",
    is_flag=True,
    help="Replace an installed pack even with an older version of it.",
)
@_verbose_option
def install(source: str, editable: bool, name: str | None, allow_downgrade: bool) -> None:
    """Install a pack from SOURCE: a folder, a git URL, or @NAME from the marketplace index.

    \b
      kt install ./my-pack          copy a folder into $KT_HOME/packages
      kt install ./my-pack -e       link it instead: edits are live
      kt install https://host/pack.git
      kt install @kt-biome          the bundled kt-biome stub pack

    Reinstalling a pack replaces it, unless the installed version is newer than SOURCE's
    (then nothing changes; --allow-downgrade replaces it anyway). Python plugins the pack
    declares are installed with pip into the Python that runs kt; kt-biome's Python modules
    need KohakuTerrarium's internals and are reported as unsupported.
    """  # noqa: D301 (click reads \b as "keep this paragraph as written")
    from kt_packages.report import print_install
    from kt_packages.store import PackStore

    store = PackStore()
    print_install(
        store.install(source, editable=editable, name=name, allow_downgrade=allow_downgrade)
    )


@click.command()
@click.argument("name")
@_verbose_option
def uninstall(name: str) -> None:
    """Remove the installed pack NAME (and the Python plugins it installed)."""
    from kt_packages.report import warn
    from kt_packages.store import PackStore

    report = PackStore().uninstall(name)
    for warning in report.warnings:
        warn(warning)
    removed = (
        f" and {', '.join(report.removed_distributions)}" if report.removed_distributions else ""
    )
    click.echo(f"Uninstalled {report.pack.name}{removed}.")


@click.command()
@click.argument("target", required=False)
@click.option("--all", "update_all", is_flag=True, help="Update every installed pack.")
@_verbose_option
def update(target: str | None, update_all: bool) -> None:
    """Update pack TARGET (a name or @name/...) from its source, or every pack with --all.

    A git clone is fast-forwarded, a copy is copied again from its folder, and an editable
    pack is skipped (its files are live already).
    """
    from kt_packages.report import warn
    from kt_packages.store import PackStore

    store = PackStore()
    if update_all == (target is not None):
        raise click.UsageError("give a pack name, or --all (not both)")
    names = [p.name for p in store.installed()] if update_all else [target or ""]
    counts = {"updated": 0, "unchanged": 0, "skipped": 0}
    for name in names:
        result = store.update(name)
        counts[result.status] += 1
        click.echo(f"{result.name}: {result.status} ({result.reason})")
        if result.report is not None:
            for warning in result.report.warnings:
                warn(warning)
    if update_all:
        click.echo(
            f"Update summary: {counts['updated']} updated, {counts['unchanged']} unchanged, "
            f"{counts['skipped']} skipped"
        )


# -- list / info --------------------------------------------------------------------------------


@click.command("list")
@click.option(
    "--path",
    "path",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to look for local creature and terrarium folders.",
)
@_verbose_option
def list_packs(path: Path) -> None:
    """List installed packs, then creature and terrarium folders under --path."""
    from kt_packages.report import show_list

    show_list(path)


@click.command()
@click.argument("target")
@_verbose_option
def info(target: str) -> None:
    """Show a creature, terrarium or pack: tools, sub-agents, plugins, model, problems.

    TARGET is a folder or config file, an @pack/path reference, @pack, or an installed pack's
    name. Names are resolved against the loaded plugins; names nothing provides are listed
    as missing, and kt-biome's Python plugins as unsupported, with the reason.
    """
    from kt_packages.report import show_info

    show_info(target, _kernel())


# -- marketplace --------------------------------------------------------------------------------


@click.group()
def marketplace() -> None:
    """Find packs in the marketplace: the bundled index, your sources, your own index.

    \b
      kt marketplace add acme https://example.org/kt/marketplace.toml
      kt marketplace add team git+https://git.example.org/team/kt-index.git
      kt marketplace search coding
      kt marketplace info kt-biome
      kt install @kt-biome
    """  # noqa: D301 (click reads \b as "keep this paragraph as written")


def _sources():
    from kt.config.home import kt_home
    from kt_packages.marketplace import SourceList

    return SourceList(kt_home())


def _ago(timestamp: float) -> str:
    import time

    if not timestamp:
        return "never fetched"
    seconds = max(0, time.time() - timestamp)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"fetched {seconds // size:.0f}{unit} ago"
    return "fetched just now"


@marketplace.command("add")
@click.argument("name")
@click.argument("url")
@_verbose_option
def marketplace_add(name: str, url: str) -> None:
    """Add the source NAME: an index at URL (https://..., a git repository, or a file).

    The index is fetched now and cached; a source whose index cannot be fetched or read is
    not added. Adding a NAME again replaces its URL.
    """
    source = _sources().add(name, url)
    click.echo(f"Added marketplace source {source.name} ({source.kind}): {source.packs} packs.")


@marketplace.command("remove")
@click.argument("name")
@_verbose_option
def marketplace_remove(name: str) -> None:
    """Remove the source NAME and its cached index (installed packs stay)."""
    source = _sources().remove(name)
    click.echo(f"Removed marketplace source {source.name} ({source.url}).")


@marketplace.command("list")
@_verbose_option
def marketplace_list() -> None:
    """List the indexes searched, lowest priority first: bundled, sources, your own."""
    from kt.config.home import kt_home
    from kt_packages.marketplace import BUNDLED_INDEX, read_index_file, user_index_file

    click.echo(f"bundled      {len(read_index_file(BUNDLED_INDEX))} packs  {BUNDLED_INDEX}")
    for source in _sources().sources():
        click.echo(
            f"{source.name:<12} {source.packs} packs  {source.url}  ({source.kind}, "
            f"{_ago(source.fetched_at)})"
        )
    own = user_index_file(kt_home())
    count = f"{len(read_index_file(own))} packs" if own.is_file() else "absent"
    click.echo(f"{'yours':<12} {count}  {own}")


@marketplace.command("refresh")
@click.argument("name", required=False)
@_verbose_option
def marketplace_refresh(name: str | None) -> None:
    """Fetch the index of every source (or of NAME) again; a failure keeps the cached copy."""
    from kt_packages.errors import PackSourceError
    from kt_packages.report import warn

    results = _sources().refresh(name)
    if not results:
        click.echo("No marketplace sources; `kt marketplace add NAME URL` adds one.")
        return
    for source, problem in results:
        if problem:
            warn(f"{source.name}: {problem} (kept the copy {_ago(source.fetched_at)})")
        else:
            click.echo(f"{source.name}: {source.packs} packs")
    failed = [source.name for source, problem in results if problem]
    if failed:
        raise PackSourceError(f"could not refresh {', '.join(failed)}; see above")


@marketplace.command("info")
@click.argument("name")
@_verbose_option
def marketplace_info(name: str) -> None:
    """Show the pack NAME as the marketplace lists it: version, source, tags, which index."""
    from kt_packages.errors import PackNotFoundError
    from kt_packages.store import PackStore

    store = PackStore()
    entry = store.index().get(name.removeprefix("@"))
    if entry is None:
        raise PackNotFoundError(
            f"no pack '{name}' in the marketplace; `kt marketplace search` lists the known "
            "packs, `kt marketplace refresh` updates the sources"
        )
    by_cache = {s.cache: s for s in _sources().sources()}
    origin = by_cache.get(entry.index_file)
    where = f"source {origin.name} ({origin.url})" if origin else str(entry.index_file)
    installed = {p.name: p for p in store.installed()}
    rows = [
        ("name", entry.name),
        ("version", entry.version or "-"),
        ("description", entry.description or "-"),
        ("tags", ", ".join(entry.tags) or "-"),
        ("source", entry.source),
        ("index", where),
        ("installed", "yes" if entry.name in installed else f"no; kt install @{entry.name}"),
    ]
    for label, value in rows:
        click.echo(f"{label:<12} {value}")


@marketplace.command()
@click.argument("query", nargs=-1)
@click.option(
    "--index",
    "index_files",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Search this index file instead of the bundled one, the sources and "
    "$KT_HOME/marketplace.toml (repeatable).",
)
@_verbose_option
def search(query: Sequence[str], index_files: Sequence[Path]) -> None:
    """List known packs whose name, description or tags contain every word of QUERY."""
    from kt_packages.marketplace import search as search_index
    from kt_packages.store import PackStore

    store = PackStore(index_files=list(index_files) or None)
    found = search_index(store.index(), " ".join(query))
    if not found:
        click.echo(f"No pack in the index matches {' '.join(query)!r}.")
        return
    installed = {p.name for p in store.installed()}
    for entry in found:
        version = f" {entry.version}" if entry.version else ""
        mark = "  (installed)" if entry.name in installed else ""
        click.echo(f"{entry.name}{version}{mark}")
        if entry.description:
            click.echo(f"  {entry.description}")
        click.echo(f"  install: kt install @{entry.name}   (source: {entry.source})")
