"""Markdown for the ``cli`` mode: replies split into blocks as they stream, each rendered once.

A reply arrives a few characters at a time, but Markdown can only be rendered whole blocks at
a time: a ``**`` or a code fence means nothing until its end arrives. :class:`BlockSplitter`
cuts the stream into blocks (a paragraph, a list or a table ends at a blank line, a heading at
its line end, a fenced code block at its closing fence); the front end commits each finished
block rendered (:func:`render`, through rich) and shows the unfinished rest as it streams.

rich is imported by :func:`render` the first time a block is rendered, so ``kt --help`` and
every command that never shows a reply do not pay for it. Without rich installed, blocks are
written as they came (``pip install 'kt-terrarium[cli]'`` adds it).
"""

from __future__ import annotations

import io
import re
from typing import Any

__all__ = ["BlockSplitter", "render", "rich_available"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")


class BlockSplitter:
    """Cuts streamed Markdown into finished blocks.

    Attributes:
        tail: Text received that belongs to no finished block yet (what to show raw).
    """

    def __init__(self) -> None:
        self._lines: list[str] = []  # complete lines of the open block
        self._partial = ""  # the line being received
        self._fence: str | None = None  # the opening fence while inside a code block

    @property
    def tail(self) -> str:
        """The open block and the line being received, as received."""
        return "".join(self._lines) + self._partial

    def feed(self, chunk: str) -> list[str]:
        """Take *chunk*; return the blocks it finished, in order (``""``: a blank line)."""
        done: list[str] = []
        text = self._partial + chunk
        *complete, self._partial = text.split("\n")
        for line in complete:
            done += self._line(line + "\n")
        return done

    def flush(self) -> list[str]:
        """End of the reply: the open block (an unclosed fence included) as the last block."""
        if self._partial:
            self._lines.append(self._partial)
            self._partial = ""
        self._fence = None
        return self._close()

    def _line(self, line: str) -> list[str]:
        stripped = line.strip()
        if self._fence is not None:
            self._lines.append(line)
            if (
                stripped.startswith(self._fence[0] * len(self._fence))
                and stripped.strip(self._fence[0]) == ""
            ):
                self._fence = None
                return self._close()
            return []
        fence = _FENCE.match(line)
        if fence:
            done = self._close()
            self._fence = fence.group(1)
            self._lines.append(line)
            return done
        if not stripped:
            return [*self._close(), ""]
        if _HEADING.match(line):
            done = self._close()
            self._lines.append(line)
            return done + self._close()
        self._lines.append(line)
        return []

    def _close(self) -> list[str]:
        if not self._lines:
            return []
        block = "".join(self._lines)
        self._lines = []
        return [block]


def rich_available() -> bool:
    """Whether rich can be imported (the ``cli`` extra)."""
    import importlib.util

    return importlib.util.find_spec("rich") is not None


def render(block: str, width: int, *, colors: bool = True) -> str:
    """*block* rendered for a terminal *width* columns wide, without a final newline.

    Headings, emphasis, lists, tables and fenced code (highlighted by its language) come out
    styled; with *colors* off, only the layout is kept. A blank-line block stays blank.
    """
    if not block.strip():
        return ""
    try:
        from rich.console import Console
        from rich.markdown import Markdown
    except ImportError:  # the cli extra is not installed: show the source
        return block.rstrip("\n")
    out = io.StringIO()
    console: Any = Console(
        file=out,
        force_terminal=colors,
        no_color=not colors,
        color_system="256" if colors else None,
        width=max(width - 1, 20),
        highlight=False,
        emoji=False,
    )
    console.print(Markdown(block, code_theme="monokai"))
    lines = [line.rstrip(" ") for line in out.getvalue().split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)
