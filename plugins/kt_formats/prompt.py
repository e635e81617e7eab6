"""The tool listing both text formats put in the system prompt.

The listing is built only from each tool's name, description, JSON schema and body argument,
sorted by tool name, so the same tools always give byte-identical text (prompt caches and
snapshot tests depend on that).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import kt
from kt_formats.stream import DEFAULT_BODY_ARG, BlockStreamParser

VALUE_RULES = (
    "Argument values are plain text. Write numbers and booleans as they are (`42`, `true`), "
    "lists and objects as JSON; they are converted to the parameter's type."
)


def body_arg_of(tool: kt.ToolSpec) -> str | None:
    """The parameter a block body fills for *tool*, or ``None`` when there is none to fill.

    This follows the kernel's choice of ``body_args``: the tool's ``body_arg``; else its only
    required string parameter; else ``content``, which is only worth mentioning when the tool
    has such a parameter.

    Args:
        tool: The tool.

    Returns:
        The parameter's name, or ``None``.
    """
    arg = tool.text_body_arg  # the kernel's rule, in one place
    if arg == DEFAULT_BODY_ARG and not tool.body_arg and DEFAULT_BODY_ARG not in _properties(tool):
        return None
    return arg


def describe_tools(tools: Sequence[kt.ToolSpec]) -> str:
    """List *tools* for the model: description, parameters with type and whether required.

    Args:
        tools: The tools offered; any order.

    Returns:
        Markdown, one ``###`` section per tool, sorted by name.
    """
    return "\n\n".join(_describe_tool(tool) for tool in sorted(tools, key=lambda t: t.name))


def _describe_tool(tool: kt.ToolSpec) -> str:
    lines = [f"### {tool.name}"]
    if tool.description.strip():
        lines.append(tool.description.strip())
    properties = _properties(tool)
    required = set(tool.parameters.get("required", ()))
    if properties:
        lines.append("Parameters:")
        for name, schema in properties.items():
            needed = "required" if name in required else "optional"
            line = f"- {name} ({describe_type(schema)}, {needed})"
            description = schema.get("description", "") if isinstance(schema, Mapping) else ""
            if description:
                line += f": {' '.join(str(description).split())}"
            lines.append(line)
    else:
        lines.append("Parameters: none")
    body_arg = body_arg_of(tool)
    if body_arg is not None:
        lines.append(f"Block body: fills `{body_arg}`.")
    return "\n".join(lines)


def _properties(tool: kt.ToolSpec) -> Mapping[str, Any]:
    properties = tool.parameters.get("properties", {})
    return properties if isinstance(properties, Mapping) else {}


def describe_type(schema: Any) -> str:
    """A short type name for a JSON schema: ``string``, ``array of integer``, ``one of "a"``.

    Args:
        schema: A property's JSON schema.

    Returns:
        The type as the model should read it; ``any`` when the schema does not say.
    """
    if not isinstance(schema, Mapping):
        return "any"
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(value) for value in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind == "array" and isinstance(schema.get("items"), Mapping) and schema["items"]:
        return f"array of {describe_type(schema['items'])}"
    if kind:
        return str(kind)
    for combinator in ("anyOf", "oneOf"):
        if isinstance(schema.get(combinator), list):
            return " or ".join(describe_type(option) for option in schema[combinator])
    return "any"


class TextFormat:
    """What the bracket and XML formats share: teach a markup, list the tools, parse replies.

    Subclasses set ``name``, ``teaching`` (a template with ``{value_rules}`` and ``{tools}``)
    and ``syntax`` (a zero-argument factory of the markup's scanner).
    """

    name: str
    native = False
    teaching: str
    syntax: Any

    def prompt_section(self, tools: Sequence[kt.ToolSpec]) -> str:
        """Teach the format and list *tools*.

        Args:
            tools: The tools offered to the model.

        Returns:
            The system-prompt section (``""`` when there are no tools); the same tools always
            give the same text.
        """
        if not tools:
            return ""
        return self.teaching.format(value_rules=VALUE_RULES, tools=describe_tools(tools))

    def new_parser(self, body_args: Mapping[str, str]) -> kt.StreamParser:
        """A parser for one reply.

        Args:
            body_args: Tool name to the argument a block body fills; others use ``content``.

        Returns:
            A fresh :class:`kt.StreamParser`.
        """
        return BlockStreamParser(self.syntax(), body_args)
