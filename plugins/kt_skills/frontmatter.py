"""SKILL.md front matter: the ``---`` block of YAML at the top of a skill file.

PyYAML reads it when it is installed (``pip install 'kt-terrarium[yaml]'``); otherwise a small
reader handles the YAML that skill files use: ``key: value`` scalars (plain, quoted, booleans,
numbers, null), nested mappings by indentation, ``- item`` lists, ``[a, b]`` inline lists,
``|`` / ``>`` block text, and ``#`` comments. Anything else is a :class:`SkillFormatError`.
"""

from __future__ import annotations

import re
from typing import Any

from kt.errors import KTError

__all__ = ["SkillFormatError", "parse_yaml_subset", "split_front_matter"]

_KEY = re.compile(r"^(?P<key>[^\s:#'\"][^:#]*?|'[^']*'|\"[^\"]*\")\s*:(?:\s+(?P<value>.*))?$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class SkillFormatError(KTError):
    """A skill file cannot be read: bad front matter. The message names the file and line."""


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split a skill file into its front matter (a dict) and its body.

    A file that does not start with a ``---`` line has no front matter: ``({}, text)``.

    Raises:
        SkillFormatError: the block is not closed, is not valid YAML, or is not a mapping.
    """
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        raise SkillFormatError("the front matter opened with '---' is never closed by '---'")
    header = "".join(lines[1:end])
    body = "".join(lines[end + 1 :]).lstrip("\n")
    data = _load(header)
    if data is None:
        return {}, body
    if not isinstance(data, dict):
        raise SkillFormatError(f"the front matter must be a mapping, not {type(data).__name__}")
    return data, body


def _load(header: str) -> Any:
    try:
        import yaml
    except ImportError:
        return parse_yaml_subset(header)
    try:
        return yaml.safe_load(header)
    except yaml.YAMLError as exc:
        raise SkillFormatError(f"invalid YAML in the front matter: {exc}") from None


def parse_yaml_subset(text: str) -> dict[str, Any] | None:
    """Parse the YAML subset described in the module docs (``None`` for an empty document).

    Raises:
        SkillFormatError: naming the line that could not be read.
    """
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.strip() and not raw.lstrip().startswith("#"):
            lines.append((number, len(raw) - len(raw.lstrip(" ")), raw.rstrip()))
    if not lines:
        return None
    value, index = _block(lines, 0, lines[0][1], text.splitlines())
    if index != len(lines):
        raise SkillFormatError(f"line {lines[index][0]}: unexpected indentation")
    return value


def _block(lines: list, index: int, indent: int, raw_lines: list[str]) -> tuple[Any, int]:
    if lines[index][2].lstrip().startswith("- ") or lines[index][2].strip() == "-":
        return _sequence(lines, index, indent, raw_lines)
    return _mapping(lines, index, indent, raw_lines)


def _mapping(lines: list, index: int, indent: int, raw_lines: list[str]) -> tuple[dict, int]:
    result: dict[str, Any] = {}
    while index < len(lines):
        number, current, text = lines[index]
        if current < indent:
            break
        if current > indent:
            raise SkillFormatError(f"line {number}: unexpected indentation")
        match = _KEY.match(text.strip())
        if match is None:
            raise SkillFormatError(f"line {number}: expected 'key: value', got {text.strip()!r}")
        key = _unquote(match["key"])
        value = _strip_comment(match["value"] or "")
        index += 1
        if value in ("|", ">", "|-", ">-", "|+", ">+"):
            result[key], index = _block_text(lines, index, indent, value, raw_lines)
        elif value:
            result[key] = _scalar(value, number)
        elif index < len(lines) and lines[index][1] > indent:
            result[key], index = _block(lines, index, lines[index][1], raw_lines)
        elif (
            index < len(lines)
            and lines[index][1] == indent
            and lines[index][2].lstrip()[:2] == "- "
        ):
            result[key], index = _sequence(lines, index, indent, raw_lines)  # "key:\n- a"
        else:
            result[key] = None
    return result, index


def _sequence(lines: list, index: int, indent: int, raw_lines: list[str]) -> tuple[list, int]:
    items: list[Any] = []
    while index < len(lines):
        number, current, text = lines[index]
        stripped = text.strip()
        if current != indent or not (stripped.startswith("- ") or stripped == "-"):
            if current > indent:
                raise SkillFormatError(f"line {number}: unexpected indentation")
            break
        item = _strip_comment(stripped[1:].strip())
        index += 1
        if _KEY.match(item) and not item.startswith(("'", '"', "[")):
            # "- key: value" starts a mapping item; its other keys are indented further
            sub = [(number, current + 2, " " * (current + 2) + item)]
            while index < len(lines) and lines[index][1] > current:
                sub.append(lines[index])
                index += 1
            value, _ = _mapping(sub, 0, current + 2, raw_lines)
            items.append(value)
        else:
            items.append(_scalar(item, number) if item else None)
    return items, index


def _block_text(
    lines: list, index: int, indent: int, style: str, raw_lines: list[str]
) -> tuple[str, int]:
    if index >= len(lines) or lines[index][1] <= indent:
        return "", index
    first, inner = lines[index][0], lines[index][1]
    last = first
    while index < len(lines) and lines[index][1] >= inner:
        last = lines[index][0]
        index += 1
    block = [line[inner:] if len(line) > inner else "" for line in raw_lines[first - 1 : last]]
    if style.startswith("|"):
        text = "\n".join(block)
    else:  # folded: lines of a paragraph join with spaces; paragraphs with a newline
        paragraphs = re.split(r"\n\s*\n", "\n".join(block))
        text = "\n".join(" ".join(p.split("\n")) for p in paragraphs)
    return text + ("\n" if not style.endswith("-") else ""), index


def _strip_comment(value: str) -> str:
    if value.startswith(("'", '"')):
        return value
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        if text[0] == "'":
            return inner.replace("''", "'")
        escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
        return re.sub(r"\\(.)", lambda m: escapes.get(m[1], m[0]), inner)
    return text.strip()


def _scalar(value: str, number: int) -> Any:
    value = value.strip()
    if value.startswith("[") or value.startswith("{"):
        if value.startswith("{") or not value.endswith("]"):
            raise SkillFormatError(f"line {number}: only [a, b] inline lists are understood here")
        inner = value[1:-1].strip()
        return [_scalar(v, number) for v in _split_inline(inner)] if inner else []
    if value[:1] in "'\"":
        if len(value) < 2 or value[-1] != value[0]:
            raise SkillFormatError(f"line {number}: unterminated quoted string")
        return _unquote(value)
    lowered = value.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("null", "~"):
        return None
    if _NUMBER.match(value):
        return float(value) if any(c in value for c in ".eE") else int(value)
    return value


def _split_inline(inner: str) -> list[str]:
    parts, current, quote = [], [], ""
    for ch in inner:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == ",":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]
