"""Reference pages that mirror code are checked against it: config keys, events and errors.

(The hook reference and the HTTP reference are generated from the code; their own tests check
them: tests/kernel/test_hookspecs.py and tests/web/test_openapi.py.)
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

import kt.errors
from kt.config import schema
from kt.events import EVENT_TYPES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reference"


def _section(page: str, heading: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    assert f"\n## {heading}\n" in text, f"{page} has no section '## {heading}'"
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _table_keys(section: str) -> set[str]:
    return set(re.findall(r"^\| `([\w.]+)`", section, re.MULTILINE))


def _config_keys(cls: type) -> set[str]:
    wire = {"class_name": "class"}
    return {wire.get(field.name, field.name) for field in attrs.fields(cls)}


# Keys a section's table leaves to another section (nested tables and entry lists).
ELSEWHERE = {
    "controller", "tools", "subagents", "triggers", "plugins", "mcp_servers", "input",
    "output", "compact", "termination",
}  # fmt: skip
# Fields the loader fills in (nobody writes them), and keys the loader reads that are no field.
DERIVED = {"folder", "files", "system_prompt_files"}
LOADER_KEYS = {"base_config", "no_inherit", "prompt_mode", "system_prompt_file"}


@pytest.mark.parametrize(
    ("cls", "heading"),
    [
        (schema.CreatureConfig, "Top-level keys"),
        (schema.ControllerConfig, "`[controller]`"),
        (schema.CompactConfig, "`[compact]`"),
        (schema.TerminationConfig, "`[termination]`"),
    ],
)
def test_config_md_has_a_row_for_every_key_and_no_other(cls, heading):
    documented = _table_keys(_section("config.md", heading))
    keys = _config_keys(cls)
    missing = keys - documented - ELSEWHERE - DERIVED
    assert not missing, f"config.md '{heading}' lacks rows for {sorted(missing)}"
    unknown = documented - keys - LOADER_KEYS
    assert not unknown, f"config.md '{heading}' documents keys that do not exist: {unknown}"


def test_events_md_names_every_kernel_event_type():
    text = (DOCS / "events.md").read_text(encoding="utf-8")
    kernel_types = {name for name, cls in EVENT_TYPES.items() if cls.__module__ == "kt.events"}
    missing = {name for name in kernel_types if f"`{name}`" not in text}
    assert not missing, f"events.md does not name the event types {sorted(missing)}"


def test_errors_md_names_every_error_class_kt_errors_exports():
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    classes = [
        name
        for name, value in vars(kt.errors).items()
        if isinstance(value, type) and issubclass(value, kt.errors.KTError)
    ]
    assert len(classes) > 20
    missing = [name for name in classes if not re.search(rf"\b{name}\b", text)]
    assert not missing, f"errors.md does not name {missing}"


def _commands() -> list[tuple[str, ...]]:
    """The path of every ``kt`` command and subcommand of the installed plugin set."""
    import click

    from kt_cli.main import cli

    def walk(group, path, context):
        found = []
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            found.append((*path, name))
            if isinstance(command, click.Group):
                found += walk(command, (*path, name), click.Context(command, parent=context))
        return found

    return walk(cli, ("kt",), click.Context(cli))


def test_every_kt_command_is_in_the_docs_and_every_top_level_one_in_cli_md():
    """A command is documented where its path is written, its name among the choices after it
    (``kt admin user list|remove|token`` documents three)."""
    commands = _commands()
    assert len(commands) > 50
    cli_md = (DOCS / "cli.md").read_text(encoding="utf-8")
    top = [path for path in commands if len(path) == 2]
    assert not [p for p in top if f"`{' '.join(p)}" not in cli_md], "add them to cli.md's tables"
    docs = "\n".join(page.read_text(encoding="utf-8") for page in DOCS.parent.rglob("*.md"))
    undocumented = [
        " ".join(path)
        for path in commands
        if not re.search(
            re.escape(" ".join(path[:-1])) + rf"[^\n]{{0,60}}?\b{re.escape(path[-1])}\b", docs
        )
    ]
    assert not undocumented, f"commands no page documents: {undocumented}"
