"""The XML format: ``<name key="value">body</name>`` or ``<name key="value"/>``.

::

    <write path="notes.txt">
    First line of the file.
    </write>

Attributes are the arguments: ``key="value"``, double quotes only, separated by whitespace;
``&quot;`` ``&amp;`` ``&lt;`` ``&gt;`` ``&apos;`` in values are decoded (any other ``&`` stays as
written) and a raw ``<`` in a value is not allowed, as in XML. The body runs to ``</name>``, is
stripped, and fills the tool's body argument (the parser's ``body_args`` entry for the tool,
else ``content``); an attribute with the body's key wins over the body.

A ``<`` followed by anything but a letter is plain text at once (``Use < for less than``). A
``<`` followed by a letter may be a tag, so text after it is held until the tag is complete or
impossible; a complete tag with no closing tag by the end of the reply is released as text.
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

__all__ = ["XMLFormat", "decode_entities"]

_ENTITIES = {"quot": '"', "amp": "&", "lt": "<", "gt": ">", "apos": "'"}
_ENTITY = re.compile(r"&(quot|amp|lt|gt|apos);")
_ATTR_START = NAME_START | {"_"}
_ATTR_CHARS = NAME_CHARS | {":"}
_SPACE = frozenset(" \t\r\n")

_TEACHING = """\
## Calling tools

To call a tool, write an element like this in your reply:

<tool_name argument="value" other_argument="value">
body text, as many lines as needed
</tool_name>

or, without a body: <tool_name argument="value"/>

- Arguments are attributes in double quotes; inside a value write &quot; for ", &amp; for &, \
&lt; for < and &gt; for >.
- The text between the opening and closing tags is the body; it fills the parameter named \
under "Block body" below.
- One element is one call. Elements do not nest; you may write several in one reply.
- {value_rules}
- The results come back to you after your reply.

## Tools

{tools}"""


def decode_entities(value: str) -> str:
    """Decode the five XML entities in an attribute value, in one pass (``&amp;lt;`` → ``&lt;``).

    Args:
        value: The raw attribute value.

    Returns:
        The value with ``&quot;`` ``&amp;`` ``&lt;`` ``&gt;`` ``&apos;`` replaced.
    """
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(1)], value)


class _XMLSyntax:
    opener = "<"

    def new_scanner(self) -> _TagScanner:
        return _TagScanner()

    def closing_marker(self, name: str) -> str:
        return f"</{name}>"

    def build_call(self, marker: OpenMarker, body: str, body_arg: str) -> kt.ToolCall:
        return kt.ToolCall(marker.name, merge_args(marker.args, body.strip(), body_arg))


class _TagScanner:
    """Reads ``name key="value" ...>`` or ``.../>`` after a ``<``, one character at a time."""

    def __init__(self) -> None:
        self._state = self._tag_name_start
        self._name = ""
        self._attr = ""
        self._value = ""
        self._args: dict[str, str] = {}

    def step(self, char: str) -> Scan | OpenMarker:
        return self._state(char)

    def _tag_name_start(self, char: str) -> Scan | OpenMarker:
        if char not in NAME_START:
            return Scan.REJECT
        self._name = char
        self._state = self._tag_name
        return Scan.MORE

    def _tag_name(self, char: str) -> Scan | OpenMarker:
        if char in NAME_CHARS and len(self._name) < MAX_NAME_LENGTH:
            self._name += char
            return Scan.MORE
        if char in _SPACE:
            self._state = self._between_attrs
            return Scan.MORE
        return self._tag_end(char)

    def _between_attrs(self, char: str) -> Scan | OpenMarker:
        if char in _SPACE:
            return Scan.MORE
        if char in _ATTR_START:
            self._attr = char
            self._state = self._attr_name
            return Scan.MORE
        return self._tag_end(char)

    def _attr_name(self, char: str) -> Scan | OpenMarker:
        if char in _ATTR_CHARS:
            self._attr += char
            return Scan.MORE
        if char in _SPACE:
            self._state = self._before_equals
            return Scan.MORE
        return self._equals(char)

    def _before_equals(self, char: str) -> Scan | OpenMarker:
        return Scan.MORE if char in _SPACE else self._equals(char)

    def _equals(self, char: str) -> Scan | OpenMarker:
        if char != "=":
            return Scan.REJECT
        self._state = self._before_value
        return Scan.MORE

    def _before_value(self, char: str) -> Scan | OpenMarker:
        if char in _SPACE:
            return Scan.MORE
        if char != '"':
            return Scan.REJECT
        self._value = ""
        self._state = self._value_chars
        return Scan.MORE

    def _value_chars(self, char: str) -> Scan | OpenMarker:
        if char == "<":  # not allowed raw in XML values; also keeps "<" a place to resync
            return Scan.REJECT
        if char != '"':
            self._value += char
            return Scan.MORE
        self._args[self._attr] = decode_entities(self._value)
        self._state = self._after_value
        return Scan.MORE

    def _after_value(self, char: str) -> Scan | OpenMarker:
        if char in _SPACE:
            self._state = self._between_attrs
            return Scan.MORE
        return self._tag_end(char)

    def _tag_end(self, char: str) -> Scan | OpenMarker:
        if char == ">":
            return OpenMarker(self._name, self._args)
        if char == "/":
            self._state = self._self_closing
            return Scan.MORE
        return Scan.REJECT

    def _self_closing(self, char: str) -> Scan | OpenMarker:
        if char == ">":
            return OpenMarker(self._name, self._args, self_closing=True)
        return Scan.REJECT


class XMLFormat(TextFormat):
    """Tool calls written as XML-like elements, arguments as attributes."""

    name = "xml"
    teaching = _TEACHING
    syntax = _XMLSyntax
