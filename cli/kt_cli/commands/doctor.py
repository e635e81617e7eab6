"""``kt doctor``: check the installation, the plugin set and (optionally) one creature."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs
import click

from kt.errors import KTError, LLMNotConfiguredError
from kt_cli.reporting import hint_for
from kt_cli.state import CliState, common_options, pass_state

if TYPE_CHECKING:
    from kt import Agent, Kernel
    from kt.config import CreatureConfig

Status = Literal["OK", "WARN", "FAIL"]

OFFLINE_HINT = "for an offline run, use --llm scripted:FILE (a TOML file of [[replies]])"


@attrs.frozen
class Check:
    """The outcome of one check, printed as one line (and a ``fix:`` line when given).

    Attributes:
        status: ``OK``; ``WARN`` (works, but something is missing or odd); ``FAIL`` (something
            the user asked for cannot work).
        subject: What was checked (``kt home``, ``model`` ...).
        detail: What was found.
        fix: What to do about a ``WARN`` or ``FAIL``; ``""`` when nothing.
    """

    status: Status
    subject: str
    detail: str
    fix: str = ""


def check_python() -> Check:
    """Report the Python kt runs on (3.11 or newer, or kt would not have started)."""
    version = ".".join(str(n) for n in sys.version_info[:3])
    return Check("OK", "python", f"{version} ({sys.executable})")


def check_kt() -> Check:
    """Report the kt version and where the kernel is imported from."""
    import kt

    return Check("OK", "kt", f"kt-terrarium {kt.__version__} ({Path(kt.__file__).parent})")


def check_home() -> Iterator[Check]:
    """Check the kt home folder (``KT_HOME`` or ``~/.kt``) and the user config in it."""
    from kt.config.home import kt_home, user_config

    home = kt_home()
    origin = " (from KT_HOME)" if os.environ.get("KT_HOME") else ""
    if not home.exists():
        yield Check(
            "WARN",
            "kt home",
            f"{home}{origin} does not exist yet",
            f"create it with `mkdir -p {home}`, or point KT_HOME at another folder",
        )
        return
    if not home.is_dir():
        yield Check("FAIL", "kt home", f"{home}{origin} is not a folder", "set KT_HOME to a folder")
        return
    try:
        with tempfile.TemporaryFile(dir=home):
            pass
    except OSError as exc:
        yield Check(
            "FAIL",
            "kt home",
            f"{home}{origin} is not writable ({exc.strerror})",
            "kt keeps sessions, keys and packages there: fix its permissions or set KT_HOME",
        )
        return
    yield Check("OK", "kt home", f"{home}{origin} (writable)")
    config_file = home / "config.toml"
    if config_file.is_file():
        try:
            user_config()
        except KTError as exc:
            yield Check("FAIL", "user config", str(exc))
        else:
            yield Check("OK", "user config", str(config_file))


def check_plugins(state: CliState) -> tuple[list[Check], Kernel | None]:
    """Build the invocation's kernel; report its plugins, the ones that failed, and clashes.

    Returns:
        The checks, and the kernel (``None`` when it could not be built).
    """
    try:
        kernel = state.kernel()
        source = state.plugin_set_source()
    except KTError as exc:
        return [Check("FAIL", "plugins", str(exc), hint_for(exc) or "")], None
    names = kernel.plugin_names
    checks = []
    if names:
        checks.append(
            Check("OK", "plugins", f"{len(names)} loaded ({', '.join(names)}); chosen by {source}")
        )
    elif source == "every installed plugin" and not kernel.failures:
        checks.append(
            Check(
                "WARN",
                "plugins",
                "none installed: only the bare kernel is available",
                "install kt-terrarium (`pip install -e .` in a checkout) so its plugins' entry "
                "points can be found",
            )
        )
    else:
        checks.append(Check("OK", "plugins", f"none loaded (the bare kernel); chosen by {source}"))
    for failure in kernel.failures:
        checks.append(
            Check(
                "WARN",
                f"plugin {failure.name}",
                f"failed to load: {failure.reason}",
                "install what it needs, or leave it out with --plugins NAME,... or KT_PLUGINS",
            )
        )
    for clash in kernel.clashes:
        checks.append(
            Check(
                "WARN",
                f"{clash.kind} {clash.name}",
                f"registered by both plugin '{clash.kept}' and plugin '{clash.ignored}'; "
                f"using the one from '{clash.kept}'",
                f"to use the one from '{clash.ignored}', add `{clash.name} = "
                f'"{clash.ignored}"` to [kt.prefer] in the user config, or uninstall one of the '
                "two plugins",
            )
        )
    return checks, kernel


def _origin(kernel: Kernel, backend: str) -> str:
    origin = kernel.llm_backends.origin(backend)
    return "kernel" if origin == "kt.builtin" else origin


def check_backends(kernel: Kernel) -> Check:
    """Report the installed LLM backends; only ``scripted`` means no real model can be used."""
    names = sorted(kernel.llm_backends)
    listed = ", ".join(f"{name} ({_origin(kernel, name)})" for name in names)
    if set(names) <= {"scripted"}:
        return Check(
            "WARN",
            "llm backends",
            f"{listed or 'none'}: scripted replies only",
            "install or enable a provider plugin (such as kt_openai) to talk to a real model",
        )
    return Check("OK", "llm backends", listed)


def check_target(target: str, kernel: Kernel, llm_selector: str | None) -> Iterator[Check]:
    """Check one creature: its config, its model selection, and that it builds.

    The build uses a scripted placeholder model, so tools, plugins, sub-agents and the tool
    format are resolved without a key or a network.
    """
    from kt.config import load_creature_config

    try:
        config = load_creature_config(target, resolve_ref=kernel.resolve_ref)
    except KTError as exc:
        yield Check("FAIL", "config", str(exc), hint_for(exc) or "")
        return
    where = config.files[-1] if config.files else target
    yield Check("OK", "config", f"creature '{config.name}' ({where})")
    yield _check_model(config, kernel, llm_selector)
    yield _check_build(config, kernel)


def _loaded(target: str, kernel: Kernel) -> CreatureConfig | None:
    """TARGET's config for the plugins' checks; ``None`` when it does not load.

    The config check reports why it does not.
    """
    from kt.config import load_creature_config

    try:
        return load_creature_config(target, resolve_ref=kernel.resolve_ref)
    except KTError:
        return None


def _build(config: CreatureConfig, kernel: Kernel, **options: Any) -> Agent:
    import trio

    from kt import Agent

    return trio.run(partial(Agent.build, config, kernel=kernel, **options))


def _check_model(config: CreatureConfig, kernel: Kernel, llm_selector: str | None) -> Check:
    # Build the creature without what the build check covers, so this check sees only the
    # model selection: the selector (from --llm or [controller]) and the backend's verdict.
    model_only = attrs.evolve(
        config,
        tools=(),
        subagents=(),
        plugins=(),
        controller=attrs.evolve(config.controller, tool_format="native"),
    )
    try:
        agent = _build(model_only, kernel, llm_selector=llm_selector)
    except LLMNotConfiguredError as exc:
        return Check("WARN", "model", str(exc), OFFLINE_HINT)
    except KTError as exc:
        return Check("FAIL", "model", str(exc), hint_for(exc) or "")
    selector = agent.llm_name
    for backend in kernel.llm_backends:
        if selector == backend or selector.startswith((f"{backend}:", f"{backend}/")):
            origin = f"backend '{backend}' from {_origin(kernel, backend)}"
            return Check("OK", "model", f"{selector} ({origin})")
    return Check("OK", "model", f"{selector} ({type(agent.llm).__name__})")


def _check_build(config: CreatureConfig, kernel: Kernel) -> Check:
    from kt.testing import ScriptedLLM

    placeholder = ScriptedLLM(["(kt doctor placeholder model)"])
    try:
        agent = _build(config, kernel, llm=placeholder)
    except KTError as exc:
        return Check("FAIL", "build", str(exc), hint_for(exc) or "")
    tools = ", ".join(agent.tools) or "none"
    plugins = ", ".join(entry.name for entry in config.plugins) or "none"
    return Check(
        "OK",
        "build",
        f"tools: {tools}; tool format: {config.controller.tool_format}; creature plugins: "
        f"{plugins}",
    )


def plugin_doctor_checks(
    kernel: Kernel, *, online: bool, config: CreatureConfig | None = None
) -> list[Check]:
    """Checks contributed through ``kt_doctor_checks``, one plugin at a time."""
    from kt_cli.plugin import add_cli_hookspecs

    add_cli_hookspecs(kernel.pm)
    checks = []
    caller = kernel.pm.hook.kt_doctor_checks
    for impl in reversed(caller.get_hookimpls()):
        try:
            found = impl.function(
                **{
                    name: {"kernel": kernel, "online": online, "config": config}[name]
                    for name in impl.argnames
                }
            )
        except Exception as exc:  # one plugin's broken check must not hide the others
            checks.append(
                Check(
                    "FAIL",
                    f"plugin {impl.plugin_name}",
                    f"its doctor checks raised {type(exc).__name__}: {exc}",
                    "report this to the plugin's authors",
                )
            )
            continue
        for item in found or []:
            checks.append(
                Check(str(item.status), item.subject, item.detail, getattr(item, "fix", "") or "")
            )
    return checks


def _print(check: Check, echo: Callable[[str], None]) -> None:
    echo(f"{check.status:<5} {check.subject}: {check.detail}")
    if check.fix and check.status != "OK":
        echo(f"      fix: {check.fix}")


@click.command("doctor")
@click.argument("target", required=False)
@click.option(
    "--llm",
    "llm_selector",
    metavar="SELECTOR",
    help="Check this model selection for TARGET instead of the config's (as `kt run --llm`).",
)
@click.option(
    "--online", is_flag=True, help="Let plugins' checks contact the network (endpoints, keys)."
)
@common_options
@pass_state
def doctor(state: CliState, target: str | None, llm_selector: str | None, online: bool) -> None:
    """Check the installation and, given a TARGET creature, its config.

    Prints one OK / WARN / FAIL line per check, with a `fix:` line under problems: Python,
    the kt home (KT_HOME or ~/.kt) and user config, the plugin set and plugins that failed
    to load, the LLM backends, checks contributed by plugins (model profiles and keys, with
    --online their endpoints), and for TARGET: the config, the model it selects (none is a
    WARN) and whether it builds (tools, plugins, tool format; no model is called).

    Exit code 1 when any check FAILs, else 0.
    """
    checks: list[Check] = [check_python(), check_kt(), *check_home()]
    plugin_checks, kernel = check_plugins(state)
    checks += plugin_checks
    if kernel is not None:
        checks.append(check_backends(kernel))
        checks += plugin_doctor_checks(
            kernel, online=online, config=_loaded(target, kernel) if target else None
        )
        if target is not None:
            checks += check_target(target, kernel, llm_selector)
    elif target is not None:
        checks.append(
            Check("WARN", "config", f"{target} not checked: the plugin set could not be built")
        )
    for check in checks:
        _print(check, click.echo)
    failures = sum(c.status == "FAIL" for c in checks)
    warnings = sum(c.status == "WARN" for c in checks)
    plural = "" if warnings == 1 else "s"
    click.echo(f"\n{len(checks)} checks: {failures} failed, {warnings} warning{plural}")
    click.get_current_context().exit(1 if failures else 0)
