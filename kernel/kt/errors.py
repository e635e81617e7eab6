"""The typed exception hierarchy: every error kt raises on purpose is a ``KTError``.

Messages name the problem *and* the fix (the key path, the missing extra, the command to run).
Failures inside a turn (a tool that raised, a model that errored) are reported in the
``TurnResult`` rather than raised; these classes then appear as ``result.error`` or as
``ToolCallRecord.error_type``.

::

    KTError
    ├── ConfigError
    │   ├── ConfigNotFoundError        a config file, base_config or prompt file is missing
    │   ├── ConfigValidationError      unknown key, wrong type, bad value; names the key path
    │   ├── InterpolationError         malformed ${...}
    │   └── UnknownNameError           a tool / sub-agent / trigger / backend name nobody provides
    ├── ModuleLoadError                a ``module:Class`` reference could not be imported or built
    ├── AgentStateError
    │   ├── AgentNotStartedError
    │   ├── AgentStoppedError
    │   └── AgentTerminatedError
    ├── ToolError
    │   ├── ToolNotFoundError
    │   ├── ToolArgumentError          arguments are not valid JSON or do not match the schema
    │   ├── ToolExecutionError         the tool raised; the original is ``__cause__``
    │   ├── ToolTimeoutError
    │   └── ToolBlockedError           a plugin vetoed the call
    ├── LLMError
    │   ├── LLMConnectionError
    │   ├── LLMTimeoutError            ``retry_after`` seconds, when the provider said (HTTP 408)
    │   ├── LLMServerError             HTTP 5xx / 529 / "overloaded"; ``retry_after`` when said
    │   ├── LLMRateLimitError          ``retry_after`` seconds, when the provider said
    │   ├── LLMContextOverflowError
    │   ├── LLMAuthError
    │   ├── LLMBadRequestError
    │   ├── LLMResponseError           malformed stream or tool call
    │   ├── LLMNotConfiguredError      no backend / key could be resolved
    │   └── ScriptExhaustedError       a strict ``ScriptedLLM`` ran out of entries
    ├── BudgetExceededError
    ├── TurnError
    │   ├── TurnCancelledError
    │   ├── TurnInterruptedError
    │   └── TurnTimeoutError           (raised only by ``TurnResult.raise_for_status()``)
    ├── SubAgentError
    │   ├── SubAgentNotFoundError
    │   └── SubAgentDepthError
    └── PluginError
        ├── PluginBlockError           raised by a pre-hook to veto the operation
        ├── PluginLoadError            a plugin could not be imported or registered
        └── RegistryClashError         two plugins registered the same name
"""

from os import PathLike as _PathLike  # private: the star import of this module gives errors only


class KTError(Exception):
    """Base class of every error kt raises deliberately."""


# -- Configuration ------------------------------------------------------------------------------


class ConfigError(KTError):
    """A creature or terrarium config cannot be used.

    Attributes:
        path: The key path inside the config (``"tools[2].name"``), or ``""`` for the whole file.
        file: The file the problem is in (as a string; a ``Path`` given is converted), or
            ``None``.
    """

    def __init__(self, message: str, *, path: str = "", file: str | _PathLike | None = None):
        self.path = path
        self.file = None if file is None else str(file)
        where = [w for w in (self.file, f"at '{path}'" if path else "") if w]
        super().__init__(f"{' '.join(where)}: {message}" if where else message)
        self.message = message


class ConfigNotFoundError(ConfigError):
    """A config file, a ``base_config`` target or a prompt file does not exist."""


class ConfigValidationError(ConfigError):
    """A key is unknown, has the wrong type, or has a value out of range."""


class InterpolationError(ConfigError):
    """A ``${VAR}`` / ``${VAR:default}`` reference is malformed."""


class UnknownNameError(ConfigError):
    """A config names a tool, sub-agent, trigger, plugin or backend that no plugin provides."""


class ModuleLoadError(KTError):
    """A ``module:Class`` reference in a config could not be imported or instantiated."""


# -- Agent lifecycle ----------------------------------------------------------------------------


class AgentStateError(KTError):
    """The agent is in the wrong state for the call."""


class AgentNotStartedError(AgentStateError):
    """The agent was used before ``async with agent`` (or ``await agent.start()``)."""


class AgentStoppedError(AgentStateError):
    """The agent was stopped; build a new one to continue."""


class AgentTerminatedError(AgentStateError):
    """A ``[termination]`` limit ended the agent's run; it takes no more turns."""


# -- Tools --------------------------------------------------------------------------------------


class ToolError(KTError):
    """A tool call failed. Inside a turn this becomes an error result the model sees."""


class ToolNotFoundError(ToolError):
    """The model (or a caller) named a tool the creature does not have."""


class ToolArgumentError(ToolError):
    """Arguments were not valid JSON, or did not match the tool's schema."""


class ToolExecutionError(ToolError):
    """The tool raised; the original exception is ``__cause__``."""


class ToolTimeoutError(ToolError):
    """The tool ran past its timeout and was cancelled."""


class ToolBlockedError(ToolError):
    """A plugin vetoed the call with ``PluginBlockError``."""


# -- LLM backends -------------------------------------------------------------------------------


class LLMError(KTError):
    """The model backend failed.

    Attributes:
        retryable: Whether a retry (before any chunk was streamed) may succeed.
    """

    retryable: bool = False


class LLMConnectionError(LLMError):
    """The endpoint could not be reached."""

    retryable = True


class LLMTimeoutError(LLMError):
    """The endpoint did not answer (or stalled mid-stream) within the timeout.

    Attributes:
        retry_after: Seconds the provider asked us to wait (an HTTP 408's ``Retry-After``).
    """

    retryable = True

    def __init__(self, message: str = "timed out", *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class LLMServerError(LLMError):
    """The provider failed on its side (HTTP 5xx, 529, an "overloaded" event); worth a retry.

    Attributes:
        retry_after: Seconds the provider asked us to wait (``Retry-After``), when it said.
    """

    retryable = True

    def __init__(self, message: str = "server error", *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class LLMRateLimitError(LLMError):
    """The provider asked us to slow down.

    Attributes:
        retry_after: Seconds the provider asked us to wait, when it said.
    """

    retryable = True

    def __init__(self, message: str = "rate limited", *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class LLMContextOverflowError(LLMError):
    """The request does not fit the model's context window."""


class LLMAuthError(LLMError):
    """The API key is missing, wrong or lacks access."""


class LLMBadRequestError(LLMError):
    """The provider rejected the request as malformed."""


class LLMResponseError(LLMError):
    """The response stream or a tool call in it was malformed."""


class LLMNotConfiguredError(LLMError):
    """No backend could be resolved for the creature (no ``llm=``, no profile, no key)."""


class ScriptExhaustedError(LLMError):
    """A ``ScriptedLLM`` created with ``exhausted="raise"`` was called past its last entry."""


# -- Turns and budgets --------------------------------------------------------------------------


class BudgetExceededError(KTError):
    """An iteration, token, tool-call or time budget ran out."""


class TurnError(KTError):
    """Raised by ``TurnResult.raise_for_status()`` for a turn that did not complete."""


class TurnCancelledError(TurnError):
    """The turn was cancelled from outside."""


class TurnInterruptedError(TurnError):
    """The turn was interrupted with ``agent.interrupt()``."""


class TurnTimeoutError(TurnError):
    """The turn ran past its ``timeout``."""


# -- Sub-agents ---------------------------------------------------------------------------------


class SubAgentError(KTError):
    """A sub-agent could not be run."""


class SubAgentNotFoundError(SubAgentError):
    """No sub-agent of that name is configured."""


class SubAgentDepthError(SubAgentError):
    """Starting the sub-agent would pass ``max_subagent_depth``."""


# -- Plugins ------------------------------------------------------------------------------------


class PluginError(KTError):
    """A plugin misbehaved or could not be used."""


class PluginBlockError(PluginError):
    """Raise from a ``kt_pre_*`` hook to veto the operation.

    The message reaches the model as the error of the vetoed tool call (or LLM call) in the same
    turn, so write it for the model: say what is not allowed and what to do instead.
    """


class PluginLoadError(PluginError):
    """A plugin could not be imported or registered."""


class RegistryClashError(PluginError):
    """Two plugins contributed the same name to one registry."""
