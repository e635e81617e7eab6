"""Kernels built again in one process: plugins scanned once, yet every kernel on its own.

An entry point's plugin and a hookspec module are read once per process and their hook
implementations and specifications reused by the next kernel (``KtPluginManager``); a
registration hook may name a spec as a ``kt.LazySpec`` that is imported when first read.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types

import pluggy
import pytest

import kt
import kt_formats
from kt.errors import ModuleLoadError, PluginLoadError
from kt.plugins.manager import new_plugin_manager


class Shouting:
    """A plugin object registered into one kernel only."""

    @kt.hookimpl
    def kt_tools(self) -> list[kt.ToolSpec]:
        @kt.tool
        def shout(text: str) -> str:
            """Shout the text."""
            return text.upper()

        return [shout]


def test_a_plugin_registered_into_one_kernel_is_not_in_another():
    first, second = kt.Kernel(plugins=["kt_formats"]), kt.Kernel(plugins=["kt_formats"])
    first.pm.register(Shouting(), name="shouting")
    assert first.pm.hook.kt_tools is not second.pm.hook.kt_tools
    assert [i.plugin_name for i in first.pm.hook.kt_tools.get_hookimpls()] == ["shouting"]
    assert second.pm.hook.kt_tools.get_hookimpls() == []
    first.pm.unregister(name="kt_formats")
    assert second.pm.has_plugin("kt_formats") and kt.Kernel(plugins=["kt_formats"]).tool_formats


def test_a_second_kernel_has_the_same_hooks_as_the_first():
    first, second = kt.Kernel(), kt.Kernel()
    assert first.plugin_names == second.plugin_names
    assert {n: len(c.get_hookimpls()) for n, c in vars(first.pm.hook).items()} == {
        n: len(c.get_hookimpls()) for n, c in vars(second.pm.hook).items()
    }
    assert list(first.tools) == list(second.tools)
    for name, caller in vars(second.pm.hook).items():
        assert (caller.spec is None) == (getattr(first.pm.hook, name).spec is None), name


def test_a_monkeypatched_hook_of_an_entry_point_plugin_is_seen(monkeypatch):
    kt.Kernel(plugins=["kt_formats"])  # scanned

    @kt.hookimpl
    def kt_tool_formats() -> list[kt.ToolFormatSpec]:
        return [kt.ToolFormatSpec("patched", lambda: None, "a format from the test")]

    monkeypatch.setattr(kt_formats, "kt_tool_formats", kt_tool_formats)
    assert "patched" in kt.Kernel(plugins=["kt_formats"]).tool_formats
    monkeypatch.undo()
    assert set(kt.Kernel(plugins=["kt_formats"]).tool_formats) == {"native", "bracket", "xml"}


def test_a_hook_added_to_an_entry_point_plugin_is_seen(monkeypatch):
    kt.Kernel(plugins=["kt_formats"])

    @kt.hookimpl
    def kt_tools() -> list[kt.ToolSpec]:
        return [Shouting().kt_tools()[0]]

    monkeypatch.setattr(kt_formats, "kt_tools", kt_tools, raising=False)
    assert "shout" in kt.Kernel(plugins=["kt_formats"]).tools


def test_a_blocked_or_taken_name_gets_pluggys_answer():
    pm = new_plugin_manager()
    pm.set_blocked("kt_formats")
    assert pm.register_lasting(kt_formats, "kt_formats") is None
    pm = new_plugin_manager()
    pm.register_lasting(kt_formats, "kt_formats")
    with pytest.raises(ValueError, match="already registered"):
        pm.register_lasting(kt_formats, "kt_formats")


def _spec_module() -> types.ModuleType:
    module = types.ModuleType("kt_test_reuse_specs")
    exec(  # a hookspec module as a plugin would ship it
        textwrap.dedent(
            """
            import pluggy

            @pluggy.HookspecMarker("kt")
            def kt_test_reuse_hook(value):
                '''A hook of the test's own.'''
            """
        ),
        module.__dict__,
    )
    return module


def test_hookspecs_read_once_are_still_checked_in_every_manager():
    specs = _spec_module()

    class Adds:
        @kt.hookimpl
        def kt_addhookspecs(self, pm: pluggy.PluginManager) -> None:
            pm.add_hookspecs(specs)

    class Wrong:
        @kt.hookimpl
        def kt_test_reuse_hook(self, value, extra):
            return value

    for _ in range(2):  # the second kernel reuses the specs read by the first
        kernel = kt.Kernel(plugins=[Adds()])
        assert kernel.pm.hook.kt_test_reuse_hook.spec.function is specs.kt_test_reuse_hook
        with pytest.raises(pluggy.PluginValidationError, match="extra"):
            kernel.pm.register(Wrong())
    with pytest.raises(ValueError, match="already registered"):
        kernel.pm.add_hookspecs(specs)
    with pytest.raises(pluggy.PluginValidationError, match="extra"):
        kt.Kernel(plugins=[Wrong(), Adds()])  # registered before the specs were added


# -- LazySpec ------------------------------------------------------------------------------------


def test_a_lazy_spec_is_imported_when_first_read(tmp_path, monkeypatch):
    (tmp_path / "kt_test_lazy_tool.py").write_text(
        textwrap.dedent(
            """
            import kt

            @kt.tool
            def whisper(text: str) -> str:
                '''Whisper the text.'''
                return text.lower()
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "kt_test_lazy_tool", raising=False)

    class Lazy:
        @kt.hookimpl
        def kt_tools(self) -> list[kt.LazySpec]:
            return [kt.LazySpec("whisper", "kt_test_lazy_tool:whisper")]

    kernel = kt.Kernel(plugins=[Lazy()])
    assert "whisper" in kernel.tools and list(kernel.tools) == ["whisper"]
    assert "kt_test_lazy_tool" not in sys.modules
    spec = kernel.tools["whisper"]
    assert "kt_test_lazy_tool" in sys.modules
    assert spec("QUIET") == "quiet" and spec.plugin == "Lazy"
    assert kernel.tools["whisper"] is spec


def test_a_lazy_spec_that_cannot_load_names_the_plugin_and_the_fix():
    kernel = kt.Kernel(plugins=[])
    kernel.tools.add("gone", kt.LazySpec("gone", "kt_no_such_module:gone"), "kt_test")
    kernel.tools.add("misnamed", kt.LazySpec("misnamed", "kt_tools.shell:bash"), "kt_test")
    with pytest.raises(ModuleLoadError, match="plugin kt_test, tool gone.*kt_no_such_module"):
        kernel.tools["gone"]
    with pytest.raises(PluginLoadError, match="'misnamed' as kt_tools.shell:bash.*named 'bash'"):
        kernel.tools["misnamed"]


def test_every_lazy_spec_of_the_default_kernel_loads():
    from kt_terrarium import GRAPH_TOOLS
    from kt_terrarium.graph_tools import PRIVILEGED_TOOLS

    kernel = kt.Kernel()
    for attr in ("tools", "subagents", "triggers", "tool_formats", "llm_backends"):
        registry = getattr(kernel, attr)
        for name in registry:
            assert registry[name].name == name and getattr(registry[name], "plugin", "-")
    assert GRAPH_TOOLS == tuple(spec.name for spec in PRIVILEGED_TOOLS)


def test_building_the_default_kernel_imports_no_tool_module(tmp_path):
    code = "import json, sys, kt; kt.Kernel(); print(json.dumps(sorted(sys.modules)))"
    env = {"KT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    imported = set(json.loads(done.stdout))
    assert not imported & {
        "kt_tools.shell",
        "kt_tools.files",
        "kt_tools.search",
        "kt_tools.web",
        "kt_tools.notebook",
        "kt_tools.data",
        "kt_tools.interact",
        "kt_tools.comms",
        "kt_terrarium.graph_tools",
        "kt_triggers.tools",
        "kt_skills.manage",
    }
