"""`kt terrarium run` and `kt terrarium check`: the kt_terrarium plugin's commands."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kt
import kt_terrarium
from kt_terrarium.session import TeamPrinter, run_recipe

REPO = Path(__file__).resolve().parents[3]
SWE_TEAM = REPO / "examples" / "terrariums" / "swe_team"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def kt_command(tmp_path):
    """Run `python -m kt_cli ...` with kt_terrarium installed through a throwaway dist-info."""
    site = tmp_path / "site"
    info = site / "kt_terrarium_dist-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: kt_terrarium_dist\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text("[kt.plugins]\nkt_terrarium = kt_terrarium\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(site), *(str(REPO / d) for d in ("kernel", "plugins", "cli"))]
    )
    env["KT_HOME"] = str(tmp_path / "home")
    env["KT_PLUGINS"] = "kt_terrarium"
    env.pop("COLUMNS", None)

    def run(
        *args: str, stdin: str = "", plugins: str = "kt_terrarium"
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "kt_cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**env, "KT_PLUGINS": plugins},
            cwd=REPO,
            timeout=120,
        )

    return run


def test_the_swe_team_runs_from_the_command_line(kt_command, tmp_path):
    done = kt_command(
        "terrarium",
        "run",
        str(SWE_TEAM),
        "--mode",
        "plain",
        "--session-dir",
        str(tmp_path / "s"),
        stdin="Write reverse(s) in Python\n",
        plugins="kt_terrarium,kt_sessions",  # the session store that records the graphs
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "I have asked swe to write it; the reviewer will check the draft.",
        "swe has a draft; the reviewer is on it.",
        "Done and reviewed: def reverse(s): return s[::-1]",
        "The team is idle.",
    ]
    activity = done.stderr.splitlines()
    assert activity == [
        '[tool] send_message {"channel": "tasks", "message": "Write reverse(s): return the '
        'string s reversed."}',
        "[tasks] root -> swe: Write reverse(s): return the string s reversed.",
        "[swe] def reverse(s): return s[::-1] # slicing with step -1",
        "[wire] swe -> reviewer: def reverse(s): return s[::-1] # slicing with step -1",
        "[wire] swe -> root: (turn ended)",
        "[results] reviewer -> root: APPROVED: def reverse(s): return s[::-1]",
        "[reviewer] Approved and posted on results.",
        "[wire] reviewer -> root: (turn ended)",
    ]
    (path,) = (tmp_path / "s").glob("*.ktsession")
    with kt.SessionReader(path) as reader:  # a terrarium's session opens like a creature's
        messages = [e.wire for e in reader.events() if e.type == "channel_message"]
    assert ("results", "APPROVED: def reverse(s): return s[::-1]") in [
        (m["channel"], m["content"]) for m in messages
    ]


def test_check_prints_the_recipe(kt_command):
    done = kt_command("terrarium", "check", str(SWE_TEAM))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "terrarium swe_team: An implementer and a reviewer, coordinated by a root"
    assert "  tasks (queue)  Incoming task assignments" in lines
    assert "  root [root]" in lines
    assert "    wire ->  root (ping)" in lines


def test_an_invalid_recipe_is_a_configuration_error(kt_command, tmp_path):
    recipe = write(
        tmp_path / "bad" / "terrarium.toml",
        """
        [[creatures]]
        name = "a"
        channels = { listen = ["nope"] }
        """,
    )
    for command in ("run", "check"):
        done = kt_command("terrarium", command, str(recipe.parent), stdin="hi\n")
        assert done.returncode == 2, (command, done.stderr)
        assert "creatures[0].channels.listen[0]" in done.stderr
        assert "unknown channel 'nope'" in done.stderr


def test_kt_help_lists_the_terrarium_commands(kt_command):
    done = kt_command("--help")
    assert done.returncode == 0 and "terrarium" in done.stdout
    done = kt_command("terrarium", "run", "--help")
    assert "--focus" in done.stdout and "--session-dir" in done.stdout


def test_the_plugin_adds_its_group_through_the_hook():
    import click

    group = click.Group("kt")
    kt_terrarium.kt_cli_commands(group)
    assert sorted(group.commands["terrarium"].commands) == ["check", "run"]


# -- The session, in process --------------------------------------------------------------------


async def session(recipe, stdin: str, **options) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run_recipe(
        recipe,
        kernel=kt.Kernel(plugins=[]),
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
        handle_sigint=False,
        **options,
    )
    return code, out.getvalue(), err.getvalue()


def pair(tmp_path: Path, root_reply: str = "root: {}") -> Path:
    write(tmp_path / "pair" / "root.toml", f'[[replies]]\ntext = "{root_reply}"\n')
    write(tmp_path / "pair" / "helper.toml", '[[replies]]\ntext = "helper says hi"\n')
    return write(
        tmp_path / "pair" / "terrarium.toml",
        """
        name = "pair"
        [[creatures]]
        name = "helper"
        controller = { llm = "scripted:helper.toml" }
        output_wiring = ["lead"]
        [[creatures]]
        name = "lead"
        privileged = true
        controller = { llm = "scripted:root.toml" }
        output_wiring = []
        """,
    ).parent


async def test_focus_quiet_and_prompt(tmp_path):
    code, out, err = await session(
        pair(tmp_path, "lead reply"), "hello\n", focus="helper", prompt="> ", show_activity=False
    )
    assert code == 0 and err == ""
    assert out == "> helper says hi\n> \n"


async def test_every_turn_of_the_focus_creature_is_printed(tmp_path):
    code, out, err = await session(pair(tmp_path, "lead reply"), "one\n", focus="lead")
    assert code == 0
    assert out.splitlines() == ["lead reply"]  # lead's only turn: nothing wired back to it


async def test_a_failed_turn_gives_exit_code_one(tmp_path):
    write(tmp_path / "bad.toml", '[[replies]]\nerror = "model down"\n')
    code, out, err = await session(
        pair(tmp_path), "hello\n", focus="lead", llm_selector=f"scripted:{tmp_path / 'bad.toml'}"
    )
    assert code == 1
    assert "kt: error: the turn of 'lead' ended error" in err and "model down" in err


async def test_an_unknown_focus_is_an_error(tmp_path):
    with pytest.raises(kt_terrarium.CreatureNotFoundError, match="no creature 'ghost'"):
        await session(pair(tmp_path), "", focus="ghost")


@pytest.mark.parametrize(
    ("creature", "problem"),
    [
        ('tools = [{ name = "no_such_tool" }]', "unknown tool 'no_such_tool'"),
        ('triggers = [{ type = "no_such_trigger" }]', "no_such_trigger"),
        ('subagents = [{ name = "no_such_helper" }]', "no_such_helper"),
    ],
)
def test_check_rejects_what_run_rejects(kt_command, tmp_path, creature, problem):
    """Building a creature finds problems loading the recipe cannot; check builds them too."""
    recipe = write(
        tmp_path / "builds" / "terrarium.toml",
        f"""
        [[creatures]]
        name = "a"
        {creature}
        """,
    )
    script = write(tmp_path / "replies.toml", '[[replies]]\ntext = "hi"\n')
    run = kt_command(
        "terrarium", "run", str(recipe.parent), "--llm", f"scripted:{script}", stdin="hi\n"
    )
    check = kt_command("terrarium", "check", str(recipe.parent))
    assert run.returncode == 2 and problem in run.stderr, run.stderr
    assert check.returncode == 2 and problem in check.stderr, check.stderr
    assert "creatures[0]" in check.stderr


def test_check_without_a_model_warns_that_run_needs_one(kt_command, tmp_path):
    recipe = write(tmp_path / "plain" / "terrarium.toml", '[[creatures]]\nname = "a"\n')
    done = kt_command("terrarium", "check", str(recipe.parent))
    assert done.returncode == 0, done.stderr
    assert "kt: warning:" in done.stderr and "--llm" in done.stderr
    script = write(tmp_path / "replies.toml", '[[replies]]\ntext = "hi"\n')
    done = kt_command("terrarium", "check", str(recipe.parent), "--llm", f"scripted:{script}")
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr


class Screen(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_the_team_never_splits_the_reply_in_a_pipe_and_gets_its_own_line_on_a_terminal():
    from kt.events import AgentWarning, TextDelta

    for out, err, shown in (
        (io.StringIO(), io.StringIO(), "Posted."),
        (Screen(), Screen(), "Post\ned."),
    ):
        printer = TeamPrinter("root", out, err)
        printer.handle(TextDelta(creature="root", text="Post", iteration=1))
        printer.handle(AgentWarning(creature="navigator", message="slow down"))  # mid-reply
        printer.handle(TextDelta(creature="root", text="ed.", iteration=1))
        assert out.getvalue() == shown
        assert err.getvalue() == "kt: warning: navigator: slow down\n"
