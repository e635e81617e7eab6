"""KT Terrarium's kernel: the public API for building agents and writing plugins.

``import kt`` is cheap: names are imported on first use (``kt.Agent`` loads the runtime and
trio; ``kt.hookimpl`` loads pluggy), so command-line tools and plugins that only need a few
names do not pay for the rest.

The surface, by purpose:

* Build and run: :class:`Agent`, :class:`TurnResult`, :class:`ToolCallRecord`, :class:`Kernel`,
  (pipelines: the ``kt_compose`` plugin; synchronous callers: the ``kt_portal`` plugin).
* Tools: :func:`tool`, :class:`ToolSpec`, :class:`ToolResult`, :class:`ToolContext`.
* Models: :class:`LLM`, :class:`LLMRequest`, :class:`LLMResult`, :class:`Message`,
  :class:`ToolCall`, :class:`Usage`, chunk types, :class:`LLMBackendSpec`, :class:`LLMProfile`.
* Plugins: :data:`hookimpl`, :class:`TurnContext`, :class:`StashKey`, the ``*Spec`` classes.
* Errors: :mod:`kt.errors` (every class is also a top-level name). Events: :mod:`kt.events`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# module -> the public names it holds, imported on first use
_MODULES = {
    "kt.runtime.agent": "Agent TurnStream",
    "kt.plugins.kernel": "Kernel LazySpec PluginInfo",
    "kt.results": "TurnResult ToolCallRecord",
    "kt.runtime.context": "TurnContext",
    "kt.runtime.stash": "Stash StashKey CHANNEL_SERVICE",
    "kt.runtime.jobs": "Job",
    "kt.tools": "tool ToolSpec ToolResult ToolContext",
    "kt.llm": "LLM LLMRequest LLMResult LLMDone LLMBackendSpec LLMProfile Message ContentPart "
    "TextChunk ToolCall ToolSchema Usage USE_CONFIG",
    "kt.formats": "ToolFormat ToolFormatSpec StreamParser",
    "kt.specs": "SubAgentSpec TriggerSpec InputSpec OutputSpec ControllerSpec SessionStoreSpec "
    "TransportSpec PromptSection RenderedPrompt",
    "kt.runtime.sessions": "SessionReader",
    "kt.config": "CreatureConfig load_creature_config",
    "kt.plugins": "hookimpl",
    "kt.errors": "KTError ConfigError ConfigNotFoundError ConfigValidationError "
    "InterpolationError UnknownNameError ModuleLoadError AgentStateError AgentNotStartedError "
    "AgentStoppedError AgentTerminatedError ToolError ToolNotFoundError ToolArgumentError "
    "ToolExecutionError ToolTimeoutError ToolBlockedError LLMError LLMConnectionError "
    "LLMTimeoutError LLMRateLimitError LLMContextOverflowError LLMAuthError LLMBadRequestError "
    "LLMResponseError LLMNotConfiguredError ScriptExhaustedError BudgetExceededError TurnError "
    "TurnCancelledError TurnInterruptedError TurnTimeoutError SubAgentError "
    "SubAgentNotFoundError SubAgentDepthError PluginError PluginBlockError PluginLoadError "
    "RegistryClashError",
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names.split()}

# public submodules, by the name users write after ``kt.``
_SUBMODULES = {
    "config": "kt.config",
    "errors": "kt.errors",
    "events": "kt.events",
    "history": "kt.history",
    "home": "kt.config.home",
    "hookspecs": "kt.plugins.hookspecs",
    "testing": "kt.testing",
}

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    raise AttributeError(f"module 'kt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load lazily
    from kt import config, errors, events, history, testing  # noqa: F401
    from kt.config import CreatureConfig, home, load_creature_config  # noqa: F401
    from kt.errors import *  # noqa: F403
    from kt.formats import StreamParser, ToolFormat, ToolFormatSpec  # noqa: F401
    from kt.llm import (  # noqa: F401
        LLM,
        USE_CONFIG,
        ContentPart,
        LLMBackendSpec,
        LLMDone,
        LLMProfile,
        LLMRequest,
        LLMResult,
        Message,
        TextChunk,
        ToolCall,
        ToolSchema,
        Usage,
    )
    from kt.plugins import hookimpl, hookspecs  # noqa: F401
    from kt.plugins.kernel import Kernel, LazySpec, PluginInfo  # noqa: F401
    from kt.results import ToolCallRecord, TurnResult  # noqa: F401
    from kt.runtime.agent import Agent, TurnStream  # noqa: F401
    from kt.runtime.context import TurnContext  # noqa: F401
    from kt.runtime.jobs import Job  # noqa: F401
    from kt.runtime.sessions import SessionReader  # noqa: F401
    from kt.runtime.stash import CHANNEL_SERVICE, Stash, StashKey  # noqa: F401
    from kt.specs import (  # noqa: F401
        ControllerSpec,
        InputSpec,
        OutputSpec,
        PromptSection,
        RenderedPrompt,
        SessionStoreSpec,
        SubAgentSpec,
        TransportSpec,
        TriggerSpec,
    )
    from kt.tools import ToolContext, ToolResult, ToolSpec, tool  # noqa: F401
