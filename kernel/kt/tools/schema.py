"""Argument schemas for tools: derive a JSON schema from a function, and check calls against it.

Three steps, in the order the kernel uses them:

1. :func:`derive_schema` runs once, when ``@tool`` decorates a function. It reads the signature
   and docstring and produces the description, the JSON schema of the arguments and the name of
   the parameter that receives the :class:`kt.tools.ToolContext`.
2. :func:`validate_arguments` runs for every call, before the tool. It parses JSON text, checks
   the arguments against the schema, fills in defaults and (for text tool-call formats, where
   every value arrives as a string) converts strings to the declared types. All problems are
   reported together, one line each, so the model can fix the call in one go.
3. :func:`structure_arguments` turns the validated JSON values into the Python values the
   annotations ask for: ``Enum`` members, tuples, sets, paths and dataclass / attrs instances.

Only the subset of JSON schema that :func:`derive_schema` produces is understood by the
validator: ``type`` (a name or a list of names), ``properties``, ``required``,
``additionalProperties`` (``false`` or a schema), ``enum``, ``items``, ``prefixItems``,
``minItems`` / ``maxItems``, ``anyOf`` and ``default``. Other keywords are ignored.
"""

from __future__ import annotations

import collections
import collections.abc
import copy
import dataclasses
import enum
import inspect
import json
import math
import re
import types
import typing
import weakref
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

import attrs

from kt.errors import ToolArgumentError

__all__ = ["DerivedSchema", "derive_schema", "structure_arguments", "validate_arguments"]


@attrs.frozen
class DerivedSchema:
    """What :func:`derive_schema` learned from a function.

    Attributes:
        description: The docstring's first paragraph, whitespace-normalised ("" without one).
        parameters: JSON schema (``type: object``) of the arguments the model supplies.
        context_param: The parameter that receives the ``ToolContext``, if the function has one.
    """

    description: str
    parameters: dict
    context_param: str | None


# -- Deriving a schema --------------------------------------------------------------------------


_CONTEXT_NAMES = ("ctx", "context")


def derive_schema(fn: Callable[..., Any]) -> DerivedSchema:
    """Build the description and argument schema of a tool function.

    Every parameter becomes a property of an object schema. Parameters without a default are
    required; defaults that JSON can represent are recorded as ``default``. ``T | None``
    parameters are not required and default to ``null``. The context parameter (annotated
    ``ToolContext`` or ``ToolContext | None``, or named ``ctx`` / ``context`` without another
    annotation) is left out of the schema.

    Args:
        fn: The tool function (sync or async).

    Returns:
        The description, the parameters schema and the context parameter's name.

    Raises:
        TypeError: for ``*args`` / ``**kwargs`` or positional-only parameters, an annotation
            that has no JSON schema, annotations that cannot be resolved, or two context
            parameters.
    """
    from kt.tools import ToolContext  # kt.tools imports this module: import at call time

    qualname = getattr(fn, "__qualname__", repr(fn))
    signature = inspect.signature(fn)
    hints = _resolve_hints(fn, qualname, fallback={"ToolContext": ToolContext})
    docstring = _Docstring.parse(inspect.cleandoc(fn.__doc__ or ""))

    properties: dict[str, Any] = {}
    required: list[str] = []
    context_param: str | None = None
    for name, param in signature.parameters.items():
        _reject_unsupported_kind(qualname, param)
        annotation = hints.get(name, inspect.Parameter.empty)
        if _is_context_param(name, param, annotation, ToolContext):
            if context_param is not None:
                raise TypeError(
                    f"{qualname}(): both '{context_param}' and '{name}' ask for the ToolContext; "
                    "keep one context parameter"
                )
            context_param = name
            continue
        try:
            prop, is_required = _parameter_schema(annotation, param.default)
        except _UnsupportedType as exc:
            raise TypeError(
                f"{qualname}(): parameter '{name}' has an unsupported annotation "
                f"{_type_name(annotation)} ({exc}); use str, int, float, bool, list[...], "
                "tuple[...], dict[str, ...], Literal[...], an Enum, a dataclass, an attrs class, "
                "a TypedDict, a union of these, or Any"
            ) from None
        if name in docstring.params:
            prop["description"] = docstring.params[name]
        properties[name] = prop
        if is_required:
            required.append(name)

    parameters = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return DerivedSchema(docstring.summary, parameters, context_param)


def _resolve_hints(
    fn: Callable[..., Any], qualname: str, fallback: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    # String annotations (``from __future__ import annotations``) are evaluated against the
    # function's module. ``fallback`` names are consulted last, so a ``ToolContext`` imported
    # only under TYPE_CHECKING still resolves without shadowing the module's own names.
    target = inspect.unwrap(fn)
    module_globals = getattr(target, "__globals__", {})
    localns = collections.ChainMap(module_globals, dict(fallback or {}))
    try:
        return typing.get_type_hints(fn, localns=localns, include_extras=True)
    except Exception as exc:
        raise TypeError(
            f"{qualname}(): cannot resolve the parameter annotations ({exc}); import the names "
            "they use at module level, not only under TYPE_CHECKING or inside a function"
        ) from exc


def _reject_unsupported_kind(qualname: str, param: inspect.Parameter) -> None:
    if param.kind is inspect.Parameter.VAR_POSITIONAL:
        raise TypeError(
            f"{qualname}(): parameter '*{param.name}' cannot be offered to a model; tools take "
            f"named arguments only, so replace it with a list parameter such as "
            f"'{param.name}: list[str]'"
        )
    if param.kind is inspect.Parameter.VAR_KEYWORD:
        raise TypeError(
            f"{qualname}(): parameter '**{param.name}' cannot be offered to a model; tools take "
            f"named arguments only, so declare each argument (or a '{param.name}: dict[str, Any]' "
            "parameter)"
        )
    if param.kind is inspect.Parameter.POSITIONAL_ONLY:
        raise TypeError(
            f"{qualname}(): parameter '{param.name}' is positional-only, but tool arguments are "
            "passed by keyword; remove the '/' from the signature"
        )


def _is_context_param(
    name: str, param: inspect.Parameter, annotation: Any, context_type: type
) -> bool:
    annotation = _strip_annotated(annotation)
    if annotation is context_type:
        return True
    if _is_union(annotation):
        arms = [arm for arm in typing.get_args(annotation) if arm is not type(None)]
        if len(arms) == 1 and _strip_annotated(arms[0]) is context_type:
            return True
    return name in _CONTEXT_NAMES and param.annotation is inspect.Parameter.empty


def _parameter_schema(annotation: Any, default: Any) -> tuple[dict[str, Any], bool]:
    """Return the property schema of one parameter and whether it is required."""
    has_default = default is not inspect.Parameter.empty
    optional_arm = _optional_arm(annotation)
    if optional_arm is not None and (not has_default or default is None):
        # ``T | None`` with nothing else to fall back on: the model may leave it out, and the
        # function then receives None.
        schema = _type_schema(optional_arm, ())
        schema["default"] = None
        return schema, False
    schema = _type_schema(annotation, ())
    if has_default:
        is_json, value = _as_json(default)
        if is_json:
            schema["default"] = value
    return schema, not has_default


def _optional_arm(annotation: Any) -> Any | None:
    """The ``T`` of ``T | None`` (``Optional[T]``), or None when the annotation is not that."""
    annotation = _strip_annotated(annotation)
    if not _is_union(annotation):
        return None
    arms = typing.get_args(annotation)
    if type(None) not in arms:
        return None
    rest = tuple(arm for arm in arms if arm is not type(None))
    if len(rest) == 1:
        return rest[0]
    return typing.Union[rest]  # noqa: UP007 -- a runtime union of the remaining arms


class _UnsupportedType(Exception):
    """An annotation (or a type inside it) has no JSON schema; the message says which."""


_PRIMITIVES: dict[Any, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}
_NONE_TYPES = (None, type(None))
_ARRAY_TYPES = (
    list,
    set,
    frozenset,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Set,
    collections.abc.MutableSet,
    collections.abc.Collection,
    collections.abc.Iterable,
)
_SET_TYPES = (set, collections.abc.Set, collections.abc.MutableSet)
_MAPPING_TYPES = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _type_schema(tp: Any, stack: tuple[type, ...]) -> dict[str, Any]:
    """Return a fresh JSON schema for *tp*; *stack* holds the classes being expanded."""
    tp = _unwrap(tp)
    if tp is inspect.Parameter.empty or tp is Any or tp is object:
        return {}
    if tp in _NONE_TYPES:
        return {"type": "null"}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return _enum_schema([_literal_value(value) for value in args])
    if _is_union(tp):
        return _union_schema(args, stack)
    if tp in _PRIMITIVES:
        return {"type": _PRIMITIVES[tp]}
    if isinstance(tp, type) and origin is None:
        if issubclass(tp, enum.Enum):
            return _enum_schema([_literal_value(member) for member in tp])
        if issubclass(tp, PurePath):
            return {"type": "string"}
    container = origin or tp
    if container is tuple:
        return _tuple_schema(args, stack)
    if container in _ARRAY_TYPES:
        schema: dict[str, Any] = {"type": "array"}
        if args:
            schema["items"] = _type_schema(args[0], stack)
        return schema
    if isinstance(tp, type) and typing.is_typeddict(tp):
        return _class_schema(tp, stack)
    if container in _MAPPING_TYPES:
        return _mapping_schema(args, stack)
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or attrs.has(tp)):
        return _class_schema(tp, stack)
    raise _UnsupportedType(f"{_type_name(tp)} has no JSON schema")


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated``, ``Required`` / ``NotRequired`` and ``NewType`` wrappers."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated or origin in (typing.Required, typing.NotRequired):
            tp = typing.get_args(tp)[0]
        elif hasattr(tp, "__supertype__"):
            tp = tp.__supertype__
        else:
            return tp


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _literal_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise _UnsupportedType(f"the value {value!r} is not a JSON string, number, boolean or null")


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    """``enum`` of *values*, with a ``type`` when they all have the same JSON type."""
    schema: dict[str, Any] = {}
    kinds = {_json_type_of(value) for value in values}
    if kinds == {"integer", "number"}:
        kinds = {"number"}
    if len(kinds) == 1:
        schema["type"] = kinds.pop()
    schema["enum"] = list(values)
    return schema


def _union_schema(arms: tuple[Any, ...], stack: tuple[type, ...]) -> dict[str, Any]:
    nullable = any(arm in _NONE_TYPES for arm in arms)
    rest = [arm for arm in arms if arm not in _NONE_TYPES]
    if len(rest) == 1:
        schema = _type_schema(rest[0], stack)
    else:
        schema = {"anyOf": [_type_schema(arm, stack) for arm in rest]}
    return _nullable(schema) if nullable else schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Let *schema* accept null as well."""
    if not schema:
        return schema
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    result = dict(schema)
    kind = schema.get("type")
    if isinstance(kind, str):
        result["type"] = [kind, "null"]
    elif isinstance(kind, list):
        result["type"] = [*kind, "null"]
    if "enum" in schema:
        result["enum"] = [*schema["enum"], None]
    return result


def _tuple_schema(args: tuple[Any, ...], stack: tuple[type, ...]) -> dict[str, Any]:
    if not args:
        return {"type": "array"}
    if len(args) == 2 and args[1] is Ellipsis:
        return {"type": "array", "items": _type_schema(args[0], stack)}
    if args == ((),):  # ``Tuple[()]`` spelled the old way
        args = ()
    return {
        "type": "array",
        "prefixItems": [_type_schema(arg, stack) for arg in args],
        "items": False,
        "minItems": len(args),
        "maxItems": len(args),
    }


def _mapping_schema(args: tuple[Any, ...], stack: tuple[type, ...]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    if not args:
        return schema
    key_type, value_type = args
    if _unwrap(key_type) not in (str, Any):
        raise _UnsupportedType(
            f"mapping keys must be str (JSON object keys are strings), not {_type_name(key_type)}"
        )
    value_schema = _type_schema(value_type, stack)
    if value_schema:
        schema["additionalProperties"] = value_schema
    return schema


def _class_schema(cls: type, stack: tuple[type, ...]) -> dict[str, Any]:
    """Nested object schema for a dataclass, attrs class or TypedDict."""
    if cls in stack:
        raise _UnsupportedType(
            f"{cls.__qualname__} refers to itself; recursive types have no schema"
        )
    stack = (*stack, cls)
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:
        raise _UnsupportedType(
            f"the annotations of {cls.__qualname__} cannot be resolved ({exc})"
        ) from None
    field_docs = _Docstring.parse(inspect.cleandoc(cls.__doc__ or "")).params
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in _class_fields(cls, hints):
        prop = _type_schema(field.annotation, stack)
        doc = field_docs.get(field.name) or field_docs.get(field.key)
        if doc:
            prop["description"] = doc
        if field.has_default:
            is_json, value = _as_json(field.default)
            if is_json:
                prop["default"] = value
        properties[field.key] = prop
        if field.required:
            required.append(field.key)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


@attrs.frozen
class _ClassField:
    """One field of a nested class: ``key`` is the JSON key, which is the constructor keyword."""

    name: str
    key: str
    annotation: Any
    required: bool
    has_default: bool = False
    default: Any = None


def _class_fields(cls: type, hints: Mapping[str, Any]) -> list[_ClassField]:
    if typing.is_typeddict(cls):
        return [
            _ClassField(name, name, annotation, _typeddict_key_required(cls, name, annotation))
            for name, annotation in hints.items()
        ]
    if dataclasses.is_dataclass(cls):
        fields = []
        for field in dataclasses.fields(cls):
            if not field.init:
                continue
            has_default = field.default is not dataclasses.MISSING
            has_factory = field.default_factory is not dataclasses.MISSING
            annotation = hints.get(field.name, Any)
            required = not (has_default or has_factory)
            fields.append(
                _ClassField(
                    field.name, field.name, annotation, required, has_default, field.default
                )
            )
        return fields
    fields = []
    for field in attrs.fields(cls):
        if not field.init:
            continue
        annotation = hints.get(field.name, field.type if field.type is not None else Any)
        key = getattr(field, "alias", None) or field.name.lstrip("_")
        required = field.default is attrs.NOTHING
        has_default = not required and not isinstance(field.default, attrs.Factory)
        fields.append(
            _ClassField(field.name, key, annotation, required, has_default, field.default)
        )
    return fields


def _typeddict_key_required(cls: type, name: str, annotation: Any) -> bool:
    # Python 3.11 computes ``__required_keys__`` before string annotations are evaluated, so
    # ``NotRequired[...]`` under ``from __future__ import annotations`` is missed there; the
    # resolved hint (kept by ``include_extras``) is the reliable answer.
    origin = typing.get_origin(_strip_annotated(annotation))
    if origin is typing.Required:
        return True
    if origin is typing.NotRequired:
        return False
    return name in cls.__required_keys__


def _as_json(value: Any) -> tuple[bool, Any]:
    """Return ``(True, json_value)`` when *value* has a JSON form (enums by value, paths as str)."""

    def encode_special(obj: Any) -> Any:
        if isinstance(obj, enum.Enum):
            return obj.value
        if isinstance(obj, PurePath):
            return str(obj)
        if isinstance(obj, set | frozenset):
            return list(obj)
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")

    try:
        return True, json.loads(json.dumps(value, default=encode_special, allow_nan=False))
    except (TypeError, ValueError):
        return False, None


def _type_name(tp: Any) -> str:
    if tp is inspect.Parameter.empty:
        return "(none)"
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return tp.__qualname__
    return repr(tp).replace("typing.", "")


# -- Docstrings ---------------------------------------------------------------------------------


_GOOGLE_PARAM_HEADERS = {
    "args",
    "arguments",
    "parameters",
    "params",
    "keyword args",
    "keyword arguments",
    "other parameters",
    "attributes",
}
_GOOGLE_OTHER_HEADERS = {
    "returns",
    "return",
    "yields",
    "yield",
    "raises",
    "examples",
    "example",
    "note",
    "notes",
    "warning",
    "warnings",
    "see also",
    "references",
    "todo",
}
_NUMPY_PARAM_HEADERS = {"parameters", "other parameters", "attributes"}
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(?P<name>[A-Za-z_]\w*)\s*(?:\(.*?\))?\s*:\s*(?P<desc>.*)$")
_SPHINX_PARAM = re.compile(
    r"^:(?:param|parameter|arg|argument|key|keyword|ivar|var)\s+(?:[^:]*\s)?\*{0,2}"
    r"(?P<name>[A-Za-z_]\w*)\s*:\s*(?P<desc>.*)$"
)
_NUMPY_ENTRY = re.compile(
    r"^\*{0,2}(?P<names>[A-Za-z_]\w*(?:\s*,\s*\*{0,2}[A-Za-z_]\w*)*)\s*(?::.*)?$"
)
_DASHES = re.compile(r"^-{3,}$")


@attrs.frozen
class _Docstring:
    """The parts of a docstring a schema needs: the summary and per-parameter descriptions."""

    summary: str
    params: Mapping[str, str]

    @classmethod
    def parse(cls, text: str) -> _Docstring:
        lines = text.splitlines()
        params: dict[str, str] = {}
        # A parameter documented in several styles keeps its first description.
        for parser in (_google_params, _sphinx_params, _numpy_params):
            for name, description in parser(lines).items():
                params.setdefault(name, description)
        return cls(_summary(lines), params)


def _summary(lines: list[str]) -> str:
    """The first paragraph, stopping early at a section header or a Sphinx field."""
    paragraph: list[str] = []
    for index, line in enumerate(lines):
        if not line.strip():
            if paragraph:
                break
            continue
        if _starts_section(lines, index):
            break
        paragraph.append(line)
    return _normalise_space(paragraph)


def _starts_section(lines: list[str], index: int) -> bool:
    stripped = lines[index].strip()
    if stripped.endswith(":") and stripped[:-1].lower() in (
        _GOOGLE_PARAM_HEADERS | _GOOGLE_OTHER_HEADERS
    ):
        return True
    if stripped.startswith(":") and re.match(r"^:\w+", stripped):
        return True
    return _is_numpy_header(lines, index)


def _is_numpy_header(lines: list[str], index: int) -> bool:
    return (
        index + 1 < len(lines)
        and bool(lines[index].strip())
        and bool(_DASHES.match(lines[index + 1].strip()))
    )


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _normalise_space(parts: list[str]) -> str:
    return " ".join(" ".join(parts).split())


def _google_params(lines: list[str]) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    index = 0
    while index < len(lines):
        header = lines[index].strip()
        if not (header.endswith(":") and header[:-1].lower() in _GOOGLE_PARAM_HEADERS):
            index += 1
            continue
        header_indent = _indent(lines[index])
        entry_indent: int | None = None
        current: str | None = None
        index += 1
        while index < len(lines):
            line = lines[index]
            if not line.strip():
                index += 1
                continue
            indent = _indent(line)
            if indent <= header_indent:
                break
            if entry_indent is None:
                entry_indent = indent
            if indent <= entry_indent:
                match = _GOOGLE_ENTRY.match(line.strip())
                current = match["name"] if match else None
                if current is not None:
                    found[current] = [match["desc"]]
            elif current is not None:
                found[current].append(line)
            index += 1
    return {name: _normalise_space(parts) for name, parts in found.items()}


def _sphinx_params(lines: list[str]) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    current: str | None = None
    field_indent = 0
    for line in lines:
        stripped = line.strip()
        match = _SPHINX_PARAM.match(stripped)
        if match:
            current = match["name"]
            field_indent = _indent(line)
            found[current] = [match["desc"]]
        elif current is not None and stripped and not stripped.startswith(":"):
            if _indent(line) > field_indent:
                found[current].append(stripped)
            else:
                current = None
        else:
            current = None
    return {name: _normalise_space(parts) for name, parts in found.items()}


def _numpy_params(lines: list[str]) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    index = 0
    while index < len(lines):
        if not (
            _is_numpy_header(lines, index) and lines[index].strip().lower() in _NUMPY_PARAM_HEADERS
        ):
            index += 1
            continue
        base_indent = _indent(lines[index])
        current: list[str] = []
        index += 2
        while index < len(lines):
            line = lines[index]
            if not line.strip():
                index += 1
                continue
            if _is_numpy_header(lines, index):
                break
            if _indent(line) <= base_indent:
                match = _NUMPY_ENTRY.match(line.strip())
                if match is None:
                    break
                current = []
                for name in match["names"].split(","):
                    found[name.strip().lstrip("*")] = current  # "x, y : int" share one text
            else:
                current.append(line)
            index += 1
    return {name: _normalise_space(parts) for name, parts in found.items()}


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
            if _is_json_type(value, kind):
                return True, _normalise_number(value, kind)
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


def _json_type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _is_json_type(value: Any, kind: str) -> bool:
    actual = _json_type_of(value)
    if kind == "number":
        return actual in ("integer", "number")
    if kind == "integer":
        is_whole_float = actual == "number" and math.isfinite(value) and value.is_integer()
        return actual == "integer" or is_whole_float
    return actual == kind


def _normalise_number(value: Any, kind: str) -> Any:
    if kind == "integer" and isinstance(value, float):
        return int(value)  # 5.0 is an integer in JSON schema; the function wants an int
    return value


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
        return parsed, _json_type_of(parsed) == kind
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
    kind = _json_type_of(value)
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
    hints = _resolve_hints(fn, qualname)
    plan = {
        name: tp
        for name, tp in hints.items()
        if name != "return" and not any(_unwrap(tp) is t for t in _JSON_NATIVE)
    }
    try:
        _PLANS[fn] = plan
    except TypeError:
        pass
    return plan


def _to_python(value: Any, tp: Any, path: str) -> Any:
    tp = _unwrap(tp)
    if value is None or tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if _is_union(tp):
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
    rest = [arm for arm in arms if arm not in _NONE_TYPES]
    if len(rest) == 1:
        return _to_python(value, rest[0], path)
    for arm in rest:  # the first arm whose schema the value satisfies decides
        try:
            schema = _type_schema(arm, ())
        except _UnsupportedType:
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
    if container not in _ARRAY_TYPES:
        return list(value)
    items = [
        _to_python(item, args[0], f"{path}[{i}]") if args else item for i, item in enumerate(value)
    ]
    if container is frozenset:
        return frozenset(items)
    if container in _SET_TYPES:
        return set(items)
    return items


def _object_to_python(
    value: Mapping[str, Any], tp: Any, container: Any, args: tuple[Any, ...], path: str
) -> Any:
    if container in _MAPPING_TYPES:
        if len(args) == 2:
            return {key: _to_python(item, args[1], _join(path, key)) for key, item in value.items()}
        return dict(value)
    if not isinstance(tp, type):
        return dict(value)
    is_typeddict = typing.is_typeddict(tp)
    if not (is_typeddict or dataclasses.is_dataclass(tp) or attrs.has(tp)):
        return dict(value)
    hints = typing.get_type_hints(tp, include_extras=True)
    by_key = {field.key: field for field in _class_fields(tp, hints)}
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
