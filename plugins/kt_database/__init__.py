"""The ``database`` tool: SQL against one SQLite file, chosen by the creature's config.

The model writes the SQL; the config chooses the file, so a model cannot point the tool at
another database (or at any other file). The default file is ``data.sqlite`` in the creature's
working dir; ``path`` in the tool's config entry changes it (relative to the working dir).
With ``read_only = true`` the file is opened read-only by SQLite itself, so no statement can
change it.

    [[tools]]
    name = "database"
    path = "shop.sqlite"
    read_only = true

Rows come back as a Markdown table, at most ``max_rows`` of them (a note says how many more
there were). Statements that change data report the rows they changed. Parameters (``?``
placeholders) are passed separately from the SQL, as the model should do for any value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

import kt

if TYPE_CHECKING:  # imported when the tool runs: a kernel loads this module for every creature
    import sqlite3

__all__ = ["DatabaseOptions", "database"]


@attrs.frozen
class DatabaseOptions:
    """The ``database`` tool's config options.

    Attributes:
        path: The SQLite file, relative to the working dir.
        read_only: Open it read-only (no statement can change it).
        max_rows: Rows returned at most.
        timeout: Seconds to wait for a lock held by another connection.
    """

    path: str = "data.sqlite"
    read_only: bool = False
    max_rows: int = 200
    timeout: float = 5.0


def _connect(ctx: kt.ToolContext, options: DatabaseOptions) -> sqlite3.Connection:
    import sqlite3

    file = ctx.resolve_path(options.path)
    if options.read_only:
        if not file.is_file():
            raise kt.errors.ToolExecutionError(f"no database at {file} (the tool is read-only)")
        uri = f"{Path(file).resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=options.timeout)
    return sqlite3.connect(file, timeout=options.timeout)


def _table(columns: list[str], rows: list[tuple[Any, ...]], more: int) -> str:
    def cell(value: Any) -> str:
        text = "NULL" if value is None else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    if more:
        lines.append(f"({more} more row(s) not shown; add LIMIT/OFFSET or narrow the query)")
    return "\n".join(lines) if rows else "(no rows)"


def _build(options: DatabaseOptions) -> kt.ToolSpec:
    def run(query: str, ctx: kt.ToolContext, params: list[Any] | None = None) -> kt.ToolResult:
        """Run one SQL statement on the creature's SQLite database and return its result.

        Args:
            query: One SQL statement; use ? placeholders for values.
            params: Values for the ? placeholders, in order.
            ctx: Injected by the kernel.
        """
        import sqlite3

        try:
            with _connect(ctx, options) as connection:
                cursor = connection.execute(query, params or [])
                if cursor.description is None:
                    return kt.ToolResult(
                        output=f"OK: {cursor.rowcount} row(s) changed.",
                        metadata={"rows_changed": cursor.rowcount},
                    )
                columns = [d[0] for d in cursor.description]
                rows = cursor.fetchmany(options.max_rows + 1)
                shown = rows[: options.max_rows]
                more = len(rows) - len(shown)
                if more:
                    more += len(cursor.fetchall())
                return kt.ToolResult(
                    output=_table(columns, shown, more), metadata={"rows": len(shown) + more}
                )
        except sqlite3.Error as exc:
            hint = " (the database is read-only)" if "readonly" in str(exc).lower() else ""
            return kt.ToolResult(error=f"SQLite error: {exc}{hint}")

    spec = kt.tool(run, name="database", concurrency_safe=options.read_only)
    return attrs.evolve(spec, configure=lambda given: _build(_options(given, options)))


def _options(given: Mapping[str, Any], current: DatabaseOptions) -> DatabaseOptions:
    known = {f.name for f in attrs.fields(DatabaseOptions)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise kt.errors.ConfigValidationError(
            f"the database tool takes no option(s) {unknown}; it accepts {sorted(known)}",
            path="tools.database",
        )
    return attrs.evolve(current, **given)


def __getattr__(name: str) -> Any:
    """``database``, the tool with the default options, built at first use (PEP 562).

    Building a tool reads its docstring, so a kernel that never offers the tool never pays for
    it: the registration below names it with a :class:`kt.LazySpec`.
    """
    if name != "database":
        raise AttributeError(f"module 'kt_database' has no attribute {name!r}")
    globals()["database"] = spec = _build(DatabaseOptions())
    return spec


@kt.hookimpl
def kt_tools() -> list[kt.LazySpec]:
    return [kt.LazySpec("database", "kt_database:database")]


@kt.hookimpl
def kt_module_aliases() -> dict[str, str]:
    return {"kt_biome.tools.database:DatabaseTool": "kt_database:database"}
