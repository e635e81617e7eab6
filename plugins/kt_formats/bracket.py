"""The bracket format: ``[/name]`` opens a call, ``[name/]`` closes it.

::

    [/write]
    @@path=notes.txt
    First line of the file.
    [write/]

The lines right after the opening marker that look like ``@@key=value`` are arguments (blank
lines among them are skipped). The first other line starts the body, which runs to the closing
marker, is stripped, and fills the tool's body argument (the parser's ``body_args`` entry for
the tool, else ``content``). An explicit ``@@`` argument with the body's key wins over the body.

The markers were chosen because prose and code almost never contain them: ``[`` followed by
anything but ``/`` and a letter is plain text at once, so ordinary brackets never delay text.
"""

from __future__ import annotations

import re

import kt
from kt_formats.prompt import TextFormat
from kt_formats.stream import (
    MAX_NAME_LENGTH,
    NAME_CHARS,
    NAME_START,
    OpenMarker,
    Scan,
    merge_args,
)

__all__ = ["BracketFormat", "parse_block_body"]

_ARG_LINE = re.compile(r"@@\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=(.*)")

_TEACHING = """\
## Calling tools

To call a tool, write a block like this in your reply:

[/tool_name]
@@argument=value
@@other_argument=value
body text, as many lines as needed
[tool_name/]

- Put each argument on its own `@@name=value` line right after the opening line; a value \
ends at the end of its line, so put long or multi-line text in the body.
- Everything after the argument lines, up to the closing line, is the block body; it fills \
the parameter named under "Block body" below. Leave it out if the tool has none.
- One block is one call. Blocks do not nest; you may write several blocks in one reply.
- {value_rules}
- The results come back to you after your reply.

## Tools

{tools}"""


def parse_block_body(text: str) -> tuple[dict[str, str], str]:
    """Split the text between a block's markers into ``@@`` arguments and the body.

    Args:
        text: Everything between ``[/name]`` and ``[name/]``.

    Returns:
        The arguments (values stripped; a repeated key keeps the last value) and the body,
        stripped.
    """
    lines = text.split("\n")
    args: dict[str, str] = {}
    body_start = len(lines)
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        match = _ARG_LINE.fullmatch(stripped)
        if match is None:
            body_start = index
            break
        args[match.group(1)] = match.group(2).strip()
    return args, "\n".join(lines[body_start:]).strip()


class _BracketSyntax:
    opener = "["

    def new_scanner(self) -> _BracketScanner:
        return _BracketScanner()

    def closing_marker(self, name: str) -> str:
        return f"[{name}/]"

    def build_call(self, marker: OpenMarker, body: str, body_arg: str) -> kt.ToolCall:
        explicit, body_text = parse_block_body(body)
        return kt.ToolCall(marker.name, merge_args(explicit, body_text, body_arg))


class _BracketScanner:
    """Reads ``/name]`` after a ``[``."""

    def __init__(self) -> None:
        self._slash_seen = False
        self._name = ""

    def step(self, char: str) -> Scan | OpenMarker:
        if not self._slash_seen:
            self._slash_seen = char == "/"
            return Scan.MORE if self._slash_seen else Scan.REJECT
        if not self._name:
            if char not in NAME_START:
                return Scan.REJECT
        elif char == "]":
            return OpenMarker(self._name)
        elif char not in NAME_CHARS or len(self._name) >= MAX_NAME_LENGTH:
            return Scan.REJECT
        self._name += char
        return Scan.MORE


class BracketFormat(TextFormat):
    """Tool calls written as ``[/name]`` ... ``[name/]`` blocks with ``@@key=value`` lines."""

    name = "bracket"
    teaching = _TEACHING
    syntax = _BracketSyntax
