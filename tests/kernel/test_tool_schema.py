"""Schema derivation for ``@tool``: descriptions, annotations, the context parameter, errors.

The module uses ``from __future__ import annotations`` on purpose: every annotation below is a
string that ``derive_schema`` has to resolve.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import typing
from pathlib import Path
from typing import (
    Annotated,
    Any,
    Literal,
    NewType,
    NotRequired,
    Optional,
    Required,
    TypedDict,
)

import attrs
import pytest

from kt.tools import ToolContext, ToolSpec, tool
from kt.tools.schema import DerivedSchema, derive_schema

# -- Scenario 16 --------------------------------------------------------------------------------


@tool
async def search(
    query: str,
    limit: int = 10,
    mode: Literal["fast", "deep"] = "fast",
    tags: list[str] | None = None,
    ctx: ToolContext = None,
) -> str:
    """Search the knowledge base for notes.

    Matches titles and bodies; results are ranked by recency.

    Args:
        query: Words to look for.
        limit: At most this many
            results are returned.
        mode: "fast" skims titles, "deep" reads bodies.
        tags: Only notes carrying one of these tags.
        ctx: Injected by the kernel.
    """
    return f"{query}:{limit}:{mode}:{tags}:{ctx}"


def test_scenario_16_properties_and_required() -> None:
    params = search.parameters
    assert params["type"] == "object"
    assert params["additionalProperties"] is False
    assert set(params["properties"]) == {"query", "limit", "mode", "tags"}
    assert params["required"] == ["query"]

    props = params["properties"]
    assert props["query"]["type"] == "string"
    assert props["limit"]["type"] == "integer"
    assert props["limit"]["default"] == 10
    assert props["mode"]["enum"] == ["fast", "deep"]
    assert props["mode"]["type"] == "string"
    assert props["mode"]["default"] == "fast"
    assert props["tags"]["type"] == "array"
    assert props["tags"]["items"] == {"type": "string"}
    assert "tags" not in params["required"]


def test_scenario_16_context_is_excluded_and_named() -> None:
    assert "ctx" not in search.parameters["properties"]
    assert search.context_param == "ctx"


def test_scenario_16_descriptions() -> None:
    assert search.description == "Search the knowledge base for notes."
    props = search.parameters["properties"]
    assert props["query"]["description"] == "Words to look for."
    assert props["limit"]["description"] == "At most this many results are returned."
    assert props["mode"]["description"] == '"fast" skims titles, "deep" reads bodies.'
    assert props["tags"]["description"] == "Only notes carrying one of these tags."


async def test_decorated_tool_stays_callable_as_the_function() -> None:
    assert isinstance(search, ToolSpec)
    assert search.name == "search"
    assert search.is_async
    assert await search("cats", limit=2, tags=["x"]) == "cats:2:fast:['x']:None"


def test_tool_with_options_keeps_options_and_stays_callable() -> None:
    @tool(name="add_numbers", description="Add two numbers.", concurrency_safe=False, timeout=3)
    def add(a: int, b: float = 0.5) -> float:
        """Ignored summary."""
        return a + b

    assert add.name == "add_numbers"
    assert add.description == "Add two numbers."
    assert add.concurrency_safe is False
    assert add.timeout == 3
    assert not add.is_async
    assert add.parameters["properties"] == {
        "a": {"type": "integer"},
        "b": {"type": "number", "default": 0.5},
    }
    assert add(2) == 2.5
    assert add.schema.parameters == add.parameters


def test_tool_decoration_rejects_var_args() -> None:
    with pytest.raises(TypeError, match=r"many\(\).*\*names"):

        @tool
        def many(*names: str) -> str:
            return ",".join(names)


# -- Docstring styles ---------------------------------------------------------------------------


def test_google_style_with_types_and_continuations() -> None:
    def fn(path: str, recursive: bool = False, pattern: str = "*") -> None:
        """List files.

        Args:
            path (str): Folder to list,
                relative to the working directory.
            recursive (bool, optional): Descend into sub-folders.
            pattern: Glob
                that names must match.

        Returns:
            Nothing; path: not a parameter.
        """

    derived = derive_schema(fn)
    props = derived.parameters["properties"]
    assert derived.description == "List files."
    assert props["path"]["description"] == "Folder to list, relative to the working directory."
    assert props["recursive"]["description"] == "Descend into sub-folders."
    assert props["pattern"]["description"] == "Glob that names must match."


def test_sphinx_style() -> None:
    def fn(url: str, timeout: float = 10.0, retries: int = 2) -> None:
        """Fetch a page
        over HTTP.

        :param url: The address,
            including the scheme.
        :type url: str
        :param float timeout: Seconds to wait.
        :param retries: How often to try again.
        :returns: the body.
        """

    derived = derive_schema(fn)
    props = derived.parameters["properties"]
    assert derived.description == "Fetch a page over HTTP."
    assert props["url"]["description"] == "The address, including the scheme."
    assert props["timeout"]["description"] == "Seconds to wait."
    assert props["retries"]["description"] == "How often to try again."


def test_numpy_style() -> None:
    def fn(x: int, y: int, label: str = "") -> None:
        """Plot a point.

        Parameters
        ----------
        x, y : int
            Coordinates of the point,
            in pixels.
        label : str, optional
            Text next to it.

        Returns
        -------
        None
            label : not a parameter description
        """

    derived = derive_schema(fn)
    props = derived.parameters["properties"]
    assert derived.description == "Plot a point."
    assert props["x"]["description"] == "Coordinates of the point, in pixels."
    assert props["y"]["description"] == "Coordinates of the point, in pixels."
    assert props["label"]["description"] == "Text next to it."


def test_no_docstring_gives_empty_description() -> None:
    def fn(x: int) -> None:
        pass

    derived = derive_schema(fn)
    assert derived == DerivedSchema(
        "",
        {
            "type": "object",
            "properties": {"x": {"type": "integer"}},
            "required": ["x"],
            "additionalProperties": False,
        },
        None,
    )


def test_docstring_starting_with_a_section_has_no_summary() -> None:
    def fn(x: int) -> None:
        """Args:
        x: A number.
        """

    def gn(x: int) -> None:
        """:param x: A number."""

    assert derive_schema(fn).description == ""
    assert derive_schema(gn).description == ""
    assert derive_schema(gn).parameters["properties"]["x"]["description"] == "A number."


def test_summary_is_first_paragraph_whitespace_normalised() -> None:
    def fn() -> None:
        """Do   one
           thing well.

        More detail that the model does not need.
        """

    assert derive_schema(fn).description == "Do one thing well."


# -- Annotations --------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


UserId = NewType("UserId", int)


@dataclasses.dataclass
class Point:
    """A point.

    Attributes:
        x: Horizontal position.
        y: Vertical position.
    """

    x: int
    y: int = 0
    tags: list[str] = dataclasses.field(default_factory=list)
    cached: str = dataclasses.field(default="", init=False)


class Filter(TypedDict):
    name: str
    limit: NotRequired[int]


class Patch(TypedDict, total=False):
    path: Required[str]
    text: str


@attrs.define
class Window:
    title: str
    _size: int = 80
    anchors: list[Point] = attrs.Factory(list)


@dataclasses.dataclass
class Node:
    children: list[Node]


POINT_SCHEMA = {
    "type": "object",
    "properties": {
        "x": {"type": "integer", "description": "Horizontal position."},
        "y": {"type": "integer", "description": "Vertical position.", "default": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["x"],
    "additionalProperties": False,
}


def _schema_of(annotation: Any) -> dict[str, Any]:
    """The property schema of one required parameter with *annotation*."""

    def fn(value):  # type: ignore[no-untyped-def]
        pass

    fn.__annotations__ = {"value": annotation}
    return derive_schema(fn).parameters["properties"]["value"]


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (Any, {}),
        (Path, {"type": "string"}),
        (UserId, {"type": "integer"}),
        (Annotated[int, "meta"], {"type": "integer"}),
        (list, {"type": "array"}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (typing.List[str], {"type": "array", "items": {"type": "string"}}),  # noqa: UP006
        (collections.abc.Sequence[str], {"type": "array", "items": {"type": "string"}}),
        (set[str], {"type": "array", "items": {"type": "string"}}),
        (frozenset[int], {"type": "array", "items": {"type": "integer"}}),
        (tuple, {"type": "array"}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (
            tuple[int, str],
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "items": False,
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (dict, {"type": "object"}),
        (dict[str, Any], {"type": "object"}),
        (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
        (
            collections.abc.Mapping[str, list[str]],
            {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        ),
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
        (Literal["a", 1], {"enum": ["a", 1]}),
        (Color, {"type": "string", "enum": ["red", "green"]}),
        (Level, {"type": "integer", "enum": [1, 2]}),
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (list[int | None], {"type": "array", "items": {"type": ["integer", "null"]}}),
        (
            list[Literal["x"] | None],
            {"type": "array", "items": {"type": ["string", "null"], "enum": ["x", None]}},
        ),
        (
            list[int | str | None],
            {
                "type": "array",
                "items": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
            },
        ),
        (Point, POINT_SCHEMA),
        (
            Filter,
            {
                "type": "object",
                "properties": {"name": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["name"],
                "additionalProperties": False,
            },
        ),
        (
            Patch,
            {
                "type": "object",
                "properties": {"path": {"type": "string"}, "text": {"type": "string"}},
                "required": ["path"],
                "additionalProperties": False,
            },
        ),
        (
            Window,
            {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "size": {"type": "integer", "default": 80},
                    "anchors": {"type": "array", "items": POINT_SCHEMA},
                },
                "required": ["title"],
                "additionalProperties": False,
            },
        ),
    ],
    ids=repr,
)
def test_annotation_schemas(annotation: Any, expected: dict[str, Any]) -> None:
    assert _schema_of(annotation) == expected


def test_missing_annotation_accepts_anything() -> None:
    def fn(anything, other=3):  # type: ignore[no-untyped-def]
        pass

    params = derive_schema(fn).parameters
    assert params["properties"] == {"anything": {}, "other": {"default": 3}}
    assert params["required"] == ["anything"]


def test_optional_without_default_is_not_required_and_defaults_to_null() -> None:
    def fn(a: int | None, b: Optional[str] = None) -> None:  # noqa: UP045
        pass

    params = derive_schema(fn).parameters
    assert params["required"] == []
    assert params["properties"]["a"] == {"type": "integer", "default": None}
    assert params["properties"]["b"] == {"type": "string", "default": None}


def test_optional_with_non_null_default_also_accepts_null() -> None:
    def fn(timeout: float | None = 30.0) -> None:
        pass

    prop = derive_schema(fn).parameters["properties"]["timeout"]
    assert prop == {"type": ["number", "null"], "default": 30.0}


def test_defaults_are_recorded_in_json_form() -> None:
    def fn(
        color: Color = Color.GREEN,
        pair: tuple[int, int] = (1, 2),
        where: Path = Path("notes"),
        marker: Any = object(),  # noqa: B008 -- not JSON: no "default" recorded
    ) -> None:
        pass

    params = derive_schema(fn).parameters
    props = params["properties"]
    assert props["color"]["default"] == "green"
    assert props["pair"]["default"] == [1, 2]
    assert props["where"]["default"] == "notes"
    assert "default" not in props["marker"]
    assert params["required"] == []


def test_property_schemas_are_independent_copies() -> None:
    def fn(a: Point, b: Point) -> None:
        pass

    props = derive_schema(fn).parameters["properties"]
    assert props["a"] == props["b"]
    assert props["a"] is not props["b"]
    assert props["a"]["properties"] is not props["b"]["properties"]


# -- The context parameter ----------------------------------------------------------------------


def test_context_by_annotation_with_any_name() -> None:
    def fn(text: str, runtime: ToolContext) -> None:
        pass

    derived = derive_schema(fn)
    assert derived.context_param == "runtime"
    assert list(derived.parameters["properties"]) == ["text"]
    assert derived.parameters["required"] == ["text"]


@pytest.mark.parametrize(
    "annotation",
    [ToolContext, ToolContext | None, Optional[ToolContext]],  # noqa: UP045
)
def test_context_annotation_forms(annotation: Any) -> None:
    def fn(text: str, run=None):  # type: ignore[no-untyped-def]
        pass

    fn.__annotations__ = {"text": str, "run": annotation}
    assert derive_schema(fn).context_param == "run"


def test_context_by_name_without_annotation() -> None:
    def with_ctx(text: str, ctx=None):  # type: ignore[no-untyped-def]
        pass

    def with_context(context, text: str):  # type: ignore[no-untyped-def]
        pass

    assert derive_schema(with_ctx).context_param == "ctx"
    assert derive_schema(with_context).context_param == "context"
    assert list(derive_schema(with_context).parameters["properties"]) == ["text"]


def test_ctx_with_another_annotation_is_an_ordinary_parameter() -> None:
    def fn(context: str) -> None:
        pass

    derived = derive_schema(fn)
    assert derived.context_param is None
    assert derived.parameters["properties"] == {"context": {"type": "string"}}


def test_context_imported_only_for_type_checking_still_resolves() -> None:
    namespace: dict[str, Any] = {}
    source = (
        "from __future__ import annotations\n"
        "def note(text: str, run: ToolContext | None = None) -> None:\n"
        "    pass\n"
    )
    exec(source, namespace)  # a module that imports ToolContext only under TYPE_CHECKING
    assert derive_schema(namespace["note"]).context_param == "run"


def test_two_context_parameters_are_rejected() -> None:
    def fn(ctx: ToolContext, other: ToolContext) -> None:
        pass

    with pytest.raises(TypeError, match="'ctx' and 'other'"):
        derive_schema(fn)


# -- Errors -------------------------------------------------------------------------------------


def test_var_positional_is_rejected_naming_function_and_parameter() -> None:
    def gather(first: str, *rest: str) -> None:
        pass

    with pytest.raises(TypeError, match=r"gather\(\): parameter '\*rest'"):
        derive_schema(gather)


def test_var_keyword_is_rejected_naming_function_and_parameter() -> None:
    def configure(**options: Any) -> None:
        pass

    with pytest.raises(TypeError, match=r"configure\(\): parameter '\*\*options'"):
        derive_schema(configure)


def test_positional_only_is_rejected() -> None:
    def fn(x: int, /) -> None:
        pass

    with pytest.raises(TypeError, match="positional-only"):
        derive_schema(fn)


@pytest.mark.parametrize(
    ("annotation", "type_text"),
    [
        (bytes, "bytes"),
        (complex, "complex"),
        (list[bytes], "bytes"),
        (dict[int, str], "mapping keys must be str"),
        (Literal[b"x"], "b'x'"),
        (Node, "recursive"),
        (typing.TypeVar("T"), "~T"),
    ],
    ids=repr,
)
def test_unsupported_annotation_names_parameter_and_type(annotation: Any, type_text: str) -> None:
    def upload(payload):  # type: ignore[no-untyped-def]
        pass

    upload.__annotations__ = {"payload": annotation}
    with pytest.raises(TypeError) as info:
        derive_schema(upload)
    message = str(info.value)
    assert "upload()" in message
    assert "parameter 'payload'" in message
    assert type_text in message


def test_unresolvable_string_annotation_is_a_type_error() -> None:
    namespace: dict[str, Any] = {}
    exec(
        "from __future__ import annotations\ndef fn(x: Missing) -> None:\n    pass\n",
        namespace,
    )
    with pytest.raises(TypeError, match=r"fn\(\): cannot resolve.*Missing"):
        derive_schema(namespace["fn"])
