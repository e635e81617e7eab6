"""`kt info` loads a creature's own code the way a build would: broken code is not "ok"."""

from __future__ import annotations

from packs_support import write

from kt_packages.describe import BROKEN, OK, describe_creature

TOOLS = 'import kt\n\n@kt.tool\ndef shout(text: str) -> str:\n    """Shout."""\n    return text.upper()\n'


def _creature(folder, tools_source):
    write(
        folder / "creature.toml",
        'name = "mybot"\n[[tools]]\nname = "shout"\nmodule = "./mytools.py"\n'
        '[[tools]]\nname = "whisper"\nmodule = "./mytools.py"\nclass = "whisper"\n',
    )
    write(folder / "mytools.py", tools_source)
    return folder


def test_a_tool_file_that_loads_is_ok_and_a_missing_attribute_is_broken(kernel, tmp_path):
    report = describe_creature(_creature(tmp_path / "mybot", TOOLS), kernel)
    shout, whisper = report.checks["tools"]
    assert shout.status == OK
    assert whisper.status == BROKEN
    assert "has no 'whisper'" in whisper.detail


def test_a_tool_file_that_raises_on_import_is_broken_with_the_error_and_the_fix(kernel, tmp_path):
    folder = _creature(tmp_path / "mybot", "raise ImportError('broken on purpose')\n")
    report = describe_creature(folder, kernel)
    shout = report.checks["tools"][0]
    assert shout.status == BROKEN
    assert "broken on purpose" in shout.detail
    assert "fix the error in that file" in shout.detail


def test_kt_info_prints_broken_code_in_the_listing(run_kt, tmp_path):
    folder = _creature(tmp_path / "mybot", "raise ImportError('broken on purpose')\n")
    result = run_kt("info", folder)
    assert "BROKEN" in result.stdout
    assert "broken on purpose" in result.stdout
