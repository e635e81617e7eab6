"""Tools: the ``@tool`` decorator, ``ToolSpec``, ``ToolResult`` and the per-call ``ToolContext``.

A tool is a plain function (sync or async) plus the facts the kernel needs to offer it to a
model and run it safely: a JSON schema for its arguments, whether it may run alongside writes
and shells, a timeout and an output cap. ``@tool`` derives all of that from the signature and
the docstring; plugins that need more control build a :class:`ToolSpec` directly.

Tools are registered per creature (``Agent.build(tools=[...])``, a config's ``tools`` list, or a
plugin's ``kt_tools`` hook): there is no global registry, so one function can serve many agents.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, overload

import attrs

from kt.llm import ContentPart, ToolSchema
from kt.tools import schema as _schema
from kt.tools.arguments import validate_arguments  # public: hosts that call tools check args
from kt.tools.context import ToolContext

__all__ = ["ToolContext", "ToolResult", "ToolSpec", "tool", "validate_arguments"]


@attrs.frozen
class ToolResult:
    """What a tool call produced.

    Tools may return a ``ToolResult`` to set an exit code, metadata or an error without raising.
    Plain return values are normalised by the kernel: ``str`` is the output, ``dict``/``list``
    become JSON text, ``None`` is empty output.

    Attributes:
        output: Text (or multimodal parts) for the model.
        error: An error message; a result with an error is reported with status ``error``.
        exit_code: For process-like tools; non-zero does not by itself mean an error.
        metadata: Structured facts for UIs and records (``truncated``, byte counts, ...).
    """

    output: str | tuple[ContentPart, ...] = ""
    error: str | None = None
    exit_code: int | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        """True when the result carries no error."""
        return self.error is None


@attrs.frozen
class ToolSpec:
    """Everything the kernel knows about one tool.

    A ``ToolSpec`` is callable: calling it calls the wrapped function directly, so a decorated
    function can still be used (and unit-tested) as a function.

    Attributes:
        name: The name the model calls.
        description: One paragraph for the model.
        parameters: JSON schema (``type: object``) of the arguments.
        fn: The function; sync functions run in a worker thread.
        context_param: The parameter that receives the :class:`ToolContext`, if any.
        concurrency_safe: ``False`` for tools with side effects (writes, shells): all unsafe
            tools of a creature share one lock, so they never overlap each other.
        timeout: Seconds before the call is cancelled; ``None`` uses the creature default.
        max_output: Output cap in UTF-8 bytes; ``None`` uses the creature default, ``0`` is
            unlimited.
        background: Always run in the background (the turn does not wait for it).
        body_arg: For text tool-call formats: the argument that receives the block body.
        guidance: A paragraph contributed to the system prompt when the tool is offered.
        inline: For a sync ``fn`` that is quick and never blocks (pure computation): run it
            in the creature's own thread instead of a worker thread, saving the hand-off.
            Never set it for a function that does I/O or may take long: it would stall every
            task of the process while it runs.
        plugin: The plugin that contributed it (filled in by the kernel's registry).
        configure: For tools that take options in a config entry
            (``tools = [{name = "bash", shell = "zsh"}]``): returns a configured copy. Options
            the kernel handles itself (``timeout``, ``max_output``, ``concurrency_safe``,
            ``background``) never reach it.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    fn: Callable[..., Any] = attrs.field(repr=False)
    context_param: str | None = None
    concurrency_safe: bool = True
    timeout: float | None = None
    max_output: int | None = None
    background: bool = False
    body_arg: str | None = None
    guidance: str | None = None
    inline: bool = False
    plugin: str = ""
    configure: Callable[[Mapping[str, Any]], ToolSpec] | None = attrs.field(
        default=None, repr=False
    )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped function directly (no validation, no hooks)."""
        return self.fn(*args, **kwargs)

    @property
    def schema(self) -> ToolSchema:
        """The schema offered to models for native tool calling."""
        return ToolSchema(self.name, self.description, self.parameters)

    @property
    def text_body_arg(self) -> str:
        """The argument a text-format block body fills.

        ``body_arg`` when set; else the tool's only required string parameter; else
        ``content``.
        """
        if self.body_arg:
            return self.body_arg
        props = self.parameters.get("properties", {})
        required = [
            n
            for n in self.parameters.get("required", [])
            if props.get(n, {}).get("type") == "string"
        ]
        return required[0] if len(required) == 1 else "content"

    @property
    def is_async(self) -> bool:
        """Whether ``fn`` is a coroutine function (else it runs in a worker thread)."""
        return inspect.iscoroutinefunction(self.fn)


@overload
def tool(fn: Callable[..., Any], /) -> ToolSpec: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    concurrency_safe: bool = True,
    timeout: float | None = None,
    max_output: int | None = None,
    background: bool = False,
    body_arg: str | None = None,
    guidance: str | None = None,
    inline: bool = False,
) -> Callable[[Callable[..., Any]], ToolSpec]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    concurrency_safe: bool = True,
    timeout: float | None = None,
    max_output: int | None = None,
    background: bool = False,
    body_arg: str | None = None,
    guidance: str | None = None,
    inline: bool = False,
) -> ToolSpec | Callable[[Callable[..., Any]], ToolSpec]:
    """Turn a function into a :class:`ToolSpec`; usable bare (``@tool``) or with options.

    The name is the function's name; the description is the docstring's first paragraph.
    Parameter descriptions come from Google (``Args:``), Sphinx (``:param x:``) or NumPy
    docstring sections. The JSON schema comes from the annotations: ``str``, ``int``,
    ``float``, ``bool``, ``list[T]``, ``tuple``, ``dict``, ``Literal[...]`` and ``Enum`` (as
    ``enum``), ``T | None`` (not required), dataclasses and ``TypedDict`` (nested objects).
    Parameters without a default are required; defaults are recorded.

    Args:
        fn: The function, when used bare.
        name: Override the tool name.
        description: Override the description.
        concurrency_safe: ``False`` serialises this tool with the creature's other unsafe tools.
        timeout: Seconds before the call is cancelled; ``None``: the creature default.
        max_output: Output cap in UTF-8 bytes; ``None``: the creature default; ``0``: no cap.
        background: Always run in the background.
        body_arg: For text formats, the argument that receives a block's body.
        guidance: A paragraph for the system prompt.
        inline: Run a quick, non-blocking sync function in the creature's thread (see
            :attr:`ToolSpec.inline`).

    Returns:
        A ``ToolSpec`` (or, with options, a decorator producing one).

    Raises:
        TypeError: for ``*args`` / ``**kwargs`` parameters or an unsupported annotation.
    """

    def decorate(func: Callable[..., Any]) -> ToolSpec:
        derived = _schema.derive_schema(func)
        return ToolSpec(
            name=name or func.__name__,
            description=description if description is not None else derived.description,
            parameters=derived.parameters,
            fn=func,
            context_param=derived.context_param,
            concurrency_safe=concurrency_safe,
            timeout=timeout,
            max_output=max_output,
            background=background,
            body_arg=body_arg,
            guidance=guidance,
            inline=inline,
        )

    if fn is not None:
        return decorate(fn)
    return decorate
