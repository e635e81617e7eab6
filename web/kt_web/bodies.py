"""Request bodies: attrs classes structured by Studio's one converter.

A body with a missing field, a field of the wrong type or a field the route does not know is a
:class:`~kt_web.errors.BodyError` (HTTP 400) naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from kt_web.errors import BodyError

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class StartBody:
    """Start a creature or terrarium."""

    config_path: str
    llm: str | None = None
    pwd: str | None = None
    name: str | None = None
    on_node: str | None = None


@attrs.frozen(kw_only=True)
class ChatBody:
    """One chat turn."""

    message: str
    timeout: float | None = None


@attrs.frozen(kw_only=True)
class EditBody:
    """The new text of a user message."""

    content: str


@attrs.frozen(kw_only=True)
class BranchBody:
    """A branch to make live: its path, as ``/history`` lists it (``[1, 2]``)."""

    path: tuple[int, ...]


@attrs.frozen(kw_only=True)
class ModelBody:
    """A model selector."""

    model: str


@attrs.frozen(kw_only=True)
class DefaultModelBody:
    """The default model selector (``null`` clears it)."""

    model: str | None


@attrs.frozen(kw_only=True)
class ChannelBody:
    """A new channel."""

    name: str
    kind: str = "broadcast"
    description: str = ""


@attrs.frozen(kw_only=True)
class SendBody:
    """A channel message."""

    content: str
    sender: str = "human"


@attrs.frozen(kw_only=True)
class ConnectBody:
    """A sender → receiver edge."""

    sender: str
    receiver: str
    channel: str | None = None


@attrs.frozen(kw_only=True)
class WireBody:
    """An output wire."""

    source: str
    target: str
    with_content: bool = True
    prompt: str | None = None
    max_hops: int | None = None
    allow_self_trigger: bool = False


@attrs.frozen(kw_only=True)
class UnwireBody:
    """The wire(s) to remove: an edge id or a target."""

    source: str
    wire: str


@attrs.frozen(kw_only=True)
class TriggerBody:
    """A trigger to start on a running creature."""

    type: str
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class WorkingDirBody:
    """A creature's new working directory."""

    path: str


@attrs.frozen(kw_only=True)
class ResumeBody:
    """Options of a resume."""

    llm: str | None = None


@attrs.frozen(kw_only=True)
class ForkBody:
    """Where to fork a saved session."""

    at_event_id: int | None = None
    name: str | None = None


@attrs.frozen(kw_only=True)
class KeyBody:
    """An API key to store."""

    key: str


@attrs.frozen(kw_only=True)
class EndpointBody:
    """A custom model endpoint."""

    name: str
    base_url: str
    backend: str = "openai"
    model: str = ""
    api_key_env: str | None = None


@attrs.frozen(kw_only=True)
class McpServerBody:
    """A server for the MCP registry."""

    name: str
    settings: Mapping[str, Any]
    replace: bool = False


@attrs.frozen(kw_only=True)
class InstallBody:
    """A pack to install."""

    source: str
    editable: bool = False


def parse(data: Any, cls: type[T]) -> T:
    """Structure a JSON body into *cls*.

    Raises:
        BodyError: the body is not an object, or a field is missing, unknown or mistyped.
    """
    import cattrs

    from kt_studio.convert import converter

    if not isinstance(data, Mapping):
        raise BodyError(f"the body must be a JSON object with {_fields(cls)}", field="$")
    try:
        return converter().structure(dict(data), cls)
    except cattrs.BaseValidationError as exc:
        problems = cattrs.transform_error(exc, path="$")
        field = problems[0].rsplit(" @ ", 1)[-1] if problems else "$"
        raise BodyError(
            f"{'; '.join(problems)}; the body takes {_fields(cls)}", field=field
        ) from None


def _fields(cls: type) -> str:
    parts = []
    for field in attrs.fields(cls):
        optional = field.default is not attrs.NOTHING
        parts.append(f"{field.name}{'?' if optional else ''}")
    return "{" + ", ".join(parts) + "}"
