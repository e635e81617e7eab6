"""The real `kt` process (`python -m kt_cli`): entry-point plugins, pipes, exit codes, Ctrl+C."""

from __future__ import annotations

import signal

import pytest
from kt_cli_helpers import kt_env, read_until, run_kt, start_kt, write

import kt


@pytest.fixture
def env(isolated_kt):
    return kt_env(isolated_kt)


@pytest.fixture
def plugin_site(tmp_path):
    """A folder on PYTHONPATH holding two throwaway installed plugins (dist-info + module).

    * kt_broken: its module raises ImportError, as a plugin missing a dependency does.
    * kt_hello: contributes the `kt hello` command through kt_cli_commands.
    """
    site = tmp_path / "site"
    write(site / "kt_broken_mod.py", 'raise ImportError("needs the frobnicate package")\n')
    write(
        site / "kt_hello_mod.py",
        """
        import click

        import kt


        @kt.hookimpl
        def kt_cli_commands(cli):
            @cli.command(help="Greet someone.")
            @click.argument("who")
            def hello(who):
                click.echo(f"hello {who}")
        """,
    )
    for name, module in (("kt_broken", "kt_broken_mod"), ("kt_hello", "kt_hello_mod")):
        dist = site / f"{name}-1.2.3.dist-info"
        write(dist / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
        write(dist / "entry_points.txt", f"[kt.plugins]\n{name} = {module}\n")
    return site


def test_version(env):
    done = run_kt(["--version"], env=env)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"kt-terrarium {kt.__version__}\n",
        "",
    )


def test_plugins_shows_the_failed_plugin_with_its_reason(isolated_kt, plugin_site):
    env = kt_env(isolated_kt, plugins="kt_broken,kt_hello", extra_paths=[plugin_site])
    done = run_kt(["plugins"], env=env)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert rows["kt_hello"].split() == ["kt_hello", "1.2.3", "loaded", "kt_cli_commands"]
    assert rows["kt_broken"].split()[1:3] == ["-", "failed"]
    assert "ImportError: needs the frobnicate package" in rows["kt_broken"]


def test_entry_point_plugin_command_is_listed_and_runs(isolated_kt, plugin_site):
    env = kt_env(isolated_kt, plugins="kt_hello", extra_paths=[plugin_site])
    help_text = run_kt(["--help"], env=env)
    assert help_text.returncode == 0, help_text.stderr
    assert "hello    Greet someone." in help_text.stdout
    done = run_kt(["hello", "terrarium"], env=env)
    assert (done.returncode, done.stdout) == (0, "hello terrarium\n")


def test_doctor_on_the_demo_creature(isolated_kt):
    env = kt_env(isolated_kt, plugins="kt_subagents")
    done = run_kt(
        ["doctor", "examples/demo", "--llm", "scripted:examples/demo/replies.toml"], env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK    model: scripted:examples/demo/replies.toml" in done.stdout
    assert "OK    build: tools: word_count, summarize;" in done.stdout


def test_doctor_fails_for_a_broken_creature(env, tmp_path):
    write(tmp_path / "c" / "creature.toml", 'name = "c"\n[controller]\ntemperature = "hot"\n')
    done = run_kt(["doctor", tmp_path / "c"], env=env)
    assert done.returncode == 1
    assert "FAIL  config:" in done.stdout


def test_run_plain_two_lines(env, creature, script):
    replies = script('replies = ["reply one", "reply two"]')
    done = run_kt(
        ["run", creature, "--mode", "plain", "--llm", f"scripted:{replies}"],
        env=env,
        stdin="first\nsecond\n",
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "reply one\nreply two\n", "")


def test_error_turn_prints_kt_error_and_exit_code_1(env, creature, script):
    replies = script(
        """
        [[replies]]
        error = "boom"

        [[replies]]
        text = "still here"
        """
    )
    done = run_kt(
        ["run", creature, "--mode", "plain", "--llm", f"scripted:{replies}"],
        env=env,
        stdin="one\ntwo\n",
    )
    assert done.returncode == 1
    assert done.stdout == "still here\n"
    assert done.stderr == "kt: error: boom\n"


def test_no_model_configured(env, creature):
    done = run_kt(["run", creature, "--mode", "plain"], env=env, stdin="hi\n")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("kt: error: no model is configured for creature 'tester'")
    assert lines[1].startswith("hint: ") and "--llm scripted:FILE" in lines[1]


def test_unknown_mode(env, creature):
    done = run_kt(["run", creature, "--mode", "tui"], env=env)
    assert done.returncode == 2
    assert "mode 'tui' needs the kt_tui plugin" in done.stderr


def test_config_error_exits_2_without_a_traceback(env, tmp_path):
    write(tmp_path / "c" / "creature.toml", 'name = "c"\nmax_iterations = 0\n')
    done = run_kt(["run", tmp_path / "c", "--llm", "scripted:x.toml"], env=env, stdin="hi\n")
    assert done.returncode == 2
    assert done.stderr.startswith("kt: error: ")
    assert "max_iterations" in done.stderr
    assert "Traceback" not in done.stderr


SLOW_REPLY = """
[[replies]]
text = "{text}"
chunk_size = 4
delay = 0.2

[[replies]]
text = "second answer"
"""


def test_ctrl_c_interrupts_the_turn_and_the_run_goes_on(env, creature, script):
    replies = script(SLOW_REPLY.format(text="word " * 200))
    args = ["run", creature, "--mode", "plain", "--llm", f"scripted:{replies}"]
    with start_kt(args, env=env) as proc:
        try:
            proc.stdin.write(b"first\n")
            proc.stdin.flush()
            read_until(proc.stdout, b"word")  # the turn is streaming
            proc.send_signal(signal.SIGINT)
            read_until(proc.stderr, b"kt: turn interrupted")
            out, err = proc.communicate(b"second\n", timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert out.decode().endswith("\nsecond answer\n")


def test_second_ctrl_c_exits_130(env, creature, script):
    replies = script(SLOW_REPLY.format(text="word " * 200))
    args = ["run", creature, "--mode", "plain", "--llm", f"scripted:{replies}"]
    with start_kt(args, env=env) as proc:
        try:
            proc.stdin.write(b"first\n")
            proc.stdin.flush()
            read_until(proc.stdout, b"word")
            proc.send_signal(signal.SIGINT)
            read_until(proc.stderr, b"press Ctrl+C again to exit")
            proc.send_signal(signal.SIGINT)  # stdin stays open: only the signal can end the run
            read_until(proc.stderr, b"stopped by Ctrl+C")
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130
