"""The built-in tools are registered by name and imported on first use."""

from __future__ import annotations

import pytest

import kt
import kt_tools
from kt_tools.data import ScratchpadWritten, scratchpad_of
from kt_tools.interact import CardShown, UserQuestion, UserReply, answer, pending_questions


def test_the_hook_names_every_tool_in_its_module():
    lazy = kt_tools.kt_tools()
    assert all(isinstance(spec, kt.LazySpec) for spec in lazy)
    assert [spec.name for spec in lazy] == list(kt_tools.TOOL_MODULES)
    kernel = kt.Kernel(plugins=["kt_tools"])
    for spec in lazy:
        loaded = kernel.tools[spec.name]
        assert loaded.name == spec.name and loaded.plugin == "kt_tools"
        assert loaded.fn.__module__.startswith(f"kt_tools.{kt_tools.TOOL_MODULES[spec.name]}")


def test_public_names_load_from_their_modules():
    assert (kt_tools.CardShown, kt_tools.UserQuestion, kt_tools.UserReply) == (
        CardShown,
        UserQuestion,
        UserReply,
    )
    assert (kt_tools.answer, kt_tools.pending_questions) == (answer, pending_questions)
    assert (kt_tools.ScratchpadWritten, kt_tools.scratchpad_of) == (
        ScratchpadWritten,
        scratchpad_of,
    )
    assert kt_tools._SCRATCHPAD_WRITE == ScratchpadWritten.type
    assert [spec.name for spec in kt_tools.TOOLS] == list(kt_tools.TOOL_MODULES)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        kt_tools.nope  # noqa: B018
