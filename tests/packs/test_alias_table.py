"""The alias table in the docs is the one the installed first-party plugins declare."""

from __future__ import annotations

import re
from pathlib import Path

import kt

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "first-party-plugins.md"


def test_the_documented_alias_table_matches_the_plugins():
    text = DOC.read_text(encoding="utf-8").split("## Aliases for packs", 1)[1]
    documented = dict(re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|$", text, re.M))
    assert documented == kt.Kernel().module_aliases()


def test_every_alias_target_loads():
    import importlib

    for target in kt.Kernel().module_aliases().values():
        module, _, attribute = target.partition(":")
        assert callable(getattr(importlib.import_module(module), attribute)), target
