"""kt_database: the database tool against a real SQLite file the config chooses."""

from __future__ import annotations

import sqlite3

import kt
import kt_database
from kt.testing import ScriptedLLM, ToolCall


async def run_sql(tmp_path, calls, **options) -> list:
    config = {"name": "db", "tools": [{"name": "database", **options}]}
    llm = ScriptedLLM([*calls, "done"])
    async with await kt.Agent.build(
        config, llm=llm, kernel=kt.Kernel(plugins=[kt_database]), pwd=tmp_path
    ) as agent:
        result = await agent.run("go")
    return result.tool_calls


async def test_create_insert_and_select_with_parameters(tmp_path):
    records = await run_sql(
        tmp_path,
        [
            ToolCall("database", {"query": "CREATE TABLE t (name TEXT, n INT)"}),
            ToolCall(
                "database",
                {"query": "INSERT INTO t VALUES (?, ?), (?, ?)", "params": ["a|b", 1, "c", None]},
            ),
            ToolCall("database", {"query": "SELECT * FROM t ORDER BY name"}),
        ],
    )
    assert records[1].output == "OK: 2 row(s) changed."
    assert records[2].output == "| name | n |\n|---|---|\n| a\\|b | 1 |\n| c | NULL |"
    with sqlite3.connect(tmp_path / "data.sqlite") as connection:
        assert connection.execute("SELECT count(*) FROM t").fetchone() == (2,)


async def test_read_only_refuses_changes_and_rows_are_capped(tmp_path):
    with sqlite3.connect(tmp_path / "shop.sqlite") as connection:
        connection.execute("CREATE TABLE items (id INT)")
        connection.executemany("INSERT INTO items VALUES (?)", [(i,) for i in range(5)])
    records = await run_sql(
        tmp_path,
        [
            ToolCall("database", {"query": "DELETE FROM items"}),
            ToolCall("database", {"query": "SELECT id FROM items"}),
        ],
        path="shop.sqlite",
        read_only=True,
        max_rows=2,
    )
    assert records[0].status == "error" and "read-only" in records[0].error
    assert records[1].output.endswith(
        "(3 more row(s) not shown; add LIMIT/OFFSET or narrow the query)"
    )


async def test_an_unknown_option_is_refused(tmp_path):
    import pytest

    with pytest.raises(kt.errors.ConfigValidationError, match="takes no option"):
        await run_sql(tmp_path, [], file="x.db")
