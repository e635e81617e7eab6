"""Validation with cattrs: structuring merged data into the schema, every problem at once."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import attrs

from kt.config.problems import describe, join_key, raise_problems, unknown_key_message
from kt.config.schema import FieldValueError, ValueProblem


def prepare_entry(entry: Any, entry_class: type) -> Any:
    """Fold an entry's extra keys into ``options`` and accept ``class`` for ``class_name``."""
    if not isinstance(entry, dict):
        return entry  # validation reports the wrong shape with its path
    fields = {field.name for field in attrs.fields(entry_class)} - {"options"}
    prepared: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "class" and "class_name" in fields:
            if entry.get("class_name") is not None and value is not None:
                prepared["class_name"] = Conflict("class", "class_name")
            elif value is not None:
                prepared["class_name"] = value
        elif key in fields:
            if value is not None and not isinstance(prepared.get(key), Conflict):
                prepared[key] = value
        elif key != "options":
            extras[key] = value
    explicit = entry.get("options")
    if isinstance(explicit, Mapping):
        prepared["options"] = {**extras, **explicit}  # the explicit table wins on a clash
    elif explicit is not None:
        prepared["options"] = explicit  # wrong type: validation says so
    else:
        prepared["options"] = extras
    return prepared


@attrs.frozen
class Conflict:
    """Marks a value written under two spellings; validation reports it."""

    first: str
    second: str


def without_nulls(table: dict[str, Any]) -> dict[str, Any]:
    """The table without its ``None`` values (TOML has no null; YAML and dicts do)."""
    return {key: value for key, value in table.items() if value is not None}


# -- Validation with cattrs ---------------------------------------------------------------------


def structure(data: dict[str, Any], cls: type, *, file: Path | None) -> Any:
    """Structure *data* into *cls*, raising one ConfigValidationError for every problem."""
    import cattrs

    try:
        return _converter().structure(data, cls)
    except (cattrs.BaseValidationError, ValueProblem) as error:
        raise_problems(_collect_problems(error, []), file=file)
        raise  # unreachable: raise_problems always raises for a non-empty list


@functools.cache
def _converter() -> Any:
    """The one converter for creature configs: strict keys, coercing scalars, clear messages."""
    import cattrs
    from cattrs import cols
    from cattrs.gen import make_dict_structure_fn

    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(Path, lambda value, _: Path(value))
    converter.register_structure_hook_func(
        lambda type_: get_origin(type_) is Literal, _structure_literal
    )

    def shape_checked(factory: Any, shape: Any, expected: str) -> Any:
        # cattrs' hooks take any iterable or raise opaque errors for a wrong shape; these say what
        # was expected. A hook is generated at its first value: a config pays for its tables only.
        def hook_factory(type_: Any, conv: Any) -> Callable[[Any, Any], Any]:
            inner = functools.cache(lambda: factory(type_, conv))

            def structure(value: Any, target: Any) -> Any:
                if not isinstance(value, shape):
                    raise ValueProblem(f"expected {expected}, got {describe(value)}")
                return inner()(value, target)

            return structure

        return hook_factory

    sequences = shape_checked(cols.homogenous_tuple_structure_factory, list | tuple, "a list")
    converter.register_structure_hook_factory(cols.is_sequence, sequences)
    mappings = shape_checked(cols.mapping_structure_factory, Mapping, "a table")
    converter.register_structure_hook_factory(cols.is_mapping, mappings)
    classes = shape_checked(make_dict_structure_fn, Mapping, "a table")
    converter.register_structure_hook_factory(attrs.has, classes)
    return converter


def _structure_str(value: Any, _type: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise ValueProblem(
            f"expected a string, got the boolean {str(value).lower()}; "
            "quote the value (YAML reads bare yes/no/on/off as booleans)"
        )
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Conflict):
        raise ValueProblem(
            f"given both as '{value.first}' and as '{value.second}'; keep only one of them"
        )
    raise ValueProblem(f"expected a string, got {describe(value)}")


def _structure_int(value: Any, _type: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueProblem(f"expected an integer, got {describe(value)}")


def _structure_float(value: Any, _type: Any) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise ValueProblem(f"expected a number, got {describe(value)}")
    return number


_TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS = frozenset({"false", "no", "off", "0"})


def _structure_bool(value: Any, _type: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ValueProblem(f"expected true or false, got {describe(value)}")


def _structure_literal(value: Any, type_: Any) -> Any:
    choices = get_args(type_)
    if value in choices:
        return value
    listed = ", ".join(repr(choice) for choice in choices)
    raise ValueProblem(f"expected one of {listed}, got {describe(value)}")


def _collect_problems(error: BaseException, path: list[str]) -> list[tuple[str, str]]:
    """Flatten cattrs' exception tree into ``(key path, message)`` pairs, in document order."""
    import cattrs

    path = path + _path_from_notes(error)
    if isinstance(error, cattrs.ForbiddenExtraKeysError):
        accepted = {field.name for field in attrs.fields(error.cl)}
        return [
            (_format_path([*path, key]), unknown_key_message(key, accepted))
            for key in sorted(error.extra_fields)
        ]
    if isinstance(error, BaseExceptionGroup):
        problems: list[tuple[str, str]] = []
        # An unknown key often explains a missing one next to it (a typo), so it goes first.
        inners = sorted(
            error.exceptions,
            key=lambda inner: not isinstance(inner, cattrs.ForbiddenExtraKeysError),
        )
        for inner in inners:
            problems += _collect_problems(inner, path)
        return problems
    if isinstance(error, FieldValueError):
        return [(_format_path([*path, error.field]), str(error))]
    if isinstance(error, KeyError):
        key = path[-1] if path else "?"
        return [(_format_path(path), f"required key {key!r} is missing; add it")]
    return [(_format_path(path), str(error))]


def _path_from_notes(error: BaseException) -> list[str]:
    from cattrs import AttributeValidationNote, IterableValidationNote

    segments = []
    for note in getattr(error, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            segments.append(note.name)
        elif isinstance(note, IterableValidationNote):
            index = note.index
            segments.append(f"[{index}]" if isinstance(index, int) else str(index))
    return segments


def _format_path(segments: Iterable[str]) -> str:
    text = ""
    for segment in segments:
        if segment.startswith("["):
            text += segment
        else:
            text = join_key(text, segment)
    return text
