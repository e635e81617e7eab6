"""``isolation = "bwrap"``: bash and python inside a bubblewrap sandbox, checked by real commands.

CI installs bubblewrap (``.ci/run``); on a machine without it only the refusal is tested.
"""

from __future__ import annotations

import shutil

import pytest
import trio
from kt_tools_helpers import drive

import kt
import kt_tools
from kt.errors import ConfigValidationError
from kt_tools import isolation


def _bwrap_works() -> bool:
    executable = shutil.which("bwrap")
    return executable is not None and isolation._probe(executable) is None


needs_bwrap = pytest.mark.skipif(not _bwrap_works(), reason="bubblewrap cannot sandbox here")


def isolated(**options):
    return [
        {"name": "bash", "options": {"isolation": "bwrap", **options}},
        {"name": "python", "options": {"isolation": "bwrap", **options}},
    ]


@needs_bwrap
async def test_only_the_working_dir_is_writable_and_the_kt_home_is_hidden(
    tmp_path, work, monkeypatch
):
    home = tmp_path / "kt-home"
    home.mkdir()
    (home / "keys.toml").write_text('openai = "sk-hidden-0123456789"\n')
    monkeypatch.setenv("KT_HOME", str(home))
    outside = tmp_path / "outside"
    outside.mkdir()
    async with drive(work, isolated()) as tools:
        inside = await tools.call("bash", command="echo made > here.txt && cat here.txt")
        out = await tools.call("bash", command=f"echo x > {outside}/new.txt")
        system = await tools.call("bash", command="touch /usr/kt-was-here")
        keys = await tools.call("bash", command=f"ls -A {home}; cat {home}/keys.toml")
        temp = await tools.call("bash", command="echo t > /tmp/kt-tmp && cat /tmp/kt-tmp")
        py = await tools.call("python", code=f"open({str(outside / 'py.txt')!r}, 'w')")
    assert inside.status == "ok" and inside.output.strip() == "made"
    assert (work / "here.txt").read_text() == "made\n"
    # outside is under /tmp here, which the sandbox replaces by an empty folder of its own
    assert out.status == "error" and ("Read-only" in out.output or "No such file" in out.output)
    assert system.status == "error" and "Read-only file system" in system.output
    assert keys.status == "error" and "sk-hidden" not in keys.output
    assert temp.output.strip() == "t"
    assert py.status == "error" and ("Read-only" in py.output or "No such file" in py.output)
    assert list(outside.iterdir()) == []


async def _serve_once(listener: trio.SocketListener) -> None:
    stream = await listener.accept()
    async with stream:
        await stream.send_all(b"hello from the host\n")


@needs_bwrap
async def test_the_network_is_off_unless_allowed(work):
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    probe = (
        f"import socket; s = socket.create_connection(('127.0.0.1', {port}), timeout=5); "
        "print(s.recv(100).decode().strip())"
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_serve_once, listener)
        async with drive(work, isolated()) as tools:
            offline = await tools.call("python", code=probe)
        async with drive(work, isolated(isolation_network=True)) as tools:
            online = await tools.call("python", code=probe)
    assert offline.status == "error" and "ConnectionRefusedError" in offline.output
    assert online.status == "ok" and online.output.strip() == "hello from the host"


async def test_the_tool_refuses_to_start_without_bubblewrap(work, monkeypatch):
    monkeypatch.setenv("KT_BWRAP_PATH", str(work / "no-such-bwrap"))
    isolation._probe.cache_clear()
    with pytest.raises(ConfigValidationError) as caught:
        await kt.Agent.build(
            {"name": "t", "tools": isolated()},
            llm=kt.testing.ScriptedLLM(["hi"]),
            kernel=kt.Kernel(plugins=[kt_tools]),
            pwd=work,
        )
    assert "could not be run" in str(caught.value)
    assert 'isolation = "none"' in str(caught.value)
    isolation._probe.cache_clear()


def test_an_unknown_isolation_is_a_config_error():
    with pytest.raises(ConfigValidationError, match="isolation"):
        kt_tools.TOOLS[0].configure({"isolation": "chroot"})


def test_the_sandbox_command_line(tmp_path):
    argv = isolation.bwrap_argv(
        "bwrap",
        ["bash", "-c", "true"],
        working_dir=tmp_path,
        kt_home=tmp_path / "missing-home",
        network=False,
        home=tmp_path,
    )
    assert argv[:6] == ["bwrap", "--die-with-parent", "--new-session", "--ro-bind", "/", "/"]
    assert "--unshare-net" in argv
    at = argv.index("--bind")
    assert argv[at : at + 3] == ["--bind", str(tmp_path), str(tmp_path)]
    assert argv[-4:] == ["--", "bash", "-c", "true"]
