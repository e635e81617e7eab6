"""The sandbox policy: which paths tools may read and write, which hosts and commands they use.

This is **policy gating, not isolation**: the guard inspects each tool call's arguments before
the tool runs and refuses the ones the policy forbids. A shell command is checked as text (its
programs against the allow-list, its URLs against the hosts); what a permitted program does
once it runs is not observed. For that, the ``bash`` and ``python`` tools have an OS sandbox
(``isolation = "bwrap"``, :mod:`kt_tools.isolation`); or run the creature in a container.

What is checked, for every tool (not only the built-in ones):

* **Paths.** Arguments named like paths (``path``, ``file_path``, ``paths``, ``cwd`` ...; and
  the literal prefix of a ``glob`` pattern) are resolved against the creature's working
  directory (``~`` expanded, symlinks followed). Writing tools (``write``, ``edit``,
  ``multi_edit``, ``notebook_edit``, ``json_write``, and any tool declared
  ``concurrency_safe=False``) need the path under ``write_paths``; other tools under
  ``read_paths`` when that is set. Protected locations (keys, shell startup files, the kt
  home, ``/etc``, and ``deny_paths``) are refused to every tool.
* **Network.** Arguments named ``url`` / ``urls`` / ``endpoint`` / ``base_url`` must name an
  allowed host; ``web_search`` needs ``network = true`` or the entry ``"search"``. Shell
  commands that run a network program (``curl``, ``wget``, ``ssh``, ``git clone`` ...) or
  contain a URL are refused when the network is off, and need every URL's host allowed when a
  host list is given.
* **Shell.** A shell line is read as the shell reads it (:mod:`kt_guard.shellparse`): every
  simple command, in substitutions, loops, subshells, behind ``sudo``/``env``/``xargs``, and
  in ``bash -c`` or ``eval`` strings. With a ``shell`` allow-list each command must match one
  of its patterns. Files the commands name (redirections, the operands of ``rm``, ``mv``,
  ``cp``, ``tee`` ..., path-like words) are checked like path arguments, against the folder
  the command runs in after any ``cd``. The ``python`` tool runs arbitrary code: it is refused
  while the shell is restricted unless ``allow_python = true``.

This module holds the feature: the ``sandbox`` table (:class:`SandboxOptions`) and the
policy (:class:`SandboxPolicy`). Its hooks are :class:`kt_guard.hooks.SandboxHooks`, which load
this module once a creature sets a sandbox. The check runs first in
:class:`kt_guard.Guard`'s tool-call check, before the budget and the permission gate.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from kt.errors import PluginBlockError
from kt_guard.options import GuardConfigError, check_table, describe, strings
from kt_guard.shellparse import (
    SHELL_TOOLS,
    ShellParseError,
    SimpleCommand,
    require_parser,
    rough_commands,
    simple_commands,
)

__all__ = ["SandboxOptions", "SandboxPolicy", "parse_sandbox"]

WRITE_TOOLS = frozenset({"write", "edit", "multi_edit", "notebook_edit", "json_write"})
CODE_TOOLS = frozenset({"python"})
SEARCH_TOOLS = frozenset({"web_search"})
PATH_ARGS = (
    "path",
    "paths",
    "file",
    "files",
    "file_path",
    "filepath",
    "filename",
    "notebook_path",
    "dir",
    "directory",
    "cwd",
    "working_dir",
    "target",
    "destination",
    "dest",
    "source",
    "src",
)
URL_ARGS = ("url", "urls", "endpoint", "base_url")
NETWORK_PROGRAMS = frozenset(
    {"curl", "wget", "ssh", "scp", "sftp", "rsync", "nc", "ncat", "netcat", "telnet", "ftp"}
    | {"aria2c", "http", "https", "httpie", "ping"}
)
NETWORK_SUBCOMMANDS: Mapping[str, frozenset[str]] = {
    "git": frozenset({"clone", "fetch", "pull", "push", "ls-remote", "submodule"}),
    "pip": frozenset({"install", "download"}),
    "pip3": frozenset({"install", "download"}),
    "npm": frozenset({"install", "i", "ci", "publish", "update"}),
    "yarn": frozenset({"add", "install"}),
    "pnpm": frozenset({"add", "install", "i"}),
    "uv": frozenset({"pip", "add", "sync", "tool", "run"}),
    "apt": frozenset({"install", "update"}),
    "apt-get": frozenset({"install", "update"}),
    "docker": frozenset({"pull", "push", "login"}),
}
_URL = re.compile(r"\b(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<host>[^/\s'\"?#]+)")
_SUBSTITUTION = ("$(", "`", "<(", ">(")
_WILDCARDS = re.compile(r"[*?\[]")
_SANDBOX_KEYS = ("read_paths", "write_paths", "deny_paths", "network", "shell", "allow_python")


# -- Options: the ``sandbox`` table ------------------------------------------------------------


@attrs.frozen
class SandboxOptions:
    """Where tools may read and write, which hosts they may reach, which commands may run.

    Attributes:
        read_paths: Roots path arguments of reading tools must lie under; ``None`` = anywhere.
        write_paths: Roots path arguments of writing tools must lie under.
        deny_paths: Paths refused to every tool, on top of the built-in list (keys, shell
            startup files, the kt home, ``/etc``).
        network: ``True`` (any host), ``False`` (none) or host patterns that may be reached.
        shell: Command patterns shell tools may run; ``None`` = any command.
        allow_python: Whether code tools (``python``) may run; ``None`` = only when ``shell``
            is unrestricted.
    """

    read_paths: tuple[str, ...] | None = None
    write_paths: tuple[str, ...] = (".",)
    deny_paths: tuple[str, ...] = ()
    network: bool | tuple[str, ...] = True
    shell: tuple[str, ...] | None = None
    allow_python: bool | None = None


def parse_sandbox(value: Any, where: str) -> SandboxOptions:
    """Validate a ``sandbox`` table.

    Raises:
        GuardConfigError: naming the bad key and what it accepts.
    """
    table = check_table(value, _SANDBOX_KEYS, where)
    read = table.get("read_paths")
    network = table.get("network", True)
    if not isinstance(network, bool):
        network = strings(network, f"{where}.network")
    shell = table.get("shell")
    allow_python = table.get("allow_python")
    if allow_python is not None and not isinstance(allow_python, bool):
        raise GuardConfigError(
            f"must be true or false, got {describe(allow_python)}", path=f"{where}.allow_python"
        )
    require_parser(where)  # every shell command is read for the files it names
    return SandboxOptions(
        read_paths=None if read is None else strings(read, f"{where}.read_paths"),
        write_paths=strings(table.get("write_paths", (".",)), f"{where}.write_paths"),
        deny_paths=strings(table.get("deny_paths", ()), f"{where}.deny_paths"),
        network=network,
        shell=None if shell is None else strings(shell, f"{where}.shell"),
        allow_python=allow_python,
    )


# -- The policy --------------------------------------------------------------------------------


def default_protected(home: Path, kt_home: Path) -> list[Path]:
    """Locations no tool may touch under a sandbox: keys, shell startup files, kt's own home."""
    names = (".ssh", ".aws", ".gnupg", ".config/git", ".netrc", ".docker/config.json")
    names += (".bashrc", ".bash_profile", ".zshrc", ".profile")
    return [home / n for n in names] + [kt_home, Path("/etc")]


def _string_values(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        yield from (v for v in value if isinstance(v, str))


class SandboxPolicy:
    """One creature's sandbox: options resolved against its working directory.

    Args:
        options: The sandbox options.
        working_dir: The creature's working directory; relative paths resolve against it.
        home: The user's home folder (for ``~`` and the protected list).
        kt_home: The kt home folder (protected).
    """

    def __init__(
        self, options: SandboxOptions, *, working_dir: Path, home: Path, kt_home: Path
    ) -> None:
        self.options = options
        self.working_dir = working_dir
        self.home = home
        self.read_roots = (
            None if options.read_paths is None else [self._resolve(p) for p in options.read_paths]
        )
        self.write_roots = [self._resolve(p) for p in options.write_paths]
        self.protected = [p.resolve() for p in default_protected(home, kt_home)]
        self.protected += [self._resolve(p) for p in options.deny_paths]

    def _resolve(self, path: str | Path, base: Path | None = None) -> Path:
        text = str(path)
        if text == "~" or text.startswith("~/"):
            text = str(self.home) + text[1:]
        p = Path(text)
        if not p.is_absolute():
            p = (base or self.working_dir) / p
        return p.resolve()

    def prompt_text(self) -> str:
        """The "Sandbox" section describing the policy to the model."""
        options = self.options
        reads = (
            "anywhere except protected locations"
            if self.read_roots is None
            else ", ".join(str(p) for p in self.read_roots)
        )
        if options.network is True:
            network = "any host"
        elif options.network is False:
            network = "off"
        else:
            network = "only " + ", ".join(options.network)
        writes = ", ".join(str(p) for p in self.write_roots) or "none"
        lines = [
            "## Sandbox",
            'Tool calls are checked against a sandbox policy; a refused call says "Sandbox denied" '
            "and why. Stay inside it rather than retrying.",
            f"- Files may be written under: {writes}",
            f"- Files may be read: {reads}",
            f"- Network: {network}",
        ]
        if options.shell is not None:
            lines.append(f"- Shell commands allowed: {', '.join(options.shell) or 'none'}")
        return "\n".join(lines)

    # -- The check -----------------------------------------------------------------------------

    def check(self, tool: str, args: Mapping[str, Any], *, writes: bool) -> None:
        """Refuse a call the policy forbids.

        Args:
            tool: The tool's name.
            args: The call's validated arguments.
            writes: Whether the tool changes files.

        Raises:
            PluginBlockError: with a ``Sandbox denied [<axis>]: ...`` message for the model.
        """
        if tool in SHELL_TOOLS:
            command = args.get("command")
            if isinstance(command, str):
                self._check_command(tool, command)
        if tool in CODE_TOOLS and not self._python_allowed():
            allowed = ", ".join(self.options.shell or ()) or "none"
            raise PluginBlockError(
                f"Sandbox denied [shell]: the {tool} tool runs arbitrary code, which this "
                f"sandbox does not allow. Use the allowed shell commands instead ({allowed})."
            )
        if tool in SEARCH_TOOLS:
            self._check_search(tool)
        for key in URL_ARGS:
            for url in _string_values(args.get(key)):
                self._check_url(tool, url)
        base = self.working_dir
        if "path" in args and isinstance(args["path"], str):
            base = self._resolve(args["path"])
        for key in PATH_ARGS:
            for path in _string_values(args.get(key)):
                self._check_path(tool, self._resolve(path), writes=writes)
        if tool == "glob" and isinstance(args.get("pattern"), str):
            self._check_path(tool, self._glob_root(args["pattern"], base), writes=False)

    def _python_allowed(self) -> bool:
        if self.options.allow_python is not None:
            return self.options.allow_python
        return self.options.shell is None

    def _glob_root(self, pattern: str, base: Path) -> Path:
        literal = []
        for part in Path(pattern).parts:
            if _WILDCARDS.search(part):
                break
            literal.append(part)
        return self._resolve(Path(*literal) if literal else ".", base=base)

    def _check_path(self, tool: str, path: Path, *, writes: bool) -> None:
        kind = "write" if writes else "read"
        for protected in self.protected:
            if path.is_relative_to(protected):
                raise PluginBlockError(
                    f"Sandbox denied [fs_{kind}]: {path} is a protected location ({protected}); "
                    f"no tool may {kind} it here. ({tool})"
                )
        roots = self.write_roots if writes else self.read_roots
        if roots is None or any(path.is_relative_to(root) for root in roots):
            return
        listed = ", ".join(str(r) for r in roots) or "none"
        raise PluginBlockError(
            f"Sandbox denied [fs_{kind}]: {tool} may not {kind} {path}: it is outside the "
            f"allowed {kind} paths ({listed}). Use a path inside them."
        )

    def _host_allowed(self, host: str) -> bool:
        network = self.options.network
        if network is True:
            return True
        if network is False:
            return False
        host = host.rsplit("@", 1)[-1].split(":", 1)[0].lower()
        return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in network)

    def _network_refusal(self, tool: str, what: str) -> PluginBlockError:
        if self.options.network is False:
            reason = "network access is off for this creature"
        else:
            reason = f"allowed hosts: {', '.join(self.options.network)}"  # type: ignore[arg-type]
        return PluginBlockError(
            f"Sandbox denied [network]: {tool} may not reach {what} ({reason})."
        )

    def _check_url(self, tool: str, url: str) -> None:
        match = _URL.search(url)
        host = match["host"] if match else url
        if not self._host_allowed(host):
            raise self._network_refusal(tool, host)

    def _check_search(self, tool: str) -> None:
        network = self.options.network
        if network is True or (not isinstance(network, bool) and "search" in network):
            return
        raise self._network_refusal(tool, "the web search service")

    def _check_command(self, tool: str, command: str) -> None:
        shell = self.options.shell
        try:
            commands = simple_commands(command)
        except ShellParseError as exc:
            if shell is not None or any(s in command for s in _SUBSTITUTION):
                raise PluginBlockError(
                    f"Sandbox denied [shell]: {exc}, so the commands it would run "
                    "cannot all be checked. Write it with plain commands joined by ; && || | "
                    "(for example `test -f x` instead of `[[ -f x ]]`)."
                ) from None
            commands = rough_commands(command)
        cwd = self.working_dir
        for part in commands:
            if shell is not None:
                if part.dynamic:
                    raise PluginBlockError(
                        f"Sandbox denied [shell]: the program '{part.words[0]}' is computed "
                        "when the command runs, so it cannot be checked against the allowed "
                        "commands. Name the program directly."
                    )
                if part.words and not any(fnmatch.fnmatchcase(part.text, p) for p in shell):
                    raise PluginBlockError(
                        f"Sandbox denied [shell]: '{part.text}' is not an allowed command. "
                        f"Allowed: {', '.join(shell) or 'none'}."
                    )
            if self.options.network is not True:
                self._check_command_network(tool, part)
            cwd = self._check_command_paths(tool, part, cwd)

    def _check_command_paths(self, tool: str, part: SimpleCommand, cwd: Path) -> Path:
        """Check the files a simple command names; return the folder the next one runs in.

        Redirections are reads or writes by their operator. The operands of programs that
        change files (``rm``, ``mv``, ``touch``, ``tee`` ...) are writes, those of the others
        reads when they look like paths. ``cd`` moves the folder later paths resolve against.
        """
        for redirect in part.redirects:
            if redirect.target != "/dev/null":
                path = self._resolve(redirect.target, base=cwd)
                self._check_path(tool, path, writes=redirect.writes)
        program = part.program
        writes, reads = _command_paths(program, part.args)
        for word in writes:
            self._check_path(tool, self._resolve(word, base=cwd), writes=True)
        for word in reads:
            self._check_path(tool, self._resolve(word, base=cwd), writes=False)
        if program == "cd" and not part.wrapped:
            target = next((w for w in part.args if not w.startswith("-")), "~")
            return self._resolve(target, base=cwd)
        return cwd

    def _check_command_network(self, tool: str, part: SimpleCommand) -> None:
        line = " ".join(part.words)
        urls = [m for m in _URL.finditer(line) if m["scheme"].lower() != "file"]
        for match in urls:
            if not self._host_allowed(match["host"]):
                raise self._network_refusal(tool, match["host"])
        program, rest = part.program, part.args
        uses_network = program in NETWORK_PROGRAMS or (
            bool(rest) and rest[0] in NETWORK_SUBCOMMANDS.get(program, ())
        )
        if uses_network and not urls:  # no URL whose host could be checked
            raise self._network_refusal(tool, f"the network through '{program}'")


# Programs that change the files they are given (every operand), and those whose last operand
# is the file they write (the others are read).
WRITING_PROGRAMS = frozenset(
    {"rm", "rmdir", "mv", "touch", "mkdir", "tee", "chmod", "chown", "chgrp", "truncate"}
    | {"shred", "unlink"}
)
COPYING_PROGRAMS = frozenset({"cp", "ln", "install", "rsync", "scp"})


def _looks_like_path(word: str) -> bool:
    return word.startswith(("/", "~", "./", "../")) or word == ".." or "/" in word


def _command_paths(program: str, args: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The words of a simple command that name files it writes, and files it reads."""
    operands = [a for a in args if not a.startswith("-")]
    options = [a.split("=", 1)[1] for a in args if a.startswith("-") and "=" in a]
    if program == "dd":
        writes = [a[3:] for a in args if a.startswith("of=")]
        reads = [a[3:] for a in args if a.startswith("if=")]
        return writes, reads
    if program in WRITING_PROGRAMS:
        if program in ("chmod", "chown", "chgrp") and operands:
            operands = operands[1:]  # the mode or owner
        return operands, [o for o in options if _looks_like_path(o)]
    if program in COPYING_PROGRAMS and operands:
        reads = [o for o in operands[:-1] if ":" not in o or _looks_like_path(o)]
        return operands[-1:], reads + [o for o in options if _looks_like_path(o)]
    return [], [w for w in [*operands, *options] if _looks_like_path(w) and "://" not in w]
