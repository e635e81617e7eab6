"""Redis from trio: the blocking client in worker threads, and the fenced Lua scripts.

The ``redis`` package's synchronous client is thread-safe (a connection pool); each call runs
in ``trio.to_thread.run_sync(..., abandon_on_cancel=True)``, so cancelling a task never waits
for Redis. Blocking reads use ``BLOCK`` of at most :data:`BLOCK_MS`, so an abandoned thread ends
soon. Only this module imports ``redis``.

Fencing: a creature's owner holds ``lease = "node:epoch"`` with a TTL. Every append to its
event stream goes through :data:`APPEND` (checks the lease, then appends a batch and acks the
inbox entries whose turns it completes, atomically), so an owner that lost its lease (paused,
partitioned, presumed dead) cannot write one entry more: the script answers ``FENCED``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import trio

from kt_lab.errors import FencedError, LabConfigError, LabUnavailableError
from kt_lab.keys import CreatureKeys

__all__ = [
    "BLOCK_MS",
    "Redis",
    "check_url",
    "dumps",
    "loads",
]

T = TypeVar("T")

BLOCK_MS = 1000  # the longest a blocking read holds its thread
MIN_VERSION = (7, 0)

ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local epoch = redis.call('INCR', KEYS[2])
local token = ARGV[1] .. ':' .. epoch
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
"""

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: lease, events, inbox, placement. ARGV: token, group (the node), batch number, number
# of acks, ack ids..., then pairs of (message JSON, inbox entry id or ""). A batch number this
# token already wrote is a retry after a lost reply: nothing is written twice. Returns the id of
# the last entry appended (or "DUP").
APPEND = """
local owner = redis.call('GET', KEYS[1])
if owner ~= ARGV[1] then
  return redis.error_reply('FENCED lease is ' .. tostring(owner))
end
local done = redis.call('HGET', KEYS[4], 'batch:' .. ARGV[1])
if done and tonumber(done) >= tonumber(ARGV[3]) then return 'DUP' end
redis.call('HSET', KEYS[4], 'batch:' .. ARGV[1], ARGV[3])
local acks = tonumber(ARGV[4])
local at = 5 + acks
local last = false
while at < #ARGV do
  if ARGV[at + 1] == '' then
    last = redis.call('XADD', KEYS[2], '*', 'm', ARGV[at], 'by', ARGV[1])
  else
    last = redis.call('XADD', KEYS[2], '*', 'm', ARGV[at], 'by', ARGV[1], 'in', ARGV[at + 1])
  end
  at = at + 2
end
if acks > 0 then
  redis.call('XACK', KEYS[3], ARGV[2], unpack(ARGV, 5, 4 + acks))
end
return last
"""


def dumps(message: Any) -> str:
    """A message as the JSON text a stream entry carries."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> Any:
    """A message from a stream entry's JSON text."""
    return json.loads(text)


def check_url(url: str) -> str:
    """Refuse a URL that is not Redis's, before anything connects.

    Raises:
        LabConfigError: the scheme is not ``redis``, ``rediss`` (TLS) or ``unix``.
    """
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        raise LabConfigError(
            f"the Laboratory needs a Redis URL (redis://, rediss:// for TLS, or unix://), not "
            f"{url!r}; for example redis://127.0.0.1:6379/0"
        )
    return url


def _credentials(path: str | None) -> dict[str, str]:
    """``username``/``password`` from a credentials file (``user:password`` or ``password``)."""
    if not path:
        return {}
    try:
        text = open(path, encoding="utf-8").read().strip()  # noqa: SIM115 (small file)
    except OSError as error:
        raise LabConfigError(f"cannot read the Redis password file {path}: {error}") from None
    user, sep, password = text.partition(":")
    return {"username": user, "password": password} if sep else {"password": text}


class Redis:
    """One Redis deployment, reached from trio.

    Args:
        url: ``redis://[user[:password]@]host:port/db``, ``rediss://`` for TLS (the ``ssl_*``
            query options of the ``redis`` package apply), or ``unix:///path.sock``.
        password_file: A file holding ``password`` or ``user:password`` (an ACL user), read
            once; keeps secrets off command lines. Overrides what the URL says.
    """

    def __init__(self, url: str, *, password_file: str | None = None) -> None:
        import redis

        check_url(url)
        self.url = url
        self._errors: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError)
        self._response_error = redis.ResponseError
        self._auth_error = redis.AuthenticationError
        self.client = redis.Redis.from_url(
            url,
            decode_responses=True,
            health_check_interval=30,
            socket_keepalive=True,
            **_credentials(password_file),
        )
        self._scripts = {
            name: self.client.register_script(text)
            for name, text in (
                ("acquire", ACQUIRE),
                ("renew", RENEW),
                ("release", RELEASE),
                ("append", APPEND),
            )
        }

    def where(self) -> str:
        """The URL without its password, for messages and listings."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""
        return f"{parts.scheme}://{user}{host}{port}{parts.path}"

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` (a client method) in a thread.

        Raises:
            LabUnavailableError: Redis cannot be reached.
        """
        try:
            return await trio.to_thread.run_sync(
                lambda: fn(*args, **kwargs), abandon_on_cancel=True
            )
        except self._auth_error as error:
            raise LabUnavailableError(
                f"Redis at {self.where()} refused the credentials: {error}; check the ACL user "
                "and its password file"
            ) from None
        except self._errors as error:
            raise LabUnavailableError(
                f"Redis at {self.where()} cannot be reached: {error}; check that it runs and "
                "that this machine may connect to it"
            ) from None

    async def check(self) -> str:
        """Ping and check the server version; return it.

        Raises:
            LabUnavailableError: unreachable, refused the credentials, or older than Redis 7.
        """
        try:
            info = await self.call(self.client.info, "server")
        except self._response_error as error:
            raise LabUnavailableError(f"Redis at {self.where()} refused INFO: {error}") from None
        version = str(info.get("redis_version", "0"))
        numbers = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
        if numbers < MIN_VERSION:
            raise LabUnavailableError(
                f"Redis at {self.where()} is version {version}; the Laboratory needs Redis 7 or "
                "newer (streams with XAUTOCLAIM)"
            )
        return version

    async def ensure_group(self, group: str, *streams: str) -> None:
        """Create consumer group *group* on each stream (and the stream), if missing."""

        def create() -> None:
            for stream in streams:
                try:
                    self.client.xgroup_create(stream, group, id="0", mkstream=True)
                except self._response_error as error:
                    if "BUSYGROUP" not in str(error):
                        raise

        await self.call(create)

    def handover(self, stream: str, group: str, previous: str | None) -> list[Any]:
        """(Blocking) Give *group* the place of *previous* on *stream*; return what is left.

        Every node reads a creature's streams through a group of its own, so an owner that
        lost the lease (a zombie still reading) never takes entries from the new owner.
        *group* starts where *previous* had delivered up to; the entries *previous* was given
        and never acknowledged are returned, oldest first, for the new owner to handle.
        *previous* may be *group* itself (this node owned the creature before a restart).
        """
        groups = (
            {g["name"]: g for g in self.client.xinfo_groups(stream)}
            if self.client.exists(stream)
            else {}
        )
        old = groups.get(previous) if previous else None
        start = old["last-delivered-id"] if old else "0"
        pending_ids = []
        if old is not None:
            pending = self.client.xpending_range(stream, previous, "-", "+", 100_000)
            pending_ids = [p["message_id"] for p in pending]
        if group != previous:
            if group in groups:
                self.client.xgroup_destroy(stream, group)
            self.client.xgroup_create(stream, group, id=start, mkstream=True)
        entries = []
        for entry_id in pending_ids:
            entries += self.client.xrange(stream, entry_id, entry_id)
        return entries

    # -- Leases and fenced appends -------------------------------------------------------------

    async def acquire(self, lease: str, epoch: str, node: str, ttl_ms: int) -> str | None:
        """Take the lease if nobody holds it; the new owner token, or ``None``."""
        return await self.call(self._scripts["acquire"], keys=[lease, epoch], args=[node, ttl_ms])

    def renew_many(self, leases: Sequence[tuple[str, str]], ttl_ms: int) -> list[bool]:
        """(Blocking) Renew each ``(lease, token)``; whether each is still held."""
        pipe = self.client.pipeline(transaction=False)
        for lease, token in leases:
            self._scripts["renew"](keys=[lease], args=[token, ttl_ms], client=pipe)
        return [bool(answer) for answer in pipe.execute()]

    async def release(self, lease: str, token: str) -> None:
        """Give the lease up if this token still holds it."""
        await self.call(self._scripts["release"], keys=[lease], args=[token])

    async def append(
        self,
        *,
        keys: CreatureKeys,
        token: str,
        batch: int,
        entries: Sequence[tuple[str, str]],
        acks: Sequence[str] = (),
    ) -> str | None:
        """Append ``(message JSON, inbox id or "")`` entries and ack *acks*, fenced.

        *batch* numbers this token's appends from 1: calling again with the same number (after
        a connection error) writes nothing twice.

        Raises:
            FencedError: *token* no longer holds the lease; nothing was written.
            LabUnavailableError: Redis cannot be reached (retry with the same *batch*).
        """
        args: list[Any] = [token, token.rsplit(":", 1)[0], batch, len(acks), *acks]
        for text, inbox_id in entries:
            args += [text, inbox_id]
        try:
            return await self.call(
                self._scripts["append"],
                keys=[keys.lease, keys.events, keys.inbox, keys.placement],
                args=args,
            )
        except self._response_error as error:
            if str(error).startswith("FENCED"):
                raise FencedError(
                    f"owner {token} lost the lease ({str(error).removeprefix('FENCED ')}); "
                    "another worker owns the creature now"
                ) from None
            raise

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
