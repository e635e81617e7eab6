"""The one cattrs converter that gives every Studio value (and every HTTP body) its shape.

Frozen attrs classes unstructure to plain JSON-ready data; paths become strings, exceptions
``{"type", "message"}``, tuples lists. Request bodies are structured with the same converter,
so a body and the value it carries never disagree about field names.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

__all__ = ["converter", "message_data", "unstructure"]


@functools.cache
def converter() -> Any:
    """The shared converter (built on first use)."""
    import cattrs

    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_unstructure_hook(Path, str)
    conv.register_structure_hook(Path, lambda value, _: Path(value))

    def unstructure_error(exc: BaseException | None) -> Any:
        return None if exc is None else {"type": type(exc).__name__, "message": str(exc)}

    conv.register_unstructure_hook(BaseException, unstructure_error)
    return conv


def unstructure(value: Any) -> Any:
    """*value* as plain data (attrs classes, lists and dicts of them, paths, errors)."""
    return converter().unstructure(value)


def message_data(message: Any) -> dict[str, Any]:
    """A ``kt.Message`` as plain data (role, content, tool calls, tool call id, name, meta)."""
    return unstructure(message)
