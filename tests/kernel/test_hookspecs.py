"""Meta-tests keeping the hook contract honest (STYLE house rule 4)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import kt
from kt.plugins import hookspecs

ROOT = Path(__file__).resolve().parents[2]
SPECS = [
    name
    for name, fn in vars(hookspecs).items()
    if name.startswith("kt_") and inspect.isfunction(fn)
]


def test_every_hook_is_either_registration_or_runtime():
    assert set(hookspecs.RUNTIME_HOOKS) <= set(SPECS)
    assert len(SPECS) >= 20


@pytest.mark.parametrize("name", SPECS)
def test_spec_docstring_documents_every_argument(name):
    fn = getattr(hookspecs, name)
    doc = inspect.getdoc(fn) or ""
    assert doc.splitlines()[0].endswith("."), "summary line"
    params = list(inspect.signature(fn).parameters)
    if params:
        assert "Args:" in doc
        args_section = doc.split("Args:", 1)[1]
        for param in params:
            assert re.search(rf"^\s+{param}:", args_section, re.M), (
                f"{name} does not document {param}"
            )
    assert "Use in creature plugins:" in doc


@pytest.mark.parametrize("name", SPECS)
def test_every_hook_has_a_test(name):
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    assert f"def test_hook_{name}(" in sources


def test_first_party_plugins_have_no_unknown_hooks():
    kernel = kt.Kernel()
    kernel.pm.check_pending()
