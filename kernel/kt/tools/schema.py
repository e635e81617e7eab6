"""Argument schemas for tools: derive a JSON schema from a function's signature and docstring.

:func:`derive_schema` runs once, when ``@tool`` decorates a function: it produces the
description, the JSON schema of the arguments and the name of the parameter that receives the
:class:`kt.tools.ToolContext`. Each call's arguments are then checked against that schema and
turned into Python values by :mod:`kt.tools.arguments`, which uses the type helpers below.
"""

from __future__ import annotations

import collections
import collections.abc
import dataclasses
import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Collection, Iterable, Mapping, MutableSequence, Sequence
from pathlib import PurePath
from typing import Any

import attrs

from kt.tools.context import ToolContext

__all__ = ["DerivedSchema", "derive_schema"]


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
    qualname = getattr(fn, "__qualname__", repr(fn))
    signature = inspect.signature(fn)
    hints = resolve_hints(fn, qualname, fallback={"ToolContext": ToolContext})
    summary, documented = _parse_docstring(fn.__doc__ or "")

    properties: dict[str, Any] = {}
    required: list[str] = []
    context_param: str | None = None
    for name, param in signature.parameters.items():
        _reject_unsupported_kind(qualname, param)
        annotation = hints.get(name, inspect.Parameter.empty)
        if _is_context_param(name, param, annotation):
            if context_param is not None:
                raise TypeError(
                    f"{qualname}(): both '{context_param}' and '{name}' ask for the ToolContext; "
                    "keep one context parameter"
                )
            context_param = name
            continue
        try:
            prop, is_required = _parameter_schema(annotation, param.default)
        except UnsupportedType as exc:
            raise TypeError(
                f"{qualname}(): parameter '{name}' has an unsupported annotation "
                f"{_type_name(annotation)} ({exc}); use str, int, float, bool, list[...], "
                "tuple[...], dict[str, ...], Literal[...], an Enum, a dataclass, an attrs class, "
                "a TypedDict, a union of these, or Any"
            ) from None
        if name in documented:
            prop["description"] = documented[name]
        properties[name] = prop
        if is_required:
            required.append(name)

    parameters = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return DerivedSchema(summary, parameters, context_param)


def resolve_hints(
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


def _is_context_param(name: str, param: inspect.Parameter, annotation: Any) -> bool:
    arm = _optional_arm(annotation)
    if unwrap(annotation if arm is None else arm) is ToolContext:
        return True
    return name in _CONTEXT_NAMES and param.annotation is inspect.Parameter.empty


def _parameter_schema(annotation: Any, default: Any) -> tuple[dict[str, Any], bool]:
    """Return the property schema of one parameter and whether it is required."""
    has_default = default is not inspect.Parameter.empty
    optional_arm = _optional_arm(annotation)
    if optional_arm is not None and (not has_default or default is None):
        # ``T | None`` with nothing else to fall back on: the model may leave it out, and the
        # function then receives None.
        schema = type_schema(optional_arm, ())
        schema["default"] = None
        return schema, False
    schema = type_schema(annotation, ())
    if has_default:
        _add_default(schema, default)
    return schema, not has_default


def _optional_arm(annotation: Any) -> Any | None:
    """The ``T`` of ``T | None`` (``Optional[T]``), or None when the annotation is not that."""
    annotation = unwrap(annotation)
    if not is_union(annotation):
        return None
    arms = typing.get_args(annotation)
    if type(None) not in arms:
        return None
    rest = tuple(arm for arm in arms if arm is not type(None))
    if len(rest) == 1:
        return rest[0]
    return typing.Union[rest]  # noqa: UP007 -- a runtime union of the remaining arms


class UnsupportedType(Exception):
    """An annotation (or a type inside it) has no JSON schema; the message says which."""


_PRIMITIVES: dict[Any, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}
NONE_TYPES = (None, type(None))
SET_TYPES = (set, collections.abc.Set, collections.abc.MutableSet)
ARRAY_TYPES = (list, frozenset, *SET_TYPES, Sequence, MutableSequence, Collection, Iterable)
MAPPING_TYPES = (dict, Mapping, collections.abc.MutableMapping)


def type_schema(tp: Any, stack: tuple[type, ...]) -> dict[str, Any]:
    """Return a fresh JSON schema for *tp*; *stack* holds the classes being expanded."""
    tp = unwrap(tp)
    if tp is inspect.Parameter.empty or tp is Any or tp is object:
        return {}
    if tp in NONE_TYPES:
        return {"type": "null"}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return _enum_schema([_literal_value(value) for value in args])
    if is_union(tp):
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
    if container in ARRAY_TYPES:
        schema: dict[str, Any] = {"type": "array"}
        if args:
            schema["items"] = type_schema(args[0], stack)
        return schema
    if isinstance(tp, type) and typing.is_typeddict(tp):
        return _class_schema(tp, stack)
    if container in MAPPING_TYPES:
        return _mapping_schema(args, stack)
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or attrs.has(tp)):
        return _class_schema(tp, stack)
    raise UnsupportedType(f"{_type_name(tp)} has no JSON schema")


def unwrap(tp: Any) -> Any:
    """Strip ``Annotated``, ``Required`` / ``NotRequired`` and ``NewType`` wrappers."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated or origin in (typing.Required, typing.NotRequired):
            tp = typing.get_args(tp)[0]
        elif hasattr(tp, "__supertype__"):
            tp = tp.__supertype__
        else:
            return tp


def is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _literal_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise UnsupportedType(f"the value {value!r} is not a JSON string, number, boolean or null")


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    """``enum`` of *values*, with a ``type`` when they all have the same JSON type."""
    schema: dict[str, Any] = {}
    kinds = {json_type_of(value) for value in values}
    if kinds == {"integer", "number"}:
        kinds = {"number"}
    if len(kinds) == 1:
        schema["type"] = kinds.pop()
    schema["enum"] = list(values)
    return schema


def _union_schema(arms: tuple[Any, ...], stack: tuple[type, ...]) -> dict[str, Any]:
    nullable = any(arm in NONE_TYPES for arm in arms)
    rest = [arm for arm in arms if arm not in NONE_TYPES]
    if len(rest) == 1:
        schema = type_schema(rest[0], stack)
    else:
        schema = {"anyOf": [type_schema(arm, stack) for arm in rest]}
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
        return {"type": "array", "items": type_schema(args[0], stack)}
    if args == ((),):  # ``Tuple[()]`` spelled the old way
        args = ()
    return {
        "type": "array",
        "prefixItems": [type_schema(arg, stack) for arg in args],
        "items": False,
        "minItems": len(args),
        "maxItems": len(args),
    }


def _mapping_schema(args: tuple[Any, ...], stack: tuple[type, ...]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    if not args:
        return schema
    key_type, value_type = args
    if unwrap(key_type) not in (str, Any):
        raise UnsupportedType(
            f"mapping keys must be str (JSON object keys are strings), not {_type_name(key_type)}"
        )
    value_schema = type_schema(value_type, stack)
    if value_schema:
        schema["additionalProperties"] = value_schema
    return schema


def _class_schema(cls: type, stack: tuple[type, ...]) -> dict[str, Any]:
    """Nested object schema for a dataclass, attrs class or TypedDict."""
    if cls in stack:
        raise UnsupportedType(
            f"{cls.__qualname__} refers to itself; recursive types have no schema"
        )
    stack = (*stack, cls)
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:
        raise UnsupportedType(
            f"the annotations of {cls.__qualname__} cannot be resolved ({exc})"
        ) from None
    field_docs = _parse_docstring(cls.__doc__ or "")[1]
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in class_fields(cls, hints):
        prop = type_schema(field.annotation, stack)
        doc = field_docs.get(field.name) or field_docs.get(field.key)
        if doc:
            prop["description"] = doc
        if field.has_default:
            _add_default(prop, field.default)
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


def class_fields(cls: type, hints: Mapping[str, Any]) -> list[_ClassField]:
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
        key = field.alias  # attrs strips the leading underscore of private fields
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
    while (origin := typing.get_origin(annotation)) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if origin in (typing.Required, typing.NotRequired):
        return origin is typing.Required
    return name in cls.__required_keys__


def _add_default(schema: dict[str, Any], value: Any) -> None:
    """Record *value* as ``default`` if it has a JSON form (enums by value, paths as str)."""

    def encode_special(obj: Any) -> Any:
        if isinstance(obj, enum.Enum):
            return obj.value
        if isinstance(obj, PurePath):
            return str(obj)
        if isinstance(obj, set | frozenset):
            return list(obj)
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")

    try:
        schema["default"] = json.loads(json.dumps(value, default=encode_special, allow_nan=False))
    except (TypeError, ValueError):
        pass  # the model is not told this default; the function still applies it


def _type_name(tp: Any) -> str:
    if tp is inspect.Parameter.empty:
        return "(none)"
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return tp.__qualname__
    return repr(tp).replace("typing.", "")


def json_type_of(value: Any) -> str:
    """The JSON schema type name of a JSON value (or the Python type's name)."""
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


# -- Docstrings ---------------------------------------------------------------------------------


def _parse_docstring(text: str) -> tuple[str, dict[str, str]]:
    """The summary and per-parameter descriptions of a Google, reST or NumPy docstring.

    Whitespace is folded, so a description wrapped over several lines reads as one line; a
    NumPy entry naming several parameters (``x, y : int``) describes each of them.
    """
    import docstring_parser  # only paid for when a tool is decorated

    text = inspect.cleandoc(text)
    parsed = docstring_parser.parse(text)
    summary = parsed.short_description or ""
    if _SECTION_START.match(text):
        summary = ""  # the docstring opens with a section: there is no summary to take
    elif parsed.long_description and not parsed.blank_after_short_description:
        summary += " " + parsed.long_description.split("\n\n", 1)[0]  # one wrapped paragraph
    params = {}
    for param in parsed.params:
        for name in param.arg_name.split(","):
            if name.strip():
                params[name.strip().lstrip("*").split()[0]] = " ".join(
                    (param.description or "").split()
                )
    return " ".join(summary.split()), params


_SECTION_START = re.compile(r"^(?:[A-Z][A-Za-z ]*:\s*$|:\w)", re.M)
"""A first line that is a section header (``Args:``) or a reST field (``:param x:``)."""
