"""``bash`` and ``python``: run a command or a script in the creature's working directory.

Both run the program in its own process group, merge stdout and stderr, keep the output of a
command that ran too long, and kill the whole group on a time limit, an interrupt or a stop
(see :mod:`kt_tools.process`). The kernel caps what the model sees (``max_output``).

Time limits: the per-call ``timeout`` argument, else the tool's configured ``timeout``, else 60
seconds. The tool enforces its own limit so that it can report partial output; the kernel's
limit for these tools is off unless a config sets one, and then the tool stops the command just
before the kernel would.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from typing import Literal

import attrs

import kt
from kt.config.home import kt_home
from kt.errors import ConfigValidationError
from kt_tools.common import configurable, fail
from kt_tools.isolation import ISOLATION_MODES, bwrap_argv, check_available
from kt_tools.process import run_command
from kt_tools.secrets import backend_key_vars, tool_environment

DEFAULT_TIME_LIMIT = 60.0
SHELLS = ("bash", "zsh", "sh", "fish", "pwsh", "powershell")
_FAKE_WAIT = re.compile(r"wait|still running|in progress|running in the background", re.I)


@attrs.frozen
class ShellOptions:
    """Options of ``bash`` and ``python`` in a creature config.

    Attributes:
        shell: ``bash`` only: the shell used when a call does not name one.
        env: Extra environment variables for the command.
        capture_bytes: Output kept from one command (the model sees at most ``max_output``).
        kill_grace: Seconds between ``SIGTERM`` and ``SIGKILL`` when a command is stopped.
        reject_fake_waits: ``bash`` only: refuse ``sleep ...`` and ``echo "waiting..."``.
        interpreter: ``python`` only: the interpreter; default: the one running kt.
        pass_env: Secret variables to pass to the command anyway (by default every provider
            key and every ``*_API_KEY``, ``*_TOKEN``, ``*_SECRET*`` ... variable is removed;
            see :mod:`kt_tools.secrets`).
        isolation: ``none`` (default): the command runs as kt's user, with its access;
            ``bwrap``: in a bubblewrap sandbox (see :mod:`kt_tools.isolation`). The tool is
            refused at build time when bubblewrap cannot sandbox on this machine.
        isolation_network: With ``bwrap``: keep the network (default: none).
        isolation_writable: With ``bwrap``: folders writable besides the working directory.
        isolation_hidden: With ``bwrap``: files and folders hidden besides the kt home,
            ``~/.ssh``, ``~/.aws``, ``~/.gnupg``, ``~/.netrc`` and ``~/.config/gcloud``.
    """

    shell: str = "bash"
    env: Mapping[str, str] = attrs.field(factory=dict)
    capture_bytes: int = 1_048_576
    kill_grace: float = 2.0
    reject_fake_waits: bool = True
    interpreter: str = ""
    pass_env: tuple[str, ...] = ()
    isolation: str = "none"
    isolation_network: bool = False
    isolation_writable: tuple[str, ...] = ()
    isolation_hidden: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.isolation not in ISOLATION_MODES:
            raise ConfigValidationError(
                f"option 'isolation' must be one of {', '.join(ISOLATION_MODES)}, not "
                f"{self.isolation!r}",
                path="options.isolation",
            )

    def wrap(self, tool: str, argv: list[str], ctx: kt.ToolContext) -> list[str]:
        """*argv* as it is started: inside bubblewrap when ``isolation = "bwrap"``."""
        if self.isolation == "none":
            return argv
        kernel = getattr(ctx.agent, "kernel", None)
        environ = getattr(kernel, "env", None) or os.environ
        return bwrap_argv(
            check_available(tool),
            argv,
            working_dir=ctx.working_dir,
            kt_home=kt_home(environ),
            network=self.isolation_network,
            writable=self.isolation_writable,
            hidden=self.isolation_hidden,
        )


def find_shell(kind: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The executable for shell *kind*, or ``None`` when it is not installed.

    Looked up in order: ``KT_<KIND>_PATH``, ``KT_SHELL_PATH``, ``$SHELL`` when it is that kind
    of shell (bash, zsh and sh only), then ``PATH``.
    """
    environ = os.environ if environ is None else environ
    for var in (f"KT_{kind.upper()}_PATH", "KT_SHELL_PATH"):
        if environ.get(var):
            return environ[var]
    login = environ.get("SHELL", "")
    if kind in ("bash", "zsh", "sh") and os.path.basename(login) == kind:
        return login
    return shutil.which(kind)


def _shell_argv(kind: str, executable: str, command: str) -> list[str]:
    if kind in ("pwsh", "powershell"):
        return [executable, "-NoLogo", "-NoProfile", "-NonInteractive", "-Command", command]
    return [executable, "-c", command]


def _time_limit(
    requested: float | None, ctx: kt.ToolContext
) -> tuple[float | None, kt.ToolResult | None]:
    """The limit for this call, and an error for a bad ``timeout`` argument."""
    if requested is not None and requested < 0:
        return None, fail("timeout must be 0 (no limit) or a positive number of seconds")
    spec = ctx.agent.tools.get(ctx.call.name) if ctx.agent is not None else None
    kernel_limit = spec.timeout if spec is not None and spec.timeout else None
    limit = requested if requested is not None else (kernel_limit or DEFAULT_TIME_LIMIT)
    if kernel_limit:  # stop just before the kernel cancels the call, so output is kept
        limit = min(limit or kernel_limit, max(kernel_limit - 0.05, kernel_limit * 0.95))
    return (limit or None), None


def _fake_wait(command: str) -> bool:
    words = command.strip().split(None, 1)
    if not words:
        return False
    return words[0] == "sleep" or (words[0] == "echo" and bool(_FAKE_WAIT.search(command)))


def _env(options: ShellOptions, ctx: kt.ToolContext) -> dict[str, str]:
    """The command's environment: kt's, without its secrets, plus the tool's ``env``."""
    kernel = getattr(ctx.agent, "kernel", None)
    base = tool_environment(os.environ, keep=options.pass_env, key_vars=backend_key_vars(kernel))
    return {**base, **{k: str(v) for k, v in options.env.items()}}


def _result(outcome, *, label: str, limit: float | None, meta: dict) -> kt.ToolResult:
    output = outcome.output
    if outcome.total_bytes > len(output.encode("utf-8", errors="replace")):
        kept = len(outcome.output.encode("utf-8", errors="replace"))
        output += f"\n[output cut: kept {kept} of {outcome.total_bytes} bytes]"
    meta = {**meta, "exit_code": outcome.exit_code, "output_bytes": outcome.total_bytes}
    if outcome.timed_out:
        return kt.ToolResult(
            output=output,
            exit_code=-1,
            error=f"{label} timed out after {limit:g}s and was killed (its whole process "
            "group); the output so far is above. Pass a larger timeout, or 0 for none.",
            # "timeout" makes the kernel record the call with status "timeout"
            metadata={**meta, "timeout": True, "error_type": "ToolTimeoutError"},
        )
    if outcome.exit_code != 0:
        return kt.ToolResult(
            output=output,
            exit_code=outcome.exit_code,
            error=f"{label} exited with code {outcome.exit_code}",
            metadata=meta,
        )
    return kt.ToolResult(output=output, exit_code=0, metadata=meta)


def _bash(options: ShellOptions) -> kt.ToolSpec:
    @kt.tool(
        name="bash",
        concurrency_safe=False,
        timeout=0,
        body_arg="command",
        guidance=(
            "bash runs one command and returns its output. Results of background jobs arrive "
            "by themselves: never run `sleep` or echo a 'waiting' message to wait for them; "
            "end your turn instead."
        ),
    )
    async def bash(
        command: str,
        type: Literal["bash", "zsh", "sh", "fish", "pwsh", "powershell"] | None = None,
        timeout: float | None = None,
        ctx: kt.ToolContext = None,
    ) -> kt.ToolResult:
        """Run a shell command in the working directory and return its output.

        stdout and stderr are merged. A non-zero exit is reported as an error with the output
        kept. The command runs in its own process group, which is killed as a whole when it
        runs too long or the turn is interrupted.

        Args:
            command: The command line, e.g. "ls -la" or "pytest -q tests/".
            type: The shell to use: bash (default), zsh, sh, fish, pwsh or powershell.
            timeout: Seconds before the command is killed (default 60; 0 = no limit).
            ctx: Injected by the kernel.
        """
        kind = type or options.shell
        if not command.strip():
            return fail("command is empty; give the command line to run")
        if options.reject_fake_waits and _fake_wait(command):
            return fail(
                "this command only waits. Background results arrive automatically as a new "
                "message when they are ready: do not sleep or echo to wait for them; simply "
                "end your turn (or do other work meanwhile)."
            )
        environ = _env(options, ctx)
        executable = find_shell(kind, environ)
        if executable is None:
            available = [s for s in SHELLS if find_shell(s, environ) is not None]
            return fail(
                f"shell '{kind}' is not installed; available here: "
                f"{', '.join(available) or 'none'}. Pass type= one of those."
            )
        limit, error = _time_limit(timeout, ctx)
        if error is not None:
            return error
        try:
            outcome = await run_command(
                options.wrap("bash", _shell_argv(kind, executable, command), ctx),
                cwd=ctx.working_dir,
                env=environ,
                time_limit=limit,
                capture_bytes=options.capture_bytes,
                kill_grace=options.kill_grace,
            )
        except OSError as exc:
            return fail(f"could not start {executable}: {exc.strerror or exc}")
        meta = {"shell": kind, "executable": executable, "time_limit": limit}
        return _result(outcome, label="Command", limit=limit, meta=meta)

    return bash


def _python(options: ShellOptions) -> kt.ToolSpec:
    @kt.tool(name="python", timeout=0, body_arg="code")
    async def python(
        code: str, timeout: float | None = None, ctx: kt.ToolContext = None
    ) -> kt.ToolResult:
        """Run a Python script in a new interpreter in the working directory.

        Returns what it prints (stdout and stderr merged). A non-zero exit is reported as an
        error with the output kept. Nothing is kept between calls: each call is a new process.

        Args:
            code: The Python source to run.
            timeout: Seconds before the script is killed (default 60; 0 = no limit).
            ctx: Injected by the kernel.
        """
        limit, error = _time_limit(timeout, ctx)
        if error is not None:
            return error
        interpreter = options.interpreter or sys.executable
        try:
            outcome = await run_command(
                options.wrap("python", [interpreter, "-c", code], ctx),
                cwd=ctx.working_dir,
                env=_env(options, ctx),
                time_limit=limit,
                capture_bytes=options.capture_bytes,
                kill_grace=options.kill_grace,
            )
        except OSError as exc:
            return fail(f"could not start {interpreter}: {exc.strerror or exc}")
        meta = {"interpreter": interpreter, "time_limit": limit}
        return _result(outcome, label="Python", limit=limit, meta=meta)

    return python


def _checked_build(build: Callable[[ShellOptions], kt.ToolSpec], name: str):
    """*build*, refusing (at build time) an isolation this machine cannot provide."""

    def checked(options: ShellOptions) -> kt.ToolSpec:
        if options.isolation == "bwrap":
            check_available(name)
        return build(options)

    return checked


bash = configurable(_checked_build(_bash, "bash"), ShellOptions(), "bash")
python = configurable(_checked_build(_python, "python"), ShellOptions(), "python")
