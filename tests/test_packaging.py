"""Packaging: the lean install works, missing extras are named, the declared floors hold.

The lean-install test installs this repository into a fresh virtual environment (no extras,
dependencies from the package index) and runs the ``kt`` command there, as a user who typed
``pip install kt-terrarium`` would. The others run in the test environment. ``.ci/run`` also
runs this file, except the lean-install test, against the lowest versions pyproject.toml
allows (see CONTRIBUTING.md, "Dependencies and floors").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import docstring_parser
import pytest

import kt
import kt_llm
from kt.errors import LLMNotConfiguredError, PluginLoadError, UnknownNameError

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"

# Modules that only extras bring; none of them may be in a lean install.
EXTRA_MODULES = ("httpx", "peewee", "urwid", "mcp", "hypercorn", "yaml", "jinja2", "markdownify")


def _lean_env(home: Path, venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KT_", "PYTHON"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(KT_HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    return env


def test_a_lean_install_gives_a_working_kt_command(tmp_path):
    # A copy, so that the build leaves nothing in the working tree.
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "*.egg-info", "build", "dist", "__pycache__", ".venv", ".pytest_cache"
        ),
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = _lean_env(tmp_path / "home", venv)
    python, kt_command = str(venv / "bin" / "python"), str(venv / "bin" / "kt")

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, input=stdin, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
        )

    install = run(python, "-m", "pip", "install", "--quiet", str(source))
    assert install.returncode == 0, install.stderr
    present = run(
        python,
        "-c",
        "import importlib.util as u, sys; "
        "print(' '.join(m for m in sys.argv[1:] if u.find_spec(m)))",
        *EXTRA_MODULES,
    )
    assert present.stdout.split() == [], "a lean install brought optional libraries"

    help_ = run(kt_command, "--help")
    assert help_.returncode == 0, help_.stderr
    assert "Usage: kt" in help_.stdout

    plugins = run(kt_command, "plugins")
    assert plugins.returncode == 0, plugins.stderr
    rows = {line.split()[0]: line for line in plugins.stdout.splitlines()[1:] if line.strip()}
    assert " loaded " in rows["kt_cli"] and " loaded " in rows["kt_tools"]
    for name, row in rows.items():  # a plugin that cannot load says which extra it needs
        if " failed " in row:
            assert "pip install 'kt-terrarium[" in row, f"{name} fails without naming an extra"

    demo = run(kt_command, "run", str(DEMO), "--mode", "plain", stdin="hi\n")
    assert demo.returncode == 0, demo.stderr
    assert "Your text has 4 words." in demo.stdout

    model = run(kt_command, "run", str(DEMO), "--mode", "plain", "--llm", "openai/gpt-4o")
    assert model.returncode == 2, model.stderr
    assert "kt_openai failed to load" in model.stderr
    assert "pip install 'kt-terrarium[llm]'" in model.stderr
    assert "Traceback" not in model.stderr


# -- a backend whose plugin failed to load -------------------------------------------------------


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KT_HOME", str(tmp_path / "kt-home"))
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "kt-home"


@pytest.fixture
def kernel_without_openai(home, monkeypatch):
    """kt_llm and kt_anthropic load; importing kt_openai fails, as without its extra."""
    monkeypatch.setitem(sys.modules, "kt_openai", None)  # makes `import kt_openai` fail
    kernel = kt.Kernel(plugins=["kt_llm", "kt_anthropic", "kt_openai"])
    (failure,) = kernel.failures
    assert failure.name == "kt_openai"
    return kernel


async def build(kernel, selector=None):
    return await kt.Agent.build({"name": "c"}, kernel=kernel, llm_selector=selector)


@pytest.mark.parametrize(
    ("selector", "named"),
    [
        ("openai/gpt-4o", "provider 'openai' is not loaded"),
        ("ollama", "provider 'ollama' is not loaded"),
        ("4o", "alias '4o' needs provider 'openai', which is not loaded"),
    ],
)
async def test_a_provider_whose_plugin_failed_names_the_plugin_and_why(
    kernel_without_openai, selector, named
):
    (failure,) = kernel_without_openai.failures
    with pytest.raises(PluginLoadError) as caught:
        await build(kernel_without_openai, selector)
    assert str(caught.value) == (
        f"{named}: its plugin kt_openai failed to load ({failure.reason}). "
        "`kt plugins` lists what is loaded."
    )


async def test_the_other_providers_still_resolve(kernel_without_openai, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    agent = await build(kernel_without_openai, "anthropic/claude-sonnet-4-6")
    assert agent.llm_name == "anthropic/claude-sonnet-4-6"


async def test_unknown_names_and_no_model_list_the_failed_plugins(kernel_without_openai):
    (failure,) = kernel_without_openai.failures
    note = f"Plugins that failed to load: kt_openai ({failure.reason})."
    with pytest.raises(UnknownNameError, match="unknown provider 'nowhere'") as unknown:
        await build(kernel_without_openai, "nowhere/model")
    assert str(unknown.value).endswith(note)
    with pytest.raises(LLMNotConfiguredError) as unconfigured:
        await build(kernel_without_openai)
    assert str(unconfigured.value).endswith(note)


async def test_a_custom_endpoint_whose_backend_failed_names_the_plugin(kernel_without_openai, home):
    home.mkdir()
    (home / "llm.toml").write_text(
        '[endpoints.lab]\nbackend = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n'
    )
    with pytest.raises(PluginLoadError, match="endpoint 'lab' needs provider 'openai', which is"):
        await build(kernel_without_openai, "lab")


async def test_nothing_changes_when_every_plugin_loaded(home):
    kernel = kt.Kernel(plugins=[kt_llm])
    assert kernel.failures == []
    with pytest.raises(UnknownNameError) as unknown:
        await build(kernel, "openai/gpt-4o")
    assert "failed to load" not in str(unknown.value)


# -- floors --------------------------------------------------------------------------------------


def test_docstring_parser_reads_the_three_styles_tool_schemas_use():
    """What tool schemas need of docstring-parser, checked at its floor by ``.ci/run``."""
    google = """List files.

    Args:
        path (str): Folder to list,
            relative to the working directory.
        recursive (bool, optional): Descend into sub-folders.
        *names: More names.

    Returns:
        Nothing; path: not a parameter.
    """
    sphinx = """Fetch a page.

    :param url: The address,
        including the scheme.
    :type url: str
    :param float timeout: Seconds to wait.
    :returns: the body.
    """
    numpy = """Plot a point.

    Parameters
    ----------
    x, y : int
        Coordinates of the point,
        in pixels.
    label : str, optional
        Text next to it.

    Returns
    -------
    None
        label : not a parameter description
    """

    def read(text: str) -> tuple[str | None, dict[str, str]]:
        parsed = docstring_parser.parse(text)
        params = {p.arg_name: " ".join((p.description or "").split()) for p in parsed.params}
        return parsed.short_description, params

    assert read(google) == (
        "List files.",
        {
            "path": "Folder to list, relative to the working directory.",
            "recursive": "Descend into sub-folders.",
            "*names": "More names.",
        },
    )
    assert read(sphinx) == (
        "Fetch a page.",
        {"url": "The address, including the scheme.", "timeout": "Seconds to wait."},
    )
    assert read(numpy) == (
        "Plot a point.",
        {"x, y": "Coordinates of the point, in pixels.", "label": "Text next to it."},
    )
