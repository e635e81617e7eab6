"""Argument validation (``validate_arguments``) and conversion (``structure_arguments``)."""

import copy
import dataclasses
import enum
import json
from pathlib import Path
from typing import Any, Literal, TypedDict

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kt.errors import ToolArgumentError
from kt.tools import ToolContext, tool
from kt.tools.arguments import structure_arguments, validate_arguments
from kt.tools.schema import derive_schema


@dataclasses.dataclass
class Filter:
    name: str
    depth: int = 1


def _search(
    query: str,
    limit: int = 10,
    mode: Literal["fast", "deep"] = "fast",
    tags: list[str] | None = None,
    ratio: float = 0.5,
    verbose: bool = False,
    ctx: ToolContext = None,
) -> None:
    """Search."""


SEARCH = derive_schema(_search).parameters


def _problems(schema: dict[str, Any], args: Any, **options: Any) -> list[str]:
    """The lines of the ToolArgumentError raised for *args*."""
    with pytest.raises(ToolArgumentError) as info:
        validate_arguments(schema, args, **options)
    return str(info.value).splitlines()


# -- JSON text ----------------------------------------------------------------------------------


def test_json_text_is_parsed_and_defaults_filled() -> None:
    assert validate_arguments(SEARCH, '{"query": "cats", "limit": 3}') == {
        "query": "cats",
        "limit": 3,
        "mode": "fast",
        "tags": None,
        "ratio": 0.5,
        "verbose": False,
    }


def test_invalid_json_names_the_parse_error() -> None:
    with pytest.raises(ToolArgumentError) as info:
        validate_arguments(SEARCH, "{not json")
    message = str(info.value)
    assert message.startswith("invalid JSON arguments")
    assert "line 1 column 2" in message


@pytest.mark.parametrize("text", ["[1, 2]", '"query"', "5", "null"])
def test_json_that_is_not_an_object_is_rejected(text: str) -> None:
    with pytest.raises(ToolArgumentError, match="must be a JSON object"):
        validate_arguments(SEARCH, text)


def test_a_non_mapping_python_value_is_rejected() -> None:
    with pytest.raises(ToolArgumentError, match="must be a JSON object.*an array"):
        validate_arguments(SEARCH, ["cats"])  # type: ignore[arg-type]


def test_empty_text_means_no_arguments() -> None:
    def ping() -> str:
        return "pong"

    assert validate_arguments(derive_schema(ping).parameters, "  ") == {}
    assert _problems(SEARCH, "") == ["missing required argument 'query'"]


# -- Checks -------------------------------------------------------------------------------------


def test_scenario_7_missing_required_argument_names_it() -> None:
    @tool
    async def echo(text: str) -> str:
        return text

    assert _problems(echo.parameters, {}) == ["missing required argument 'text'"]
    with pytest.raises(ToolArgumentError, match="invalid JSON"):
        validate_arguments(echo.parameters, "{not json")


def test_wrong_type_names_path_expected_and_got() -> None:
    [line] = _problems(SEARCH, {"query": "q", "tags": ["ok", 5]})
    assert line == "argument 'tags[1]' should be a string, got an integer 5"


def test_wrong_type_inside_a_nested_object() -> None:
    def fn(filters: list[Filter]) -> None:
        pass

    schema = derive_schema(fn).parameters
    lines = _problems(schema, {"filters": [{"name": "a"}, {"name": 3, "depth": "deep"}]})
    assert lines == [
        "argument 'filters[1].name' should be a string, got an integer 3",
        "argument 'filters[1].depth' should be an integer, got a string \"deep\"",
    ]
    assert _problems(schema, {"filters": [{"depth": 2}]}) == [
        "missing required argument 'filters[0].name'"
    ]


def test_nested_defaults_are_filled() -> None:
    def fn(flt: Filter) -> None:
        pass

    schema = derive_schema(fn).parameters
    assert validate_arguments(schema, {"flt": {"name": "a"}}) == {"flt": {"name": "a", "depth": 1}}


def test_bool_is_not_an_integer_but_int_is_a_number() -> None:
    [line] = _problems(SEARCH, {"query": "q", "limit": True})
    assert line == "argument 'limit' should be an integer, got a boolean true"
    assert validate_arguments(SEARCH, {"query": "q", "ratio": 2})["ratio"] == 2
    assert _problems(SEARCH, {"query": "q", "ratio": False}) == [
        "argument 'ratio' should be a number, got a boolean false"
    ]


def test_whole_float_is_accepted_as_integer() -> None:
    result = validate_arguments(SEARCH, {"query": "q", "limit": 5.0})
    assert result["limit"] == 5
    assert type(result["limit"]) is int
    assert len(_problems(SEARCH, {"query": "q", "limit": 5.5})) == 1


def test_enum_violation_lists_the_choices() -> None:
    [line] = _problems(SEARCH, {"query": "q", "mode": "slow"})
    assert line == 'argument \'mode\' should be one of "fast", "deep"; got "slow"'


def test_enum_does_not_confuse_true_with_one() -> None:
    def fn(level: Literal[0, 1]) -> None:
        pass

    schema = derive_schema(fn).parameters
    assert _problems(schema, {"level": True}) == [
        "argument 'level' should be an integer, got a boolean true"
    ]
    untyped = {"type": "object", "properties": {"v": {"enum": [1, "a"]}}, "required": ["v"]}
    assert len(_problems(untyped, {"v": True})) == 1


def test_unknown_argument_lists_the_accepted_ones() -> None:
    [line] = _problems(SEARCH, {"query": "q", "limt": 3})
    assert line == (
        "unknown argument 'limt'; accepted arguments: query, limit, mode, tags, ratio, verbose"
    )


def test_unknown_field_in_a_nested_object() -> None:
    def fn(flt: Filter) -> None:
        pass

    [line] = _problems(derive_schema(fn).parameters, {"flt": {"name": "a", "size": 1}})
    assert line == "unknown field 'size' in argument 'flt'; accepted fields: name, depth"


def test_mapping_values_are_checked_against_additional_properties() -> None:
    def fn(weights: dict[str, int]) -> None:
        pass

    schema = derive_schema(fn).parameters
    assert validate_arguments(schema, {"weights": {"a": 1}}) == {"weights": {"a": 1}}
    assert _problems(schema, {"weights": {"a": 1, "b c": "x"}}) == [
        'argument \'weights["b c"]\' should be an integer, got a string "x"'
    ]


def test_all_problems_are_reported_one_line_each() -> None:
    lines = _problems(SEARCH, {"limit": "many", "mode": "slow", "extra": 1})
    assert len(lines) == 4
    assert lines[0] == "missing required argument 'query'"
    assert any("'limit'" in line for line in lines)
    assert any("'mode'" in line for line in lines)
    assert any("'extra'" in line for line in lines)


def test_null_for_an_optional_argument_means_leave_it_out() -> None:
    result = validate_arguments(SEARCH, {"query": "q", "limit": None, "tags": None})
    assert result["limit"] == 10
    assert result["tags"] is None
    assert _problems(SEARCH, {"query": None}) == ["argument 'query' should be a string, got null"]


def test_null_is_kept_when_the_schema_accepts_it() -> None:
    def fn(timeout: float | None = 30.0) -> None:
        pass

    schema = derive_schema(fn).parameters
    assert validate_arguments(schema, {"timeout": None}) == {"timeout": None}
    assert validate_arguments(schema, {}) == {"timeout": 30.0}


def test_any_of_accepts_each_alternative() -> None:
    def fn(key: int | str) -> None:
        pass

    schema = derive_schema(fn).parameters
    assert validate_arguments(schema, {"key": 3}) == {"key": 3}
    assert validate_arguments(schema, {"key": "k"}) == {"key": "k"}
    assert _problems(schema, {"key": [1]}) == [
        "argument 'key' should be an integer or a string, got an array [1]"
    ]


def test_fixed_tuple_checks_length_and_item_types() -> None:
    def fn(size: tuple[int, str]) -> None:
        pass

    schema = derive_schema(fn).parameters
    assert validate_arguments(schema, {"size": (3, "px")}) == {"size": [3, "px"]}
    assert _problems(schema, {"size": [3]}) == [
        "argument 'size' should have exactly 2 items, got 1"
    ]
    assert _problems(schema, {"size": ["3", "px"]}) == [
        "argument 'size[0]' should be an integer, got a string \"3\""
    ]


def test_input_is_not_mutated_and_defaults_are_copies() -> None:
    def fn(flt: Filter, names: list[str] = ["a"]) -> None:  # noqa: B006
        pass

    schema = derive_schema(fn).parameters
    pristine = copy.deepcopy(schema)
    args = {"flt": {"name": "x"}}
    before = copy.deepcopy(args)

    result = validate_arguments(schema, args)
    result["names"].append("b")
    result["flt"]["depth"] = 99

    assert args == before
    assert schema == pristine
    assert validate_arguments(schema, args)["names"] == ["a"]


# -- Coercion of text-format values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("false", False), ("FALSE", False), ("no", False), ("0", False)]
    + [("true", True), ("Yes", True), ("1", True)],
)
def test_coerce_booleans(text: str, expected: bool) -> None:
    result = validate_arguments(SEARCH, {"query": "q", "verbose": text}, coerce_strings=True)
    assert result["verbose"] is expected


def test_coerce_numbers_and_keeps_strings() -> None:
    result = validate_arguments(
        SEARCH, {"query": "50", "limit": "50", "ratio": "2.5"}, coerce_strings=True
    )
    assert result["query"] == "50"
    assert result["limit"] == 50
    assert result["ratio"] == 2.5
    assert (
        validate_arguments(SEARCH, {"query": "q", "ratio": "3"}, coerce_strings=True)["ratio"] == 3
    )


def test_coerce_json_text_to_arrays_and_objects() -> None:
    def fn(ids: list[int], flt: Filter, meta: dict[str, Any]) -> None:
        pass

    schema = derive_schema(fn).parameters
    result = validate_arguments(
        schema,
        {"ids": '["1", 2]', "flt": '{"name": "a"}', "meta": '{"k": [1]}'},
        coerce_strings=True,
    )
    assert result == {"ids": [1, 2], "flt": {"name": "a", "depth": 1}, "meta": {"k": [1]}}


def test_coerce_literal_integers() -> None:
    def fn(level: Literal[1, 2, 3]) -> None:
        pass

    schema = derive_schema(fn).parameters
    assert validate_arguments(schema, {"level": "2"}, coerce_strings=True) == {"level": 2}
    assert len(_problems(schema, {"level": "4"}, coerce_strings=True)) == 1


def test_coerce_prefers_an_exact_match_in_unions() -> None:
    def fn(key: int | str, size: int | None = 5) -> None:
        pass

    schema = derive_schema(fn).parameters
    assert validate_arguments(schema, {"key": "5"}, coerce_strings=True)["key"] == "5"
    assert validate_arguments(schema, {"key": "k", "size": "7"}, coerce_strings=True) == {
        "key": "k",
        "size": 7,
    }
    assert validate_arguments(schema, {"key": "k", "size": "null"}, coerce_strings=True) == {
        "key": "k",
        "size": None,
    }


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"limit": "fifty"}, "'limit'"),
        ({"limit": "2.5"}, "'limit'"),
        ({"verbose": "maybe"}, "'verbose'"),
        ({"ratio": "nan"}, "'ratio'"),
        ({"tags": "a,b"}, "'tags'"),
    ],
)
def test_failing_coercion_names_the_field(args: dict[str, str], field: str) -> None:
    [line] = _problems(SEARCH, {"query": "q", **args}, coerce_strings=True)
    assert line.startswith(f"argument {field} should be")
    assert "cannot be read as one" in line


def test_without_coercion_strings_stay_wrong() -> None:
    assert _problems(SEARCH, {"query": "q", "verbose": "false"}) == [
        "argument 'verbose' should be a boolean, got a string \"false\""
    ]


def test_coercion_applies_to_json_text_arguments_too() -> None:
    result = validate_arguments(SEARCH, '{"query": "q", "verbose": "false"}', coerce_strings=True)
    assert result["verbose"] is False


# -- Robustness ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@given(
    args=st.dictionaries(
        st.sampled_from(["query", "limit", "mode", "tags", "ratio", "verbose", "other"]),
        json_values,
    ),
    coerce=st.booleans(),
)
def test_any_json_object_is_either_accepted_or_a_tool_argument_error(
    args: dict[str, Any], coerce: bool
) -> None:
    before = copy.deepcopy(args)
    try:
        result = validate_arguments(SEARCH, args, coerce_strings=coerce)
    except ToolArgumentError as exc:
        assert str(exc).strip()
    else:
        assert set(result) >= {"query", "limit", "mode", "tags", "ratio", "verbose"}
        json.dumps(result)
    assert args == before


# -- From JSON values to Python values ----------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Box:
    width: int
    _label: str = ""


class Patch(TypedDict):
    path: str


@dataclasses.dataclass
class Positive:
    value: int

    def __post_init__(self) -> None:
        if self.value <= 0:
            raise ValueError("value must be positive")


def test_structure_arguments_builds_python_values() -> None:
    def fn(
        color: Color,
        shade: Literal[Color.RED] | None,
        where: Path,
        size: tuple[int, int],
        names: set[str],
        boxes: list[Box],
        filters: dict[str, Filter],
        patch: Patch,
        either: Filter | int,
        raw: Any,
        ctx: ToolContext = None,
    ) -> None:
        pass

    schema = derive_schema(fn).parameters
    validated = validate_arguments(
        schema,
        {
            "color": "blue",
            "shade": "red",
            "where": "notes/a.md",
            "size": [3, 4],
            "names": ["a", "b", "a"],
            "boxes": [{"width": 2, "label": "x"}],
            "filters": {"main": {"name": "n"}},
            "patch": {"path": "p"},
            "either": {"name": "e"},
            "raw": {"k": [1]},
        },
    )
    built = structure_arguments(fn, {**validated, "ctx": "context object"})
    assert built == {
        "color": Color.BLUE,
        "shade": Color.RED,
        "where": Path("notes/a.md"),
        "size": (3, 4),
        "names": {"a", "b"},
        "boxes": [Box(2, "x")],
        "filters": {"main": Filter("n", 1)},
        "patch": {"path": "p"},
        "either": Filter("e", 1),
        "raw": {"k": [1]},
        "ctx": "context object",
    }
    assert structure_arguments(fn, {"either": 7}) == {"either": 7}


def test_structure_arguments_reports_a_class_that_refuses_the_values() -> None:
    def fn(amount: Positive) -> None:
        pass

    with pytest.raises(ToolArgumentError, match="argument 'amount' was rejected by Positive"):
        structure_arguments(fn, {"amount": {"value": -1}})
