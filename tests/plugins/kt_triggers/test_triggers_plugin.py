"""kt_triggers as a plugin: its registration hooks, entry-point discovery and the specs."""

from __future__ import annotations

import pytest

import kt
import kt_triggers
from kt.plugins import new_plugin_manager


def test_hook_kt_triggers_registers_the_four_trigger_types():
    pm = new_plugin_manager()
    pm.register(kt_triggers, name="kt_triggers")
    pm.check_pending()
    (specs,) = pm.hook.kt_triggers()
    assert [s.name for s in specs] == ["timer", "schedule", "channel", "webhook"]
    assert all(isinstance(s, kt.TriggerSpec) and s.description for s in specs)


def test_hook_kt_tools_registers_the_trigger_tools():
    kernel = kt.Kernel(plugins=[kt_triggers])
    for name in ("add_timer", "add_schedule", "watch_channel"):
        spec = kernel.tools[name]
        assert spec.description.startswith("Trigger: ")
        assert spec.context_param == "ctx" and "ctx" not in spec.parameters["properties"]
        assert kernel.tools.origin(name) == "kt_triggers"
    assert set(kernel.triggers) == {"timer", "schedule", "channel", "webhook"}


def test_entry_point_discovery(tmp_path, monkeypatch):
    dist = tmp_path / "kt_triggers_probe-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kt-triggers-probe\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("[kt.plugins]\nkt_triggers = kt_triggers\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    kernel = kt.Kernel(plugins=["kt_triggers"])
    assert "timer" in kernel.triggers and "add_timer" in kernel.tools


async def test_an_unknown_trigger_type_names_the_known_ones():
    with pytest.raises(kt.UnknownNameError, match="timer"):
        await kt.Agent.build(
            {"name": "t", "triggers": [{"type": "timr"}]},
            llm=kt.testing.ScriptedLLM(["ok"]),
            kernel=kt.Kernel(plugins=[kt_triggers]),
        )


def test_loading_the_plugin_does_not_import_trio():
    """`kt --help` builds a kernel with every plugin: registering this one must stay cheap."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, kt, kt_triggers; kt.Kernel(plugins=[kt_triggers]); "
        "print('trio' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr
