"""Shared by the image tests of kt_multimodal and the backends: a real PNG, and a check of
wire messages against an official SDK's param types."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

# A real 1x1 PNG: signature, IHDR, IDAT and IEND chunks with their checksums.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()
PNG_URL = f"data:image/png;base64,{PNG_B64}"


def sdk_valid(param_type: Any, items: list[dict[str, Any]]) -> None:
    """Fail unless each item is a valid *param_type* (an SDK ``TypedDict`` or union of them).

    pydantic checks an ``Iterable[...]`` field lazily, as it is consumed; every nested
    iterable is consumed here so that a part the SDK does not allow fails.
    """
    import pydantic

    adapter = pydantic.TypeAdapter(param_type)

    def consume(value: Any) -> None:
        if isinstance(value, dict):
            for each in value.values():
                consume(each)
        elif isinstance(value, Iterable) and not isinstance(value, str | bytes):
            for each in value:
                consume(each)

    for item in items:
        consume(adapter.validate_python(item))
