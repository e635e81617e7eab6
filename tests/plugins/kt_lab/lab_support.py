"""`kt worker` subprocesses for the lab tests, and an engine on the host side."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import trio

import kt
import kt_terrarium

HERE = Path(__file__).resolve().parent

REDIS_SERVER = shutil.which("redis-server")


def die_with_parent() -> None:
    """(In the child, before exec) SIGKILL this process if the test process dies first."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """One redis-server process; :meth:`kill` and :meth:`start` simulate a crash and restart."""

    def __init__(self, folder: Path, *, tls: bool = False) -> None:
        self.folder = folder
        self.port = free_port()
        self.tls = tls
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        if self.tls:
            return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={self.folder / 'ca.crt'}"
        return f"redis://127.0.0.1:{self.port}/0"

    def _listen(self) -> list[str]:
        """The port options: plain, or TLS only with a throw-away CA made on first start."""
        if not self.tls:
            return ["--port", str(self.port)]
        if not (self.folder / "server.crt").exists():
            self._certificates()
        return [
            "--port",
            "0",
            "--tls-port",
            str(self.port),
            "--tls-auth-clients",
            "no",
            "--tls-cert-file",
            str(self.folder / "server.crt"),
            "--tls-key-file",
            str(self.folder / "server.key"),
            "--tls-ca-cert-file",
            str(self.folder / "ca.crt"),
        ]

    def _certificates(self) -> None:
        """A throw-away CA and a server certificate for 127.0.0.1 (openssl)."""

        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=self.folder, check=True, capture_output=True)

        openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "1",
            "-subj",
            "/CN=kt-lab-test-ca",
        )
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        )
        (self.folder / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
        openssl(
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "1",
            "-extfile",
            "ext",
        )

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                *self._listen(),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--logfile",
                "",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=die_with_parent,
        )
        for line in self.process.stdout:  # wait for the server to say so, not for a timer
            if "Ready to accept connections" in line:
                threading.Thread(target=self._drain, daemon=True).start()
                return
        raise RuntimeError(f"redis-server exited with {self.process.wait()}")

    def _drain(self) -> None:
        """Keep reading its log so the pipe never fills and blocks the server."""
        process = self.process
        assert process is not None and process.stdout is not None
        for _ in process.stdout:
            pass

    def kill(self) -> None:
        """SIGKILL: no shutdown save; only what the AOF holds comes back."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        self.kill()


class Workers:
    """`kt worker` processes on one Redis, with the scripted plugin (tests/.../lab_script.py)."""

    def __init__(self, redis_url: str, folder: Path, *, lease_ttl: float = 1.0) -> None:
        from lab_script import install

        self.url = redis_url
        self.folder = folder
        self.lease_ttl = lease_ttl
        self.plugin_path = install(folder / "plugin")
        self.record = folder / "record.txt"
        self.record.touch()
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.logs: dict[str, list[str]] = {}
        self._logged = threading.Condition()

    def start(
        self, name: str, *, labels: str = "", capacity: int = 100, hang: float = 3600
    ) -> None:
        """Start worker *name*; return when it said it is ready (blocking: run in a thread)."""
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(self.plugin_path), os.environ.get("PYTHONPATH", "")]
            ),
            "KT_PLUGINS": "kt_terrarium,kt_lab,lab_script",
            "KT_HOME": str(self.folder / "home"),
            "LAB_RECORD": str(self.record),
            "LAB_NODE": name,
            "LAB_HANG": str(hang),
        }
        command = [
            sys.executable,
            "-c",
            "from kt_cli.main import main; main()",
            "worker",
            "--redis",
            self.url,
            "--name",
            name,
            "--lease-ttl",
            str(self.lease_ttl),
            "--capacity",
            str(capacity),
        ]
        if labels:
            command += ["--labels", labels]
        process = subprocess.Popen(
            command,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            cwd=self.folder,
            preexec_fn=die_with_parent,
        )
        self.processes[name] = process
        log = self.logs.setdefault(name, [])
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            if f"kt worker {name} ready" in line:
                threading.Thread(target=self._drain, args=(process, log), daemon=True).start()
                return
        raise RuntimeError(f"worker {name} exited {process.wait()}:\n{''.join(log)}")

    def _drain(self, process: subprocess.Popen[str], log: list[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            with self._logged:
                log.append(line)
                self._logged.notify_all()

    def wait_log(self, name: str, text: str, timeout: float = 30) -> str:
        """Block until worker *name* wrote a line containing *text*; return that line."""

        def found():
            return next((line for line in self.logs[name] if text in line), None)

        with self._logged:
            if not self._logged.wait_for(found, timeout):
                raise TimeoutError(
                    f"worker {name} never wrote {text!r}:\n{''.join(self.logs[name])}"
                )
            return found()

    def kill(self, name: str) -> None:
        """kill -9."""
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def pause(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGCONT)

    def records(self) -> list[str]:
        return self.record.read_text().splitlines()

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def host_process(script: str, url: str, ready: str) -> subprocess.Popen[str]:
    """Run a host *script* (``python -c``, given *url*); return once it printed *ready*.

    Blocking: run it in a thread. The test kills it (``kill -9``) to restart the host.
    """
    process = subprocess.Popen(
        [sys.executable, "-c", script, url],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == ready, line
    return process


def engine(redis_url: str, **options) -> kt_terrarium.Terrarium:
    kernel = kt.Kernel(plugins=["kt_lab"])
    transport = {"url": redis_url, "watch_every": 0.2, "place_timeout": 5.0, **options}
    return kt_terrarium.Terrarium(kernel=kernel, transports={"redis": transport})


async def start(workers: Workers, *names: str, **options) -> None:
    """Start workers one after the other (each returns once it said it is ready)."""
    for name in names:
        await trio.to_thread.run_sync(lambda n=name: workers.start(n, **options))


def drain(events) -> list:
    """Every event already waiting on an engine subscription."""
    seen = []
    while True:
        try:
            seen.append(events.receive_nowait())
        except trio.WouldBlock:
            return seen
