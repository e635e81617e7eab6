"""Plain-text tables for command output: aligned columns, no borders, no colour."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["format_table"]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Align *rows* under *headers* in columns two spaces apart.

    The last column is not padded, so long values (hook lists, reasons) do not drag trailing
    spaces along.

    Args:
        headers: Column titles.
        rows: One sequence of cell texts per row, as long as *headers*.

    Returns:
        The table, one line per row after the header line, without a final newline.
    """
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)
