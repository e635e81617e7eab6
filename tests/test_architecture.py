"""The dependency rules of ARCHITECTURE.md §1, enforced by walking every import.

* The kernel (`kt`) imports no first-party plugin and no heavy third-party library.
* A plugin imports the kernel's public API only, never another plugin.
* `import kt` alone loads nothing heavy (not even trio).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNEL = ROOT / "kernel" / "kt"
PLUGIN_ROOTS = [ROOT / "plugins", ROOT / "cli", ROOT / "web"]
HEAVY = {"httpx", "flask", "flask_sock", "peewee", "urwid", "mcp", "click", "openai", "anthropic"}
# What plugins may import from the kernel: the package and its public modules.
PUBLIC_KERNEL = {
    "kt",
    "kt.errors",
    "kt.events",
    "kt.testing",
    "kt.compose",
    "kt.history",
    "kt.hookspecs",
    "kt.config",
    "kt.home",
    "kt.formats",
    "kt.llmkit",  # shared, httpx-free helpers for LLM backends (SSE, retries, error mapping)
    "kt.packages",  # ensure()/resolve() for @pack references
    "kt.sessions",  # SessionReader and resume, resolved through the session-store hook
    "kt.engine",  # the terrarium engine and its channel service
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


def test_plugins_use_only_the_public_kernel_api_and_no_other_plugin():
    plugins = first_party_plugins()
    problems = []
    for owner, path in plugin_files():
        for module in imports_of(path):
            top = module.split(".")[0]
            if top in plugins and top != owner:
                problems.append(f"{path.relative_to(ROOT)} imports plugin module {module}")
            if top == "kt" and module not in PUBLIC_KERNEL:
                parent = module.rsplit(".", 1)[0]
                if parent not in PUBLIC_KERNEL or module.split(".")[1].startswith("_"):
                    problems.append(f"{path.relative_to(ROOT)} imports kernel internal {module}")
    assert problems == []


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
