"""The dependency rules of ARCHITECTURE.md §1 and docs/concepts/architecture.md, enforced.

* The kernel (`kt`) imports no first-party plugin and no heavy third-party library.
* The kernel is at most 7,000 lines of Python, and its modules import each other without a
  cycle (imports under ``TYPE_CHECKING`` count).
* A plugin imports the kernel's public modules only, and another plugin only when it declares
  that plugin in ``kt_requires`` (the kernel then loads it first).
* Every hook spec is declared exactly once.
* `import kt` alone loads nothing heavy (not even trio).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNEL = ROOT / "kernel" / "kt"
KERNEL_BUDGET = 7_000
# Today's size, while the budget is not met; it moves only with a reason written here. 9,025
# -> 10,068: cross-plugin runtime (requests to a person, the plugin-discovery cache, crash
# durability, prompt rendering, module aliases). 10,068 -> 10,129: images in tool results and
# messages (ContentPart.image, ImageError), plugin files in a plugin set, plugin event types
# found by entry point, llm= profile objects checked at build, kt.config.modules; less the
# hook-reference renderer (now `kt hooks`) and five copies of the entry fields. 10,129 ->
# 9,950: config schema, specs, validators and tool-schema helpers each written once; runtime
# helpers shared; lazy specs (kt.LazySpec) in place of a per-attribute parsing fast path.
# 9,950 -> 9,922: one TurnStream for local and remote turns, runtime steps shared. 9,922 ->
# 9,919: HookRunner.invalidate, which nothing called. Lower it whenever the kernel shrinks.
KERNEL_RATCHET = 9_919
PLUGIN_ROOTS = [ROOT / "plugins", ROOT / "cli", ROOT / "web"]
HEAVY = {
    "httpx",
    "flask",
    "flask_sock",
    "peewee",
    "urwid",
    "mcp",
    "click",
    "openai",
    "anthropic",
    "redis",
    "tomlkit",
}
# What plugins may import from the kernel: the package and its public modules. Everything
# else (kt.runtime.*, kt.plugins.kernel, kt.tools.schema, ...) is reached through `kt`'s names.
PUBLIC_KERNEL = {
    "kt",
    "kt.config",
    "kt.config.home",
    "kt.errors",
    "kt.events",
    "kt.formats",
    "kt.history",
    "kt.llm",
    "kt.plugins",
    "kt.plugins.hookspecs",
    "kt.results",
    "kt.specs",
    "kt.testing",
    "kt.tools",
}


def first_party_plugins() -> set[str]:
    names = set()
    for root in PLUGIN_ROOTS:
        if root.is_dir():
            names |= {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}
    return names


def imports_of(path: Path) -> list[str]:
    """Every module a file imports, anywhere in it (lazy imports count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def test_kernel_imports_no_plugin_and_no_heavy_library():
    plugins = first_party_plugins()
    assert plugins, "expected first-party plugins to check against"
    problems = []
    for path in sorted(KERNEL.rglob("*.py")):
        for module in imports_of(path):
            top = module.split(".")[0]
            if top in plugins or top in HEAVY:
                problems.append(f"{path.relative_to(ROOT)} imports {module}")
    assert problems == []


def plugin_files():
    for root in PLUGIN_ROOTS:
        if not root.is_dir():
            continue
        for package in sorted(p for p in root.iterdir() if (p / "__init__.py").is_file()):
            for path in sorted(package.rglob("*.py")):
                yield package.name, path


def declared_requires(package: Path) -> set[str]:
    """The names a plugin package's ``kt_requires`` lists (read from its source, not run)."""
    tree = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "kt_requires" for t in targets):
                value = ast.literal_eval(node.value)
                return {value} if isinstance(value, str) else set(value)
    return set()


def package_dirs() -> dict[str, Path]:
    return {
        p.name: p
        for root in PLUGIN_ROOTS
        if root.is_dir()
        for p in root.iterdir()
        if (p / "__init__.py").is_file()
    }


def test_plugins_use_the_public_kernel_api_and_only_the_plugins_they_declare():
    plugins = first_party_plugins()
    requires = {name: declared_requires(path) for name, path in package_dirs().items()}
    problems = []
    for owner, path in plugin_files():
        for module in imports_of(path):
            top = module.split(".")[0]
            if top in plugins and top != owner and top not in requires[owner]:
                problems.append(
                    f"{path.relative_to(ROOT)} imports plugin module {module} without "
                    f"declaring it (kt_requires in {owner}/__init__.py)"
                )
            if top == "kt" and module not in PUBLIC_KERNEL:
                parent = module.rsplit(".", 1)[0]
                if parent not in PUBLIC_KERNEL or module.split(".")[-1].startswith("_"):
                    problems.append(f"{path.relative_to(ROOT)} imports kernel internal {module}")
    assert problems == []


def test_declared_requirements_name_installed_plugins():
    plugins = first_party_plugins()
    unknown = {
        name: needed - plugins
        for name, path in package_dirs().items()
        if (needed := declared_requires(path)) - plugins
    }
    assert unknown == {}


def kernel_module_name(path: Path) -> str:
    parts = path.relative_to(KERNEL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def kernel_import_graph() -> dict[str, set[str]]:
    """Kernel module -> the kernel modules it imports (lazy and TYPE_CHECKING imports too).

    ``from kt.pkg import name`` is an edge to ``kt.pkg.name`` when that is a module, else to
    ``kt.pkg``. ``kt`` itself is left out: it is the public facade, re-exporting every
    module's names lazily, and type-only references to public names (``kt.Agent`` in the hook
    specifications) go through it; an edge to it says nothing about layering.
    """
    modules = {kernel_module_name(p): p for p in KERNEL.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for imported in imported_modules(path):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported not in ("kt", name):
                edges.add(imported)
        graph[name] = edges
    graph.pop("kt", None)
    return graph


def imported_modules(path: Path) -> list[str]:
    """The modules a file imports: ``from a import b`` names ``a.b`` (a module or not)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_kernel_modules_import_each_other_without_a_cycle():
    cycle = find_cycle(kernel_import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def kernel_lines() -> int:
    return sum(len(p.read_text(encoding="utf-8").splitlines()) for p in KERNEL.rglob("*.py"))


@pytest.mark.xfail(
    strict=True,
    reason="the kernel is over its 7,000-line budget, which cannot be met while it keeps what "
    "issue 21 says it keeps (docs/concepts/architecture.md); the budget awaits a decision",
)
def test_kernel_fits_its_line_budget():
    lines = kernel_lines()
    assert lines <= KERNEL_BUDGET, f"kernel/ holds {lines} lines of Python (budget {KERNEL_BUDGET})"


def test_kernel_does_not_grow_while_over_budget():
    # A ratchet: lower it whenever the kernel shrinks; remove it with the xfail above.
    assert kernel_lines() <= KERNEL_RATCHET, "the kernel grew: move the new feature to a plugin"


def hookspec_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("kt_"):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(target, ast.Name) and target.id == "hookspec":
                    names.append(node.name)
    return names


def test_every_hook_spec_is_declared_once():
    declared: dict[str, list[str]] = {}
    for path in [*KERNEL.rglob("*.py"), *(p for _, p in plugin_files())]:
        for name in hookspec_names(path):
            declared.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert declared, "expected hook specs"
    assert {name: where for name, where in declared.items() if len(where) > 1} == {}


def test_import_kt_is_light():
    code = (
        "import sys, kt\n"
        "heavy = {'trio', 'pluggy', 'cattrs', 'tomlkit', 'httpx', 'click', 'yaml'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(KERNEL.parent), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["Agent", "Kernel", "tool", "hookimpl", "ToolCall", "KTError"])
def test_public_names_resolve(name):
    import kt

    assert getattr(kt, name) is not None
    assert name in kt.__all__


def test_the_architecture_page_lists_every_kernel_module_and_no_other():
    """docs/concepts/architecture.md's table of the kernel's modules matches the tree."""
    text = (ROOT / "docs" / "concepts" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## The kernel's modules", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([\w/]+?)(?:\.py)?`", section))
    named_stems = {name.rsplit("/", 1)[-1] for name in named}
    modules = sorted(p.relative_to(KERNEL) for p in KERNEL.rglob("*.py") if p.stem != "__init__")
    unlisted = [str(p) for p in modules if p.stem not in named_stems]
    assert not unlisted, f"add these kernel modules to the architecture page: {unlisted}"
    stems = {p.stem for p in modules} | {"__init__"}
    listed = {n.rsplit("/", 1)[-1] for n in re.findall(r"`([\w/]+)\.py`", section)}
    assert listed <= stems, (
        f"the architecture page names modules that do not exist: {listed - stems}"
    )
