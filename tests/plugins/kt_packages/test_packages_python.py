"""A pack's Python plugins: pip commands, failure reports, and one real pip install (--target).

The real install goes into a tmp folder through pip's own PIP_TARGET setting, never into the
environment running the tests, and builds its wheel with a tiny in-tree PEP 517 backend, so it
needs no network and no build dependencies.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from packs_support import make_pack, write

import kt
import kt_packages
from kt.testing import ScriptedLLM, ToolCall
from kt_packages import PipInstallError
from kt_packages.pip import pip_install_command, pip_uninstall_command

TINY_BACKEND = '''
"""A minimal PEP 517 backend: a pure-Python wheel, offline, with no build requirements."""

import base64
import hashlib
import os
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dist, version = project["name"].replace("-", "_"), project["version"]
    info = f"{dist}-{version}.dist-info"
    files = {
        path.relative_to(ROOT).as_posix(): path.read_bytes()
        for path in sorted((ROOT / dist).rglob("*.py"))
    }
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\\nName: {dist}\\nVersion: {version}\\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    lines = []
    for group, entries in project.get("entry-points", {}).items():
        lines += [f"[{group}]", *(f"{name} = {target}" for name, target in entries.items())]
    files[f"{info}/entry_points.txt"] = ("\\n".join(lines) + "\\n").encode()
    record = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for name, data in files.items()
    ]
    files[f"{info}/RECORD"] = ("\\n".join([*record, f"{info}/RECORD,,"]) + "\\n").encode()
    wheel = f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel
'''

PLUGIN_MODULE = '''
import kt


@kt.tool
def {tool}(text: str) -> str:
    """Echo the text back, loudly."""
    return text.upper()


@kt.hookimpl
def kt_tools():
    return [{tool}]
'''


def python_pack(folder, name: str, module: str, tool: str, *, backend: str = TINY_BACKEND):
    """A pack whose plugin `module` (an entry point of the same name) provides `tool`."""
    extra = f"""
    [[plugins]]
    name = "{module}"
    project = "python"

    [[tools]]
    name = "{tool}"
    plugin = "{module}"
    """
    make_pack(folder, name, creatures=("user",), extra=extra)
    write(
        folder / "creatures" / "user" / "creature.toml",
        f'name = "user"\nsystem_prompt = "Use {tool}."\n[[tools]]\nname = "{tool}"\n',
    )
    project = folder / "python"
    write(project / "tinybackend.py", backend)
    write(
        project / "pyproject.toml",
        f"""
        [build-system]
        requires = []
        build-backend = "tinybackend"
        backend-path = ["."]

        [project]
        name = "{module.replace("_", "-")}"
        version = "0.1.0"

        [project.entry-points."kt.plugins"]
        {module} = "{module}"
        """,
    )
    write(project / module / "__init__.py", PLUGIN_MODULE.format(tool=tool))
    return folder


class FakePip:
    """Records pip command lines and answers with a chosen exit code."""

    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.commands: list[list[str]] = []
        self.returncode = returncode
        self.stderr = stderr

    def __call__(self, command):
        self.commands.append(command)
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


def test_pip_command_lines_use_the_running_interpreter():
    assert pip_install_command(["/p/a", "/p/b"]) == [
        sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
        "/p/a", "/p/b",
    ]  # fmt: skip
    assert pip_install_command(["/p/a"], editable=True)[-2:] == ["-e", "/p/a"]
    assert pip_uninstall_command(["kt-acme"]) == [
        sys.executable, "-m", "pip", "uninstall", "-y", "kt-acme",
    ]  # fmt: skip


def test_install_runs_pip_on_the_plugin_project_and_requirements(kt_home, tmp_path):
    source = python_pack(tmp_path / "src", "acme", "kt_acme_cmd", "acme_echo_cmd")
    text = (source / "kt-pack.toml").read_text()
    (source / "kt-pack.toml").write_text(text + '\n[python]\nrequirements = ["six>=1"]\n')
    pip = FakePip()
    store = kt_packages.PackStore(pip_runner=pip)
    report = store.install(str(source))
    project = str(kt_home / "packages" / "acme" / "python")
    assert pip.commands == [
        pip_install_command([project]),
        pip_install_command(["six>=1"]),
    ]
    assert report.python_distributions == ("kt-acme-cmd",)
    assert report.pack.record["python_distributions"] == ["kt-acme-cmd"]
    editable = kt_packages.PackStore(pip_runner=FakePip())
    editable.install(str(source), editable=True)
    assert editable.pip_runner.commands[0][-2:] == ["-e", str(source / "python")]


def test_a_pip_failure_is_reported_with_the_command_and_pips_output(tmp_path):
    source = python_pack(tmp_path / "src", "acme", "kt_acme_fail", "acme_fail")
    store = kt_packages.PackStore(pip_runner=FakePip(1, "ERROR: No matching distribution\n"))
    with pytest.raises(PipInstallError) as error:
        store.install(str(source))
    message = str(error.value)
    assert "pack 'acme' is installed" in message and "kt update acme" in message
    assert "exit code 1" in message and "No matching distribution" in message
    assert error.value.command[:4] == [sys.executable, "-m", "pip", "install"]
    assert store.get("acme") is not None  # the data files are in place; update retries pip


def test_a_real_pip_failure_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_TARGET", str(tmp_path / "target"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    broken = "def build_wheel(*args, **kwargs):\n    raise RuntimeError('the build is broken')\n"
    source = python_pack(tmp_path / "src", "acme", "kt_acme_broken", "acme_broken", backend=broken)
    with pytest.raises(PipInstallError, match="pip failed") as error:
        kt_packages.PackStore().install(str(source))
    assert "the build is broken" in error.value.output


async def test_a_real_pip_install_registers_the_plugin_through_its_entry_point(
    tmp_path, monkeypatch
):
    target = tmp_path / "target"
    monkeypatch.setenv("PIP_TARGET", str(target))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.syspath_prepend(str(target))  # where this interpreter will find it
    monkeypatch.delitem(sys.modules, "kt_acme_real", raising=False)
    source = python_pack(tmp_path / "src", "acme", "kt_acme_real", "acme_echo")
    store = kt_packages.PackStore()
    report = store.install(str(source))
    assert report.warnings == ()
    assert (target / "kt_acme_real" / "__init__.py").is_file()
    kernel = kt.Kernel(plugins=[kt_packages, "kt_acme_real"])
    assert kernel.failures == []
    assert kernel.tools.origin("acme_echo") == "kt_acme_real"
    llm = ScriptedLLM([ToolCall("acme_echo", {"text": "hi"}), "Done."])
    async with await kt.Agent.build("@acme/creatures/user", llm=llm, kernel=kernel) as agent:
        result = await agent.run("shout hi")
    assert [(c.name, c.output) for c in result.tool_calls] == [("acme_echo", "HI")]
    sys.modules.pop("kt_acme_real", None)


def test_a_plugin_pip_cannot_make_visible_is_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_TARGET", str(tmp_path / "elsewhere"))  # not on sys.path
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    source = python_pack(tmp_path / "src", "acme", "kt_acme_hidden", "acme_hidden")
    report = kt_packages.PackStore().install(str(source))
    (warning,) = report.warnings
    assert "plugin 'kt_acme_hidden' was installed, but this Python sees no" in warning


def test_uninstall_removes_recorded_distributions_that_are_installed(tmp_path, monkeypatch):
    source = python_pack(tmp_path / "src", "acme", "kt_acme_un", "acme_un")
    pip = FakePip()
    store = kt_packages.PackStore(pip_runner=pip)
    store.install(str(source))
    monkeypatch.setattr(kt_packages.pip, "is_installed", lambda name: name == "kt-acme-un")
    report = store.uninstall("acme")
    assert report.removed_distributions == ("kt-acme-un",)
    assert pip.commands[-1] == pip_uninstall_command(["kt-acme-un"])
