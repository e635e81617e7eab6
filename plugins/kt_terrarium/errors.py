"""The terrarium engine's errors, all under :class:`kt.errors.KTError`.

Messages are written to be read by a person and, for channel errors, by a creature's model: they
name what is wrong and what to do instead (the channels that exist, the plugin to install).

::

    TerrariumError
    ├── ChannelError
    │   ├── ChannelNotFoundError       no such channel in the creature's graph (also LookupError)
    │   ├── ChannelExistsError         a channel of that name already exists there
    │   └── ChannelPermissionError     no send (or listen) edge for that creature
    │                                  (also PermissionError)
    ├── CreatureNotFoundError
    ├── CreatureExistsError            a creature id is taken
    ├── PrivilegeError                 a privileged operation by, or on, the wrong creature
    ├── TopologyError                  a graph change that cannot be made (merge clash, ...)
    │   └── WiringLoopError            an output wire would close a loop without a hop limit
    ├── SessionStoreMissingError       persistence asked for, but no loaded session store
    │                                  records graphs (also LookupError)
    └── TransportError                 a creature hosted elsewhere cannot be placed or reached
        └── UnknownTransportError      no loaded plugin provides that transport (also LookupError)
"""

from __future__ import annotations

from kt.errors import KTError

__all__ = [
    "ChannelError",
    "ChannelExistsError",
    "ChannelNotFoundError",
    "ChannelPermissionError",
    "CreatureExistsError",
    "CreatureNotFoundError",
    "PrivilegeError",
    "SessionStoreMissingError",
    "TerrariumError",
    "TopologyError",
    "TransportError",
    "UnknownTransportError",
    "WiringLoopError",
]


class TerrariumError(KTError):
    """Base of the terrarium engine's errors."""


class ChannelError(TerrariumError):
    """A channel operation that cannot be done."""


class ChannelNotFoundError(ChannelError, LookupError):
    """No channel of that name exists where it was looked for (also a ``LookupError``)."""


class ChannelExistsError(ChannelError):
    """A channel of that name already exists in the graph."""


class ChannelPermissionError(ChannelError, PermissionError):
    """The creature has no send (or listen) edge on the channel (also a ``PermissionError``)."""


class CreatureNotFoundError(TerrariumError):
    """No creature with that id is hosted by the engine."""


class CreatureExistsError(TerrariumError):
    """A creature id is already taken in the engine."""


class PrivilegeError(TerrariumError):
    """A privileged operation asked by a non-privileged creature, or aimed at a privileged one."""


class TopologyError(TerrariumError):
    """A graph change that cannot be made, such as merging two graphs with clashing channels."""


class WiringLoopError(TopologyError):
    """An output wire would close a loop (A→B→A, or A→A) and no hop limit allows it."""


class SessionStoreMissingError(TerrariumError, LookupError):
    """A graph is to be persisted, but no loaded session store can record graphs."""


class TransportError(TerrariumError):
    """A creature hosted through a transport cannot be placed, reached or driven that way."""


class UnknownTransportError(TransportError, LookupError):
    """No loaded plugin provides a transport of that name (also a ``LookupError``)."""
