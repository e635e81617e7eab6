"""The kernel's own plugin, always registered: the default loop, ``native`` and ``scripted``.

The scripted backend lets the command line and subprocess tests run creatures with no network:
``--llm scripted:replies.toml`` plays the replies listed in the file (see
:func:`kt.testing.load_script` for the file format).
"""

from __future__ import annotations

from kt.formats import NATIVE, ToolFormatSpec
from kt.llm import LLM, LLMBackendSpec, LLMProfile
from kt.plugins.manager import hookimpl
from kt.specs import ControllerSpec


def _scripted(profile: LLMProfile) -> LLM:
    from pathlib import Path

    from kt.testing import ScriptedLLM, load_script

    path = Path(profile.model).expanduser()
    if not path.is_absolute() and profile.base_dir is not None:
        path = profile.base_dir / path  # a creature's own reply file sits beside it
    return ScriptedLLM(load_script(path), exhausted="raise")


def _default_loop(agent: object) -> object:
    from kt.runtime.controller import run_turn  # at build time: registering stays trio-free

    return run_turn


@hookimpl
def kt_controllers() -> list[ControllerSpec]:
    """The default reasoning loop: rounds of model call, tool dispatch and feedback."""
    return [ControllerSpec("default", _default_loop, "rounds of model call → tools → feedback")]


@hookimpl
def kt_tool_formats() -> list[ToolFormatSpec]:
    """The ``native`` format: the provider's own function calling."""
    return [ToolFormatSpec("native", lambda: NATIVE, "the provider's own function calling")]


@hookimpl
def kt_llm_backends() -> list[LLMBackendSpec]:
    """The ``scripted`` backend, which plays replies from a file."""
    return [
        LLMBackendSpec(
            "scripted",
            _scripted,
            "plays replies from a TOML or JSON file: --llm scripted:FILE (offline demos, tests)",
        )
    ]
