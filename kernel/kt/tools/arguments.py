"""Checking a tool call's arguments against its schema, then turning them into Python values.

:func:`validate_arguments` runs for every call, before the tool: it parses JSON text, checks the
arguments against the schema, fills in defaults and (for text tool-call formats, where every
value arrives as a string) converts strings to the declared types. All problems are reported
together, one line each, so the model can fix the call in one go. :func:`structure_arguments`
then turns the validated JSON values into what the annotations ask for: ``Enum`` members,
tuples, sets, paths and dataclass / attrs instances.

Only the subset of JSON schema that :func:`kt.tools.schema.derive_schema` produces is
understood: ``type`` (a name or a list of names), ``properties``, ``required``,
``additionalProperties`` (``false`` or a schema), ``enum``, ``items``, ``prefixItems``,
``minItems`` / ``maxItems``, ``anyOf`` and ``default``. Other keywords are ignored.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import json
import math
import re
import typing
import weakref
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

import attrs

from kt.errors import ToolArgumentError
from kt.tools.schema import (
    ARRAY_TYPES,
    MAPPING_TYPES,
    NONE_TYPES,
    SET_TYPES,
    UnsupportedType,
    class_fields,
    is_union,
    json_type_of,
    resolve_hints,
    type_schema,
    unwrap,
)

__all__ = ["structure_arguments", "validate_arguments"]


# -- Validating arguments -----------------------------------------------------------------------


def validate_arguments(
    schema: Mapping[str, Any], args: Mapping[str, Any] | str, *, coerce_strings: bool = False
) -> dict[str, Any]:
    """Check a call's arguments against a tool's parameters schema.

    Missing required arguments, wrong types (``bool`` is not an integer; an integer is a
    number), values outside an ``enum`` and unknown arguments are all reported, together, one
    line each, naming the argument by its path (``tags[1]``, ``filter.name``). Missing optional
    arguments that declare a ``default`` are filled in. A ``null`` for an optional argument
    that does not accept null counts as leaving it out. An empty string is an empty object
    (providers send ``""`` for calls without arguments).

    Args:
        schema: The tool's parameters schema (as :func:`derive_schema` builds it).
        args: The arguments as a mapping, or as the JSON text a model produced.
        coerce_strings: Convert string values to the declared type: ``"true"``/``"yes"``/``"1"``
            and ``"false"``/``"no"``/``"0"`` to booleans, ``"50"`` to 50, ``"2.5"`` to 2.5, JSON
            text to arrays and objects. Text tool-call formats deliver every value as a string.

    Returns:
        A new dict of validated arguments (the input is never modified).

    Raises:
        ToolArgumentError: when the text is not JSON, is not a JSON object, or the arguments do
            not match the schema; the message is written for the model to correct its call.
    """
    if isinstance(args, str):
        args = _parse_json_arguments(args)
    if not isinstance(args, Mapping):
        raise ToolArgumentError(
            f"arguments must be a JSON object with one key per parameter, got "
            f"{_describe_value(args)}"
        )
    validator = _Validator(coerce_strings)
    validated = validator.check_object(args, schema, "")
    if validator.problems:
        raise ToolArgumentError("\n".join(validator.problems))
    return validated


def _parse_json_arguments(text: str) -> Any:
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolArgumentError(
            f"invalid JSON arguments: {exc.msg} at line {exc.lineno} column {exc.colno}; send "
            'the arguments as one JSON object, e.g. {"name": "value"}'
        ) from None


_TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "no", "0"})
_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")


class _Validator:
    """One validation pass: checks values, returns converted copies, collects problems."""

    def __init__(self, coerce_strings: bool) -> None:
        self.coerce_strings = coerce_strings
        self.problems: list[str] = []

    def check(self, value: Any, schema: Mapping[str, Any], path: str) -> Any:
        """Return *value* checked against *schema* (converted where needed)."""
        if not schema:
            return value
        if "anyOf" in schema:
            return self._check_any_of(value, schema, path)
        kinds = _schema_types(schema)
        if kinds is not None:
            ok, value = self._check_type(value, kinds, schema, path)
            if not ok:
                return value
        if "enum" in schema:
            ok, value = self._check_enum(value, schema, path)
            if not ok:
                return value
        if isinstance(value, Mapping):
            return self.check_object(value, schema, path)
        if isinstance(value, list | tuple):
            return self._check_array(value, schema, path)
        return value

    def check_object(self, value: Mapping[str, Any], schema: Mapping[str, Any], path: str) -> dict:
        """Check the properties of an object; fill in defaults of missing optional ones."""
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = list(schema.get("required", ()))
        extra = schema.get("additionalProperties", True)

        for name in required:
            if name not in value:
                self.problems.append(f"missing required argument '{_join(path, name)}'")

        result: dict[str, Any] = {}
        for name, item in value.items():
            child = _join(path, name)
            if name in properties:
                prop = properties[name]
                if item is None and name not in required and not _accepts_null(prop):
                    continue  # null for an optional argument means "leave it out"
                result[name] = self.check(item, prop, child)
            elif extra is False:
                self.problems.append(_unknown_argument(path, name, properties))
            elif isinstance(extra, Mapping):
                result[name] = self.check(item, extra, child)
            else:
                result[name] = item

        for name, prop in properties.items():
            if name not in result and name not in required and "default" in prop:
                result[name] = copy.deepcopy(prop["default"])
        return result

    def _check_type(
        self, value: Any, kinds: list[str], schema: Mapping[str, Any], path: str
    ) -> tuple[bool, Any]:
        for kind in kinds:
            if _is_json_type(value, kind):  # 5.0 is an integer in JSON schema; give the tool 5
                return True, int(value) if kind == "integer" and isinstance(value, float) else value
        if self.coerce_strings and isinstance(value, str):
            for kind in kinds:
                converted, ok = _coerce_text(value, kind)
                if ok:
                    return True, converted
            self.problems.append(
                f"argument '{path}' should be {_describe_schema(schema)}; the text "
                f"{_short(value)} cannot be read as one"
            )
            return False, value
        self.problems.append(
            f"argument '{path}' should be {_describe_schema(schema)}, got {_describe_value(value)}"
        )
        return False, value

    def _check_enum(self, value: Any, schema: Mapping[str, Any], path: str) -> tuple[bool, Any]:
        options = schema["enum"]
        if _in_enum(value, options):
            return True, value
        if self.coerce_strings and isinstance(value, str):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value
            if _in_enum(parsed, options):
                return True, parsed
        choices = ", ".join(_short(option) for option in options)
        self.problems.append(f"argument '{path}' should be one of {choices}; got {_short(value)}")
        return False, value

    def _check_any_of(self, value: Any, schema: Mapping[str, Any], path: str) -> Any:
        # Exact matches win over conversions: for ``int | str`` the text "5" stays a string.
        attempts = (False, True) if self.coerce_strings else (False,)
        for coerce in attempts:
            for alternative in schema["anyOf"]:
                trial = _Validator(coerce)
                converted = trial.check(value, alternative, path)
                if not trial.problems:
                    return converted
        self.problems.append(
            f"argument '{path}' should be {_describe_schema(schema)}, got {_describe_value(value)}"
        )
        return value

    def _check_array(self, value: list | tuple, schema: Mapping[str, Any], path: str) -> list:
        prefix = schema.get("prefixItems", ())
        items = schema.get("items", True)
        low, high = schema.get("minItems"), schema.get("maxItems")
        if items is False and high is None:
            high = len(prefix)
        if low is not None and high is not None and low == high and len(value) != low:
            self.problems.append(
                f"argument '{path}' should have exactly {low} items, got {len(value)}"
            )
        elif low is not None and len(value) < low:
            self.problems.append(f"argument '{path}' should have at least {low} items")
        elif high is not None and len(value) > high:
            self.problems.append(f"argument '{path}' should have at most {high} items")

        result = []
        for index, item in enumerate(value):
            child = f"{path}[{index}]"
            if index < len(prefix):
                result.append(self.check(item, prefix[index], child))
            elif isinstance(items, Mapping):
                result.append(self.check(item, items, child))
            else:
                result.append(item)
        return result


def _schema_types(schema: Mapping[str, Any]) -> list[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return [kind] if isinstance(kind, str) else list(kind)


def _is_json_type(value: Any, kind: str) -> bool:
    actual = json_type_of(value)
    if kind == "number":
        return actual in ("integer", "number")
    if kind == "integer":
        is_whole_float = actual == "number" and math.isfinite(value) and value.is_integer()
        return actual == "integer" or is_whole_float
    return actual == kind


def _coerce_text(text: str, kind: str) -> tuple[Any, bool]:
    """Read *text* as a value of JSON type *kind*; ``(value, True)`` on success."""
    stripped = text.strip()
    if kind == "string":
        return text, True
    if kind == "boolean":
        word = stripped.lower()
        if word in _TRUE_WORDS:
            return True, True
        if word in _FALSE_WORDS:
            return False, True
        return None, False
    if kind == "null":
        return None, stripped.lower() == "null"
    if kind in ("integer", "number"):
        if _INTEGER_TEXT.match(stripped):
            return int(stripped), True
        try:
            number = float(stripped)
        except ValueError:
            return None, False
        if not math.isfinite(number):
            return None, False
        if kind == "integer":
            return (int(number), True) if number.is_integer() else (None, False)
        return number, True
    if kind in ("array", "object"):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            return None, False
        return parsed, json_type_of(parsed) == kind
    return None, False


def _in_enum(value: Any, options: list[Any]) -> bool:
    # ``True == 1`` in Python, but a boolean is not the number 1 in JSON.
    return any(
        isinstance(value, bool) == isinstance(option, bool) and value == option
        for option in options
    )


def _accepts_null(schema: Mapping[str, Any]) -> bool:
    if not schema:
        return True
    if "anyOf" in schema:
        return any(_accepts_null(alternative) for alternative in schema["anyOf"])
    kinds = _schema_types(schema)
    if kinds is not None:
        return "null" in kinds
    return None in schema.get("enum", ())


def _join(path: str, key: str) -> str:
    if not path:
        return key
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _unknown_argument(path: str, name: str, properties: Mapping[str, Any]) -> str:
    accepted = ", ".join(properties)
    if not path:
        if not accepted:
            return f"unknown argument '{name}'; this tool takes no arguments"
        return f"unknown argument '{name}'; accepted arguments: {accepted}"
    if not accepted:
        return f"unknown field '{name}' in argument '{path}', which takes no fields"
    return f"unknown field '{name}' in argument '{path}'; accepted fields: {accepted}"


_ARTICLES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


def _describe_schema(schema: Mapping[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_describe_schema(alternative) for alternative in schema["anyOf"])
    kinds = _schema_types(schema)
    if kinds is None:
        if "enum" in schema:
            return "one of " + ", ".join(_short(option) for option in schema["enum"])
        return "any value"
    described = []
    for kind in kinds:
        text = _ARTICLES.get(kind, kind)
        items = schema.get("items")
        if kind == "array" and isinstance(items, Mapping) and isinstance(items.get("type"), str):
            text = f"an array of {items['type']}s" if items["type"] != "null" else text
        described.append(text)
    return " or ".join(described)


def _describe_value(value: Any) -> str:
    kind = json_type_of(value)
    article = _ARTICLES.get(kind, f"a {kind}")
    if kind == "null":
        return "null"
    return f"{article} {_short(value)}"


def _short(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except ValueError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- From JSON values to Python values ----------------------------------------------------------


def structure_arguments(fn: Callable[..., Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Turn validated JSON arguments into the Python values *fn*'s annotations ask for.

    JSON has no enums, tuples, sets, paths or classes, so :func:`validate_arguments` returns
    their JSON forms. This converts them back: ``Enum`` values to members, arrays to tuples or
    sets, strings to ``Path``, objects to dataclass / attrs instances (``TypedDict`` values stay
    dicts). Arguments without an annotation, and the context argument, pass through unchanged.

    Args:
        fn: The tool function the arguments are for.
        arguments: Arguments that passed :func:`validate_arguments`.

    Returns:
        A new dict with the converted values.

    Raises:
        ToolArgumentError: when a nested class refuses the values (its ``__init__`` or
            ``__post_init__`` raised).
        TypeError: when *fn*'s annotations cannot be resolved.
    """
    plan = _structure_plan(fn)
    if not plan:
        return dict(arguments)
    return {
        name: _to_python(value, plan[name], name) if name in plan else value
        for name, value in arguments.items()
    }


# Resolving string annotations costs ~0.1 ms per call, so each function's plan (the parameters
# whose JSON value needs converting, and their types) is computed once and kept while the
# function lives.
_PLANS: weakref.WeakKeyDictionary[Callable[..., Any], dict[str, Any]] = weakref.WeakKeyDictionary()
_JSON_NATIVE = (str, int, float, bool, Any)


def _structure_plan(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        cached = _PLANS.get(fn)
    except TypeError:  # not weak-referenceable: compute every time
        cached = None
    if cached is not None:
        return cached
    qualname = getattr(fn, "__qualname__", repr(fn))
    hints = resolve_hints(fn, qualname)
    plan = {
        name: tp
        for name, tp in hints.items()
        if name != "return" and not any(unwrap(tp) is t for t in _JSON_NATIVE)
    }
    try:
        _PLANS[fn] = plan
    except TypeError:
        pass
    return plan


def _to_python(value: Any, tp: Any, path: str) -> Any:
    tp = unwrap(tp)
    if value is None or tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if is_union(tp):
        return _union_to_python(value, args, path)
    if origin is typing.Literal:
        for option in args:
            if isinstance(option, enum.Enum) and option.value == value:
                return option
        return value
    if isinstance(tp, type) and origin is None:
        if issubclass(tp, enum.Enum):
            return value if isinstance(value, tp) else tp(value)
        if issubclass(tp, PurePath):
            return tp(value) if isinstance(value, str) else value
    container = origin or tp
    if isinstance(value, list | tuple):
        return _array_to_python(value, container, args, path)
    if isinstance(value, Mapping):
        return _object_to_python(value, tp, container, args, path)
    return value


def _union_to_python(value: Any, arms: tuple[Any, ...], path: str) -> Any:
    rest = [arm for arm in arms if arm not in NONE_TYPES]
    if len(rest) == 1:
        return _to_python(value, rest[0], path)
    for arm in rest:  # the first arm whose schema the value satisfies decides
        try:
            schema = type_schema(arm, ())
        except UnsupportedType:
            continue
        trial = _Validator(coerce_strings=False)
        trial.check(value, schema, path)
        if not trial.problems:
            return _to_python(value, arm, path)
    return value


def _array_to_python(value: list | tuple, container: Any, args: tuple[Any, ...], path: str) -> Any:
    if container is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_to_python(item, args[0], f"{path}[{i}]") for i, item in enumerate(value))
        if args and args != ((),):
            return tuple(
                _to_python(item, item_type, f"{path}[{i}]")
                for i, (item, item_type) in enumerate(zip(value, args, strict=False))
            )
        return tuple(value)
    if container not in ARRAY_TYPES:
        return list(value)
    items = [
        _to_python(item, args[0], f"{path}[{i}]") if args else item for i, item in enumerate(value)
    ]
    if container is frozenset:
        return frozenset(items)
    if container in SET_TYPES:
        return set(items)
    return items


def _object_to_python(
    value: Mapping[str, Any], tp: Any, container: Any, args: tuple[Any, ...], path: str
) -> Any:
    if container in MAPPING_TYPES:
        if len(args) == 2:
            return {key: _to_python(item, args[1], _join(path, key)) for key, item in value.items()}
        return dict(value)
    if not isinstance(tp, type):
        return dict(value)
    is_typeddict = typing.is_typeddict(tp)
    if not (is_typeddict or dataclasses.is_dataclass(tp) or attrs.has(tp)):
        return dict(value)
    hints = typing.get_type_hints(tp, include_extras=True)
    by_key = {field.key: field for field in class_fields(tp, hints)}
    converted = {
        key: _to_python(item, by_key[key].annotation, _join(path, key)) if key in by_key else item
        for key, item in value.items()
    }
    if is_typeddict:
        return converted
    try:
        return tp(**converted)
    except Exception as exc:
        raise ToolArgumentError(
            f"argument '{path}' was rejected by {tp.__qualname__}: {type(exc).__name__}: {exc}"
        ) from exc
