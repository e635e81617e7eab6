"""``json_read``, ``json_write`` and ``scratchpad``: structured data and the creature's notes.

JSON paths use a small dot syntax: ``.`` is the whole document, ``.a.b`` a nested key,
``.items[0].name`` a list element, ``.["odd key"]`` a key with dots or spaces.

The scratchpad is a per-creature map of string keys to string values, kept on the creature's
stash. Every change is published as a :class:`ScratchpadWritten` event, so a session store can
keep it, and replaying those events (emitting them on a fresh creature) restores it: the plugin
applies every ``scratchpad_write`` event it sees to the creature's scratchpad.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs

import kt
from kt.events import Event
from kt_tools.common import FileOptions, configurable, fail, in_thread, resolve_path
from kt_tools.nofollow import open_file, read_file_bytes

# -- JSON paths ---------------------------------------------------------------------------------

_STEP = re.compile(r"\.(?P<key>[^.\[\]]+)|\[(?P<index>-?\d+)\]|\.?\[\"(?P<quoted>[^\"]*)\"\]")
MAX_JSON_CHARS = 50_000


class QueryError(Exception):
    """A JSON path that does not fit the document; the message is for the model."""


def parse_query(query: str) -> list[str | int]:
    """The steps of a dot path: keys (``str``) and list indices (``int``).

    Raises:
        QueryError: text that is not a path.
    """
    query = query.strip()
    if query in ("", "."):
        return []
    if not query.startswith((".", "[")):
        query = "." + query
    steps: list[str | int] = []
    pos = 0
    while pos < len(query):
        match = _STEP.match(query, pos)
        if match is None:
            raise QueryError(
                f"cannot read the path {query!r} at {query[pos:]!r}; use .key, [index] or "
                '.["key with dots"]'
            )
        if match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append(match.group("key") or match.group("quoted") or "")
        pos = match.end()
    return steps


def _describe(steps: list[str | int]) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps) or "."


def get_path(document: Any, steps: list[str | int]) -> Any:
    """The value at *steps*.

    Raises:
        QueryError: a missing key, an index out of range, or a step into a scalar.
    """
    value = document
    for depth, step in enumerate(steps):
        where = _describe(steps[:depth]) or "."
        if isinstance(step, int):
            if not isinstance(value, list):
                raise QueryError(f"{where} is not a list, so [{step}] does not apply")
            if not -len(value) <= step < len(value):
                raise QueryError(f"index [{step}] out of range at {where} (length {len(value)})")
            value = value[step]
        else:
            if not isinstance(value, dict):
                raise QueryError(f"{where} is not an object, so .{step} does not apply")
            if step not in value:
                keys = ", ".join(list(value)[:20]) or "none"
                raise QueryError(f"no key '{step}' at {where}; keys: {keys}")
            value = value[step]
    return value


def set_path(document: Any, steps: list[str | int], new: Any) -> Any:
    """Return *document* with the value at *steps* set to *new*.

    Missing objects on the way are created; list indices must exist.

    Raises:
        QueryError: an index out of range, or a step into a scalar.
    """
    if not steps:
        return new
    parent = document
    for depth, step in enumerate(steps[:-1]):
        following = steps[depth + 1]
        if isinstance(step, int):
            parent = get_path(parent, [step])
        else:
            if not isinstance(parent, dict):
                raise QueryError(f"{_describe(steps[:depth])} is not an object")
            if step not in parent:
                if isinstance(following, int):
                    raise QueryError(f"no list at {_describe(steps[: depth + 1])} to index")
                parent[step] = {}
            parent = parent[step]
    last = steps[-1]
    if isinstance(last, int):
        if not isinstance(parent, list) or not -len(parent) <= last < len(parent):
            raise QueryError(f"index [{last}] does not exist at {_describe(steps[:-1])}")
    elif not isinstance(parent, dict):
        raise QueryError(f"{_describe(steps[:-1])} is not an object")
    parent[last] = new
    return document


def _load_json(path: Path) -> Any:
    return json.loads(read_file_bytes(path).decode("utf-8"))


def _json_read(options: FileOptions) -> kt.ToolSpec:
    @kt.tool(name="json_read")
    async def json_read(path: str, query: str = ".", ctx: kt.ToolContext = None) -> kt.ToolResult:
        """Read a JSON file, or one part of it by path, e.g. ".dependencies" or ".items[0]".

        Args:
            path: The JSON file.
            query: The part to show: "." (whole), ".a.b", ".list[0].name", '.["a.b"]'.
            ctx: Injected by the kernel.
        """
        resolved = resolve_path(ctx, path, options)
        if isinstance(resolved, kt.ToolResult):
            return resolved
        if not resolved.is_file():
            return fail(f"File not found: {resolved}")
        try:
            document = await in_thread(_load_json, resolved)
            value = get_path(document, parse_query(query))
        except json.JSONDecodeError as exc:
            return fail(f"Invalid JSON in {resolved}: {exc}")
        except QueryError as exc:
            return fail(f"Query failed: {exc}")
        except (OSError, UnicodeDecodeError) as exc:
            return fail(f"cannot read {resolved}: {exc}")
        if isinstance(value, dict | list):
            text = json.dumps(value, indent=2, ensure_ascii=False)
        else:
            text = json.dumps(value) if value is None or isinstance(value, bool) else str(value)
        if len(text) > MAX_JSON_CHARS:
            text = (
                f"{text[:MAX_JSON_CHARS]}\n... (truncated, {len(text)} chars; query a smaller part)"
            )
        return kt.ToolResult(output=text)

    return json_read


def _write_json(path: Path, steps: list[str | int], value: Any) -> None:
    document = _load_json(path) if path.exists() else {}
    document = set_path(document, steps, value)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    with open_file(path, "wb", make_parents=True) as f:
        f.write(text.encode("utf-8"))


def _json_write(options: FileOptions) -> kt.ToolSpec:
    @kt.tool(name="json_write", concurrency_safe=False, body_arg="value")
    async def json_write(
        path: str,
        query: str = ".",
        value: Any = None,
        content: Any = None,
        ctx: kt.ToolContext = None,
    ) -> kt.ToolResult:
        """Set one value in a JSON file (creating the file and missing objects as needed).

        Args:
            path: The JSON file.
            query: Where to write: "." replaces the whole document; ".a.b" or ".list[0]".
            value: The new value: JSON (a string is parsed as JSON when it is valid JSON).
            content: Same as value.
            ctx: Injected by the kernel.
        """
        new = value if value is not None else content
        if new is None or new == "":
            return fail("Value is required: give value (JSON) to write at the query")
        if isinstance(new, str):
            try:
                new = json.loads(new)
            except json.JSONDecodeError:
                pass  # a plain string value
        resolved = resolve_path(ctx, path, options)
        if isinstance(resolved, kt.ToolResult):
            return resolved
        try:
            await in_thread(_write_json, resolved, parse_query(query), new)
        except json.JSONDecodeError as exc:
            return fail(f"Invalid JSON in {resolved}: {exc}; fix the file or replace it")
        except QueryError as exc:
            return fail(f"Query failed: {exc}")
        except (OSError, UnicodeDecodeError) as exc:
            return fail(f"cannot write {resolved}: {exc}")
        return kt.ToolResult(output=f"Updated {resolved} at '{query}'")

    return json_write


json_read = configurable(_json_read, FileOptions(), "json_read")
json_write = configurable(_json_write, FileOptions(), "json_write")

# -- scratchpad ---------------------------------------------------------------------------------

_PAD = kt.StashKey[dict[str, str]]()
_RESERVED = re.compile(r"^__.*__$")


@attrs.frozen(kw_only=True)
class ScratchpadWritten(Event):
    """The scratchpad changed.

    Attributes:
        action: ``set``, ``delete`` or ``clear``.
        key: The key (empty for ``clear``).
        value: The new value (``set`` only).
    """

    type: ClassVar[str] = "scratchpad_write"
    action: str
    key: str = ""
    value: str = ""


def scratchpad_of(agent: Any) -> dict[str, str]:
    """The creature's scratchpad (a live dict; change it through the tool or events)."""
    return agent.stash.setdefault(_PAD, {})


def apply_scratchpad_event(agent: Any, event: ScratchpadWritten) -> None:
    """Apply one change to *agent*'s scratchpad (idempotent, so replays are safe)."""
    pad = scratchpad_of(agent)
    if event.action == "set":
        pad[event.key] = event.value
    elif event.action == "delete":
        pad.pop(event.key, None)
    elif event.action == "clear":
        pad.clear()


@kt.tool(name="scratchpad", body_arg="value")
async def scratchpad(
    action: Literal["get", "set", "delete", "list", "clear"] = "get",
    key: str | None = None,
    value: str | None = None,
    ctx: kt.ToolContext = None,
) -> kt.ToolResult:
    """Keep notes between turns: a small key-value store of text that only you see.

    Args:
        action: get (default), set, delete, list (the keys) or clear (everything).
        key: The note's name (for get, set, delete).
        value: The text to store (for set).
        ctx: Injected by the kernel.
    """
    pad = scratchpad_of(ctx.agent)
    if action in ("get", "set", "delete"):
        if not key:
            return fail(f"{action} needs a key")
        if _RESERVED.match(key):
            return fail(f"keys like '{key}' (__name__) are reserved; choose another key")
    if action == "list":
        keys = [k for k in pad if not _RESERVED.match(k)]
        return kt.ToolResult(output="\n".join(f"- {k}" for k in keys) or "(empty)")
    if action == "get":
        return kt.ToolResult(output=pad[key] if key in pad else f"Key '{key}' not found")
    if action == "delete" and key not in pad:
        return kt.ToolResult(output=f"Key '{key}' not found")
    if action == "set" and value is None:
        return fail("set needs a value")
    event = ScratchpadWritten(action=action, key=key or "", value=value or "")
    apply_scratchpad_event(ctx.agent, event)
    await ctx.agent.emit(event)
    if action == "set":
        return kt.ToolResult(output=f"Set '{key}'")
    if action == "delete":
        return kt.ToolResult(output=f"Deleted '{key}'")
    return kt.ToolResult(output="Scratchpad cleared")


__all__ = [
    "ScratchpadWritten",
    "apply_scratchpad_event",
    "json_read",
    "json_write",
    "scratchpad",
    "scratchpad_of",
]
