"""``kt worker`` (a Laboratory node) and ``kt service install`` (systemd units).

Added by the plugin's ``kt_cli_commands`` hook. The worker uses the invocation's kernel (its
``--plugins`` selection) to build creatures, found on the click context, so this module does
not import ``kt_cli``.
"""

from __future__ import annotations

from pathlib import Path

import click

import kt


def _kernel() -> kt.Kernel:
    """The ``kt`` invocation's kernel (its CliState), else a kernel of every installed plugin."""
    state = click.get_current_context().find_root().obj
    kernel = getattr(state, "kernel", None)
    return kernel() if callable(kernel) else kt.Kernel()


def _labels(value: str) -> tuple[str, ...]:
    return tuple(label.strip() for label in value.split(",") if label.strip())


@click.command("worker")
@click.option(
    "--redis",
    "url",
    required=True,
    envvar="KT_LAB_REDIS",
    help="Redis URL (redis://, rediss:// for TLS, unix://); also KT_LAB_REDIS.",
)
@click.option("--name", required=True, help="This node's name, unique in the Laboratory.")
@click.option(
    "--capacity",
    type=int,
    default=100,
    show_default=True,
    help="How many creatures this node takes at most.",
)
@click.option("--labels", default="", help="Comma-separated labels placement can ask for.")
@click.option(
    "--lease-ttl",
    type=float,
    default=6.0,
    show_default=True,
    help="Seconds without renewal before another node takes a creature over.",
)
@click.option("--prefix", default="kt", show_default=True, help="Redis key prefix.")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False),
    envvar="KT_LAB_PASSWORD_FILE",
    help="A file holding the Redis password or user:password (never on the command "
    "line); also KT_LAB_PASSWORD_FILE.",
)
def worker(url, name, capacity, labels, lease_ttl, prefix, password_file) -> None:
    """Run a Laboratory node: own creatures the host places here, until stopped.

    Connects outward to Redis only. SIGTERM or Ctrl+C hands every creature back at once (their
    leases are released), so other nodes take them over without waiting for a lease to lapse.
    """
    import signal

    import trio

    from kt_lab.worker import LabWorker

    node = LabWorker(
        url,
        name,
        capacity=capacity,
        labels=_labels(labels),
        kernel=_kernel(),
        lease_ttl=lease_ttl,
        prefix=prefix,
        password_file=password_file,
        report=lambda line: click.echo(f"kt worker {name}: {line}", err=True),
    )

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            click.echo(f"kt worker {name} ready on {node.redis.where()}", err=True)
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break

    trio.run(main)


@click.group("service")
def service() -> None:
    """Deployment recipes: hardened systemd units for a lab host and its workers."""


@service.command("install")
@click.option("--all", "everything", is_flag=True, help="The host and one worker (the default).")
@click.option("--host", "host", is_flag=True, help="The lab host unit (kt serve).")
@click.option(
    "--worker",
    "workers",
    multiple=True,
    metavar="NAME",
    help="A worker unit for node NAME (repeatable).",
)
@click.option(
    "--redis",
    "url",
    default="redis://127.0.0.1:6379/0",
    show_default=True,
    help="The Redis URL the units use (no password: use a credential file).",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the unit files into this folder instead of /etc/systemd/system.",
)
@click.option(
    "--kt", "kt_path", default=None, help="The kt executable (default: the one running now)."
)
def install(everything, host, workers, url, output, kt_path) -> None:
    """Write systemd units for `kt serve --mode lab-host` and `kt worker`.

    The units run under a dynamic user with a state directory, a read-only system
    (ProtectSystem=strict) and no new privileges. The Redis password goes in a credential
    file (LoadCredential=redis-password:/etc/kt/redis-password), never on a command line.
    """
    from kt_lab.service import Units, write_units

    units = Units(url=url, kt=kt_path)
    chosen = units.select(everything=everything, host=host, workers=workers)
    target = output or Path("/etc/systemd/system")
    for path in write_units(chosen, target):
        click.echo(f"wrote {path}")
    if output is None:
        click.echo(
            "now: systemctl daemon-reload && systemctl enable --now "
            + " ".join(name for name, _ in chosen)
        )
