"""Typed per-object state for plugins: ``StashKey[T]`` and ``Stash``.

A plugin that keeps state on a creature creates a private key once, at import time, and reads
and writes ``creature.stash[key]``. Keys are objects, not strings, so two plugins can never
clash, and the value type travels with the key.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

__all__ = ["CHANNEL_SERVICE", "Stash", "StashKey"]

T = TypeVar("T")
D = TypeVar("D")


class StashKey(Generic[T]):
    """A key for a :class:`Stash`; create one per piece of state: ``_spent = StashKey[int]()``."""

    __slots__ = ()


class Stash:
    """A mapping from :class:`StashKey` to values, owned by a kernel object (creature, turn)."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[StashKey[Any], object] = {}

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._data[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        return cast(T, self._data[key])

    def get(self, key: StashKey[T], default: D) -> T | D:
        """Return the value for *key*, or *default* when it is not set."""
        try:
            return self[key]
        except KeyError:
            return default

    def setdefault(self, key: StashKey[T], default: T) -> T:
        """Return the value for *key*, storing and returning *default* when it is not set."""
        return cast(T, self._data.setdefault(key, default))

    def __delitem__(self, key: StashKey[T]) -> None:
        del self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)


CHANNEL_SERVICE: StashKey[Any] = StashKey()
"""Where a creature's channel service lives: ``agent.stash[kt.CHANNEL_SERVICE]``.

Set by whatever gives the creature channels (the terrarium engine); read by tools that send
on channels (``send_message``). The service has two members::

    def channels(self) -> Mapping[str, str]:
        # the channels this creature may send on: name -> short description ("broadcast", ...)

    async def send(self, channel, content, *, sender, reply_to=None, metadata=None) -> str:
        # deliver one message and return its id; raise LookupError / PermissionError /
        # ValueError with a message written for the model when it cannot be sent

A creature without the key has no channels.
"""
