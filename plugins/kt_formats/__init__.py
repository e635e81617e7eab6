"""Text tool-call formats, for models without native function calling.

Two formats, chosen per creature with ``tool_format`` in ``[controller]``:

* ``bracket`` (:class:`BracketFormat`): ``[/name]`` ``@@key=value`` lines, a body, ``[name/]``.
* ``xml`` (:class:`XMLFormat`): ``<name key="value">body</name>`` or ``<name key="value"/>``.

Each teaches the model its markup in the system prompt and parses replies as they stream:
plain text goes out as soon as it cannot be part of a call, closed blocks become
:class:`kt.ToolCall` objects with string arguments (the kernel converts them using the tool's
schema), and a block left open at the end of a reply is plain text. See
``docs/reference/tool-formats.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import kt

if TYPE_CHECKING:  # each format's module loads when a creature first uses it
    from kt_formats.bracket import BracketFormat
    from kt_formats.xml import XMLFormat

__all__ = ["BracketFormat", "XMLFormat"]


def __getattr__(name: str) -> Any:
    if name == "BracketFormat":
        from kt_formats.bracket import BracketFormat

        return BracketFormat
    if name == "XMLFormat":
        from kt_formats.xml import XMLFormat

        return XMLFormat
    raise AttributeError(f"module 'kt_formats' has no attribute {name!r}")


def _bracket() -> BracketFormat:
    from kt_formats.bracket import BracketFormat

    return BracketFormat()


def _xml() -> XMLFormat:
    from kt_formats.xml import XMLFormat

    return XMLFormat()


@kt.hookimpl
def kt_tool_formats() -> list[kt.ToolFormatSpec]:
    """Contribute the ``bracket`` and ``xml`` formats."""
    return [
        kt.ToolFormatSpec(
            "bracket",
            _bracket,
            "[/name] @@key=value lines, body, [name/]: for models without function calling",
        ),
        kt.ToolFormatSpec(
            "xml",
            _xml,
            '<name key="value">body</name>: for models without function calling',
        ),
    ]
