"""Hardened systemd units for a lab host (``kt web --mode lab-host``) and its workers.

Each unit runs under a dynamic user (``DynamicUser=yes``) with its own state directory
(``/var/lib/kt-*``, also ``KT_HOME``), a read-only system (``ProtectSystem=strict``), no new
privileges, a private ``/tmp`` and a narrow set of address families. Secrets never appear on a
command line: the Redis password is a credential file (``LoadCredential=``), which the unit
passes to ``kt`` as ``KT_LAB_PASSWORD_FILE=%d/redis-password``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from kt_lab.errors import LabConfigError
from kt_lab.redis_io import check_url
from kt_lab.worker import check_node_name

__all__ = ["CREDENTIAL", "Units", "write_units"]

CREDENTIAL = "/etc/kt/redis-password"  # where the operator puts the Redis password (0600)

_HARDENING = """\
DynamicUser=yes
StateDirectory={state}
WorkingDirectory=/var/lib/{state}
Environment=KT_HOME=/var/lib/{state}
Environment=KT_LAB_REDIS={url}
LoadCredential=redis-password:{credential}
Environment=KT_LAB_PASSWORD_FILE=%d/redis-password
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
CapabilityBoundingSet=
UMask=0077
"""

_UNIT = """\
[Unit]
Description={description}
Documentation=https://kt-terrarium.readthedocs.io/en/latest/guides/laboratory/
Wants=network-online.target
After=network-online.target redis-server.service

[Service]
Type=exec
ExecStart={command}
Restart=on-failure
RestartSec=2
TimeoutStopSec=20
KillSignal=SIGTERM
{hardening}
[Install]
WantedBy=multi-user.target
"""


@attrs.frozen
class Units:
    """What the units run.

    Attributes:
        url: The Redis URL (without a password: the password is a credential file).
        kt: The ``kt`` executable (default: the one on ``PATH``, else next to this Python).
        credential: The credential file on the machine.
        bind: Where the lab host listens (loopback: put a TLS proxy in front).
    """

    url: str = "redis://127.0.0.1:6379/0"
    kt: str | None = None
    credential: str = CREDENTIAL
    bind: str = "127.0.0.1:8765"

    def __attrs_post_init__(self) -> None:
        check_url(self.url)
        if "@" in self.url.split("//", 1)[-1].split("/", 1)[0]:
            raise LabConfigError(
                "the unit's Redis URL carries credentials; give redis://host:port/db and put "
                f"the password (or user:password) in {self.credential} instead"
            )

    def executable(self) -> str:
        """The absolute path of ``kt``."""
        if self.kt:
            return self.kt
        found = shutil.which("kt") or str(Path(sys.executable).with_name("kt"))
        return str(Path(found).resolve())

    def host(self) -> tuple[str, str]:
        """``(file name, text)`` of the lab host unit."""
        address, _, port = self.bind.rpartition(":")
        # kt web, not kt serve start: systemd keeps the process; a daemon would detach from it
        command = f"{self.executable()} web --mode lab-host --host {address} --port {port}"
        return "kt-lab-host.service", self._unit("KT Terrarium lab host", command, "kt-lab-host")

    def worker(self, name: str) -> tuple[str, str]:
        """``(file name, text)`` of the unit of worker *name*."""
        check_node_name(name)
        command = f"{self.executable()} worker --name {name}"
        state = f"kt-worker-{name}"
        return f"{state}.service", self._unit(f"KT Terrarium lab worker {name}", command, state)

    def select(
        self, *, everything: bool = False, host: bool = False, workers: Sequence[str] = ()
    ) -> list[tuple[str, str]]:
        """The units asked for.

        ``--host``, ``--worker NAME`` (repeatable), or ``--all``: the host and a worker named
        ``worker-1``. Nothing asked means ``--all``.
        """
        chosen = []
        if host or everything or not workers:
            chosen.append(self.host())
        names = list(workers) or (["worker-1"] if everything or not host else [])
        chosen += [self.worker(name) for name in names]
        return chosen

    def _unit(self, description: str, command: str, state: str) -> str:
        hardening = _HARDENING.format(state=state, url=self.url, credential=self.credential)
        return _UNIT.format(description=description, command=command, hardening=hardening)


def write_units(units: Iterable[tuple[str, str]], folder: Path) -> list[Path]:
    """Write each ``(file name, text)`` into *folder*; return the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
