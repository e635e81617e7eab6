"""``kt edit``: open a creature's or terrarium's config file in the user's editor."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import click

from kt.errors import ConfigNotFoundError, KTError
from kt_cli.state import CliState, common_options, pass_state

RECIPE_FILE_NAMES = ("terrarium.toml", "terrarium.yaml", "terrarium.yml")
"""Terrarium recipe files, as the kernel's recipe loader looks for them."""

PACK_MANIFEST_NAMES = ("kt-pack.toml", "kohaku.yaml", "kohaku.yml")
"""A pack's manifest: what ``kt edit PACK`` opens for a pack folder."""

FALLBACK_EDITORS = ("nano", "vi")
"""Tried in order when neither $VISUAL nor $EDITOR is set."""


def config_file(target: str, state: CliState) -> Path:
    """The config file TARGET names: a file, a creature or terrarium folder, or ``@pack/path``.

    A name that is not an existing path is looked up as ``@name`` among installed packs. A
    folder gives its creature config, else its terrarium recipe, else its pack manifest.

    Args:
        target: What the user typed.
        state: The invocation (its kernel resolves ``@pack`` references).

    Returns:
        The file to edit.

    Raises:
        ConfigNotFoundError: nothing matches, naming what was looked for.
    """
    from kt.config import CONFIG_FILE_NAMES

    path = Path(target).expanduser()
    if not path.exists() and not target.startswith(("/", ".", "~")):
        ref = target if target.startswith("@") else f"@{target}"
        resolved = state.kernel().resolve_ref(ref)
        if resolved is None:
            raise ConfigNotFoundError(
                f"no creature or terrarium at '{target}': not a path, and no installed pack "
                f"resolves {ref} (`kt list` shows the installed packs)"
            )
        path = resolved
    if path.is_file():
        return path
    if path.is_dir():
        candidates = (*CONFIG_FILE_NAMES, *RECIPE_FILE_NAMES, *PACK_MANIFEST_NAMES)
        for name in candidates:
            if (path / name).is_file():
                return path / name
        names = ", ".join(candidates)
        raise ConfigNotFoundError(f"no config file in folder {path}: expected one of {names}")
    raise ConfigNotFoundError(f"no creature or terrarium at '{target}'")


def editor_command(env: Mapping[str, str] | None = None) -> list[str]:
    """The editor to run: ``$VISUAL``, else ``$EDITOR``, else nano or vi if installed.

    Args:
        env: The environment (default ``os.environ``).

    Returns:
        The command, without the file name.

    Raises:
        KTError: no editor is set and neither fallback is installed.
    """
    env = os.environ if env is None else env
    for variable in ("VISUAL", "EDITOR"):
        value = env.get(variable, "").strip()
        if value:
            return shlex.split(value)
    for name in FALLBACK_EDITORS:
        found = shutil.which(name)
        if found:
            return [found]
    raise KTError(
        "no editor: set $EDITOR (for example `export EDITOR=nano`), or open the file yourself"
    )


@click.command("edit")
@click.argument("target")
@click.option("--print-path", is_flag=True, help="Print the file's path instead of opening it.")
@common_options
@pass_state
def edit(state: CliState, target: str, print_path: bool) -> None:
    """Open the config file of TARGET in your editor ($VISUAL, else $EDITOR).

    TARGET is a creature or terrarium folder, its config file, or @pack/path of an installed
    pack; a bare pack name opens the pack's manifest. The exit code is the editor's.
    """
    path = config_file(target, state)
    if print_path:
        click.echo(str(path))
        return
    command = [*editor_command(), str(path)]
    try:
        code = subprocess.call(command)
    except OSError as exc:
        raise KTError(f"cannot start the editor {command[0]!r}: {exc}; check $EDITOR") from exc
    click.get_current_context().exit(code)
