r"""A shell command line, read the way the shell reads it: its simple commands, every one.

A rule about ``rm -rf *`` means every ``rm -rf`` the command would run, wherever it stands:
after ``cd .. &&``, inside ``$(...)``, a loop, a function, a subshell, behind ``sudo``, ``env``,
``xargs`` or ``timeout``, or in a string given to ``bash -c`` or ``eval``. Splitting the text at
``;`` and ``&&`` misses most of these, so the line is parsed with bashlex (a parser of the bash
grammar) and every simple command in the tree is collected, each with its words after quote
removal (``"rm"``, ``r''m`` and ``\\rm`` are all ``rm``) and its redirections.

bashlex does not know every bash construct (``[[ ]]``, ``$(( ))``, ``case``). For those,
:func:`simple_commands` raises :class:`ShellParseError`, and :func:`rough_commands` splits the
line at its operators and reserved words instead: good enough to *find* a denied command (a
deny rule errs towards refusing), never trusted to *allow* one.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from collections.abc import Iterator

import attrs

from kt.errors import KTError
from kt_guard.options import GuardConfigError

__all__ = [
    "SHELL_TOOLS",
    "Redirect",
    "ShellParseError",
    "SimpleCommand",
    "command_matches",
    "flag_set",
    "require_parser",
    "rough_commands",
    "simple_commands",
]

# Programs that run the command given in their remaining words (after their own options).
WRAPPERS = frozenset(
    {"sudo", "doas", "env", "nohup", "nice", "ionice", "time", "command", "builtin", "exec"}
    | {"xargs", "stdbuf", "setsid", "chrt", "taskset", "unbuffer", "watch", "timeout", "strace"}
)
# The tools whose main argument is a shell command line.
SHELL_TOOLS = frozenset({"bash", "shell", "sh", "zsh"})
# Shells whose ``-c`` argument is itself a command line.
SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "fish", "busybox"})
# ``find`` actions whose following words, up to ``;`` or ``+``, are a command.
FIND_ACTIONS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_NESTING = 8  # bash -c inside eval inside ...: deeper than this is refused as unreadable
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
_WRITE_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_READ_REDIRECTS = frozenset({"<", "<>"})
_ROUGH_SEPARATORS = frozenset({";", ";;", "&", "&&", "||", "|", "|&", "(", ")", "{", "}", "\n"})
_RESERVED = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case"}
    | {"esac", "select", "function", "!", "[[", "]]", "coproc"}
)


class ShellParseError(KTError):
    """A command line that cannot be read as a whole (bashlex does not know a construct)."""


@attrs.frozen
class Redirect:
    """A redirection to or from a file.

    Attributes:
        op: The operator (``>``, ``>>``, ``<`` ...).
        target: The file, as written (quotes removed).
        writes: The file is written (or opened read-write).
    """

    op: str
    target: str
    writes: bool


@attrs.frozen
class SimpleCommand:
    """One simple command: a program and its words, with its redirections.

    Attributes:
        words: The program and its arguments after quote removal; leading assignments
            (``FOO=1``) are left out. Empty for a redirection that stands alone.
        redirects: Redirections to and from files (``2>&1``-style copies are left out).
        dynamic: The program's name is computed at run time (``$CMD``, ``$(...)``), so no
            rule can tell what it is.
        wrapped: This command was found inside another's words (``sudo rm ...``, ``bash -c``,
            ``find -exec``); the outer command is listed too.
    """

    words: tuple[str, ...]
    redirects: tuple[Redirect, ...] = ()
    dynamic: bool = False
    wrapped: bool = False

    @property
    def program(self) -> str:
        """The program's name without its folder (``/bin/rm`` is ``rm``); ``""`` when none."""
        return os.path.basename(self.words[0]) if self.words else ""

    @property
    def args(self) -> tuple[str, ...]:
        """The words after the program."""
        return self.words[1:]

    @property
    def text(self) -> str:
        """The command as one line for pattern matching: program, arguments, redirections."""
        parts = [self.program, *self.args] if self.words else []
        parts += [f"{r.op} {r.target}" for r in self.redirects]
        return " ".join(parts)


def simple_commands(command: str) -> list[SimpleCommand]:
    """Every simple command *command* would run, in the order they appear.

    Raises:
        ShellParseError: the line cannot be parsed (a construct bashlex does not know, or a
            syntax error); the message says which.
    """
    return list(_parse(command, 0))


def rough_commands(command: str) -> list[SimpleCommand]:
    """The simple commands of *command* found by splitting at operators and reserved words.

    For lines :func:`simple_commands` cannot parse. Substitutions are not looked into (a
    caller that must be sure refuses lines with ``$(``, backticks or ``<(``).
    """
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|(){}<>")
    lexer.whitespace = " \t\r"  # newlines separate commands
    lexer.whitespace_split = True
    found: list[SimpleCommand] = []
    words: list[str] = []
    try:
        tokens = list(lexer)
    except ValueError:  # an unclosed quote: fall back to plain words
        tokens = command.split()

    def flush() -> None:
        while words and (words[0] in _RESERVED or _ASSIGNMENT.match(words[0])):
            words.pop(0)
        if words:
            found.extend(_with_wrapped(SimpleCommand(tuple(words)), 0))
        words.clear()

    for token in tokens:
        if token in _ROUGH_SEPARATORS or "\n" in token:
            flush()
        elif set(token) <= set("<>&|;(){}"):
            flush()
        else:
            words.append(token)
    flush()
    return found


def command_matches(pattern: str, command: SimpleCommand, *, loose: bool = False) -> bool:
    """Whether *command* matches the shell-style *pattern* (``*``, ``?``, ``[...]``).

    The pattern is matched against :attr:`SimpleCommand.text`. With *loose* (for deny rules),
    a pattern with options also matches a command that has at least those options, in any
    order and spelling, with the same program and operands: ``rm -rf *`` matches
    ``rm -r -f x``, ``rm x -fr`` and ``rm --recursive --force -v x``. A pattern ending in
    `` *`` also matches the command with nothing after it (``git *`` matches ``git``).
    """
    if pattern.endswith(" *") and command_matches(pattern[:-2], command, loose=loose):
        return True
    if fnmatch.fnmatchcase(command.text, pattern):
        return True
    if not loose or not command.words:
        return False
    try:
        pattern_words = shlex.split(pattern)
    except ValueError:
        return False
    if not pattern_words:
        return False
    program = os.path.basename(pattern_words[0])
    wanted, operands = flag_set(program, tuple(pattern_words[1:]))
    if not wanted:
        return fnmatch.fnmatchcase(" ".join([command.program, *command.args]), pattern)
    options, given = flag_set(command.program, command.args)
    if not wanted <= options:
        return False
    return fnmatch.fnmatchcase(" ".join([command.program, *given]), " ".join([program, *operands]))


def require_parser(where: str) -> None:
    """Check that the shell parser is installed, for options that need it.

    Raises:
        GuardConfigError: bashlex is missing; the message names the extra that brings it.
    """
    try:
        import bashlex  # noqa: F401
    except ImportError:
        raise GuardConfigError(
            "reading shell commands needs bashlex: install it with "
            "`pip install 'kt-terrarium[guard]'`",
            path=where,
        ) from None


def flag_set(program: str, words: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Split *words* (after the program) into options and operands.

    Short option clusters count letter by letter (``-rf`` is ``-r`` and ``-f``), long options
    without their value (``--force=yes`` is ``--force``), and a few spellings of the same option
    are made one (``rm -R`` / ``--recursive`` are ``-r``). Words after ``--`` are operands.

    Returns:
        ``(options, operands)``.
    """
    aliases = _OPTION_ALIASES.get(program, {})
    options: set[str] = set()
    operands: list[str] = []
    ended = False
    for word in words:
        if ended or word == "-" or not word.startswith("-"):
            operands.append(word)
        elif word == "--":
            ended = True
        elif word.startswith("--"):
            name = word.split("=", 1)[0]
            options.add(aliases.get(name, name))
        else:
            for letter in word[1:]:
                options.add(aliases.get(f"-{letter}", f"-{letter}"))
    return frozenset(options), tuple(operands)


_OPTION_ALIASES: dict[str, dict[str, str]] = {
    "rm": {"-R": "-r", "--recursive": "-r", "--force": "-f"},
    "cp": {"-R": "-r", "--recursive": "-r", "--force": "-f"},
    "chmod": {"--recursive": "-R"},
    "chown": {"--recursive": "-R"},
    "git": {"--force": "-f"},
}


# -- Parsing -------------------------------------------------------------------------------------


def _parse(command: str, depth: int) -> Iterator[SimpleCommand]:
    if depth > _NESTING:
        raise ShellParseError(f"commands nested more than {_NESTING} deep cannot be checked")
    import bashlex  # at use: loading the guard stays light

    if not command.strip():
        return
    try:
        trees = bashlex.parse(command)
    except bashlex.errors.ParsingError as exc:
        raise ShellParseError(f"cannot parse the command line ({exc.message})") from None
    except NotImplementedError as exc:
        raise ShellParseError(
            f"the command line uses a construct not checked here ({exc})"
        ) from None
    except Exception as exc:  # the parser's own faults on odd input: unreadable, not fatal
        raise ShellParseError(f"cannot parse the command line ({type(exc).__name__})") from None
    for tree in trees:
        yield from _visit(tree, depth)


def _children(node: object) -> Iterator[object]:
    import bashlex

    for value in vars(node).values():
        if isinstance(value, bashlex.ast.node):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, bashlex.ast.node))


def _visit(node: object, depth: int) -> Iterator[SimpleCommand]:
    kind = getattr(node, "kind", "")
    if kind == "command":
        yield from _command(node, depth)
        return
    if kind == "redirect":  # on a compound command: `{ ...; } > file`
        redirect = _redirect(node)
        if redirect is not None:
            yield SimpleCommand((), (redirect,))
        yield from (c for child in _children(node) for c in _visit(child, depth))
        return
    for child in _children(node):
        yield from _visit(child, depth)


def _command(node: object, depth: int) -> Iterator[SimpleCommand]:
    words: list[str] = []
    redirects: list[Redirect] = []
    dynamic = False
    inner: list[SimpleCommand] = []
    for part in node.parts:  # type: ignore[attr-defined]
        kind = part.kind
        if kind == "assignment":
            if not words:
                inner.extend(c for child in _children(part) for c in _visit(child, depth))
                continue
            words.append(part.word)
        elif kind == "word":
            if not words and _expands(part):
                dynamic = True
            words.append(part.word)
            inner.extend(c for child in _children(part) for c in _visit(child, depth))
        elif kind == "redirect":
            redirect = _redirect(part)
            if redirect is not None:
                redirects.append(redirect)
            inner.extend(c for child in _children(part) for c in _visit(child, depth))
    if words or redirects:  # `X=$(...)` alone runs only what is inside
        yield from _with_wrapped(SimpleCommand(tuple(words), tuple(redirects), dynamic), depth)
    yield from inner


def _expands(word: object) -> bool:
    return any(
        getattr(p, "kind", "") in ("parameter", "commandsubstitution", "processsubstitution")
        for p in getattr(word, "parts", [])
    )


def _redirect(node: object) -> Redirect | None:
    op = node.type  # type: ignore[attr-defined]
    target = getattr(node, "output", None)
    if op in ("<<", "<<-") or not hasattr(target, "word"):  # here-documents, fd copies
        return None
    if op == ">&" and target.word.isdigit():  # `>&2`
        return None
    return Redirect(op, target.word, op in _WRITE_REDIRECTS or op not in _READ_REDIRECTS)


def _with_wrapped(command: SimpleCommand, depth: int) -> Iterator[SimpleCommand]:
    """*command*, then the commands it runs through its words (``sudo x``, ``bash -c``)."""
    yield command
    program, args = command.program, list(command.args)
    if program in SHELLS:
        for i, word in enumerate(args):
            if word == "-c" or (word.startswith("-") and "c" in word[1:] and "-" not in word[1:]):
                if i + 1 < len(args):
                    for inner in _parse(args[i + 1], depth + 1):
                        yield attrs.evolve(inner, wrapped=True)
                return
    if program == "eval" and args:
        for inner in _parse(" ".join(args), depth + 1):
            yield attrs.evolve(inner, wrapped=True)
        return
    if program == "find":
        for i, word in enumerate(args):
            if word in FIND_ACTIONS:
                rest = args[i + 1 :]
                end = next((j for j, w in enumerate(rest) if w in (";", "+")), len(rest))
                if rest[:end]:
                    words = tuple(rest[:end])
                    wrapped = SimpleCommand(words, dynamic=_computed(words[0]), wrapped=True)
                    yield from _with_wrapped(wrapped, depth + 1)
        return
    if program in WRAPPERS:
        rest = _after_wrapper_options(program, args)
        if rest and program == "watch":  # watch runs its words as one line, through sh -c
            for inner in _parse(" ".join(rest), depth + 1):
                yield attrs.evolve(inner, wrapped=True)
        elif rest:
            wrapped = SimpleCommand(
                tuple(rest), command.redirects, dynamic=_computed(rest[0]), wrapped=True
            )
            yield from _with_wrapped(wrapped, depth + 1)


def _computed(word: str) -> bool:
    """Whether a word given to a wrapper as a program is computed when it runs."""
    return "$" in word or "`" in word


def _after_wrapper_options(program: str, args: list[str]) -> list[str]:
    """The command a wrapper runs: its words after the wrapper's options and assignments."""
    rest = list(args)
    while rest and (rest[0].startswith("-") or _ASSIGNMENT.match(rest[0])):
        option = rest.pop(0)
        if option == "--":
            break
        if program in ("nice", "ionice", "chrt", "taskset") and option in ("-n", "-c", "-p"):
            if rest:
                rest.pop(0)  # the option's value
        if program == "sudo" and option in ("-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t"):
            if rest:
                rest.pop(0)
        if program == "env" and option in ("-u", "-C", "-S"):
            if rest:
                rest.pop(0)
    if program == "timeout" and rest:
        rest.pop(0)  # the duration
    if program in ("taskset", "chrt") and rest:
        rest.pop(0)  # the mask / priority
    while rest and _ASSIGNMENT.match(rest[0]):  # read as assignments, erring towards finding
        rest.pop(0)
    return rest
