"""The tools a terrarium gives its creatures, and the graph description in their prompts.

Every creature the engine hosts gets ``send_message`` (unless its config already names a tool
of that name, such as the one from ``kt_tools``, which uses the same channel service).
Privileged creatures (a recipe's root, or ``add_creature(..., is_privileged=True)``) also get
the graph tools, which act on the caller's *group*: the creatures of its graph and the
creatures it spawned.

==================  ======================================================================
tool                what it does
==================  ======================================================================
group_status        the group as JSON: creatures, channels with edges, output wires
group_add_node      spawn a creature from a config into the caller's graph (its child)
group_remove_node   remove a non-privileged member
group_start_node    (re)start a stopped member, keeping its conversation
group_stop_node     stop a member; it stays in the graph
group_channel       create / delete a channel; wire / unwire a listen or send edge
group_connect       connect / disconnect a sender and a receiver through a channel
group_wire          add / remove an output wire (turn-end text of one creature to another)
group_send          send a direct message to one member (a turn "[direct from X] ...")
==================  ======================================================================

Privileged creatures may also send on every channel of their graph with ``send_message``.
Each privileged tool checks the caller's privilege again when called, so a config that lists
one for an ordinary creature gets an error result, never the effect. Failures are error
results the model can read, never exceptions.

The graph description (:func:`describe_graph`) is a prompt section kept up to date: the engine
rewrites it in the system message of every model call, between the markers
:data:`SECTION_START` and :data:`SECTION_END`, so a creature always sees the graph as it is.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from kt import StashKey, TurnContext
from kt.errors import KTError
from kt.llm import LLMRequest, Message
from kt.plugins import hookimpl
from kt.specs import PromptSection
from kt.tools import ToolContext, ToolResult, ToolSpec, tool
from kt_terrarium.channels import CHANNELS, content_text
from kt_terrarium.errors import ChannelError, TerrariumError

if TYPE_CHECKING:
    from kt import Agent
    from kt_terrarium.handles import CreatureLink

__all__ = [
    "BASIC_TOOLS",
    "LINK",
    "PRIVILEGED_TOOLS",
    "SECTION_END",
    "SectionKeeper",
    "SECTION_START",
    "describe_graph",
    "history_entry",
    "replace_section",
    "tools_for",
    "wrap_section",
]

LINK: StashKey[CreatureLink] = StashKey()
"""The engine's link to the creature (its id and the engine), in the creature's stash."""

SECTION_START = "<!-- terrarium-graph -->"
SECTION_END = "<!-- /terrarium-graph -->"


def _link(ctx: ToolContext) -> CreatureLink | None:
    return ctx.stash.get(LINK, None)


def _fail(message: str) -> ToolResult:
    return ToolResult(error=message)


_NOT_HOSTED = "this creature is not hosted by a terrarium engine; there is no graph to act on"


def _privileged(ctx: ToolContext, tool_name: str) -> tuple[CreatureLink | None, ToolResult | None]:
    link = _link(ctx)
    if link is None:
        return None, _fail(_NOT_HOSTED)
    if not link.engine.is_privileged(link.creature_id):
        return None, _fail(
            f"{tool_name} is only for privileged creatures (a recipe's root); "
            f"'{link.creature_id}' is not privileged"
        )
    return link, None


# -- Every creature -----------------------------------------------------------------------------


@tool(name="send_message")
async def send_message(
    channel: str, message: str, ctx: ToolContext, reply_to: str | None = None
) -> Any:
    """Send a message on a channel of your terrarium.

    Listeners receive it as a new turn; you do not wait for them, and no follow-up is needed.
    Use only the channel names listed in the terrarium section of your instructions.

    Args:
        ctx: The call's context (the kernel passes it; not a model argument).
        channel: The channel's exact name.
        message: The text to send.
        reply_to: The id of the message you are answering, if any.
    """
    service = ctx.stash.get(CHANNELS, None)
    if service is None:
        return _fail(_NOT_HOSTED)
    try:
        message_id = await service.send(channel, message, reply_to=reply_to)
    except ChannelError as error:
        return _fail(str(error))
    return {
        "sent": True,
        "channel": channel,
        "message_id": message_id,
        "note": "delivered; listeners will act on it, no follow-up needed",
    }


# -- Privileged creatures -----------------------------------------------------------------------


@tool(name="group_status")
def group_status(ctx: ToolContext, include_history: bool = False, history_limit: int = 10) -> Any:
    """Show your group: its creatures, channels (with who listens and sends) and output wires.

    Args:
        ctx: The call's context (the kernel passes it; not a model argument).
        include_history: Also show the latest messages of each channel.
        history_limit: How many messages per channel when include_history is true.
    """
    link, failure = _privileged(ctx, "group_status")
    if failure:
        return failure
    return link.engine.group_snapshot(
        link.creature_id, history=max(0, history_limit) if include_history else 0
    )


@tool(name="group_add_node")
async def group_add_node(
    config: str, ctx: ToolContext, name: str | None = None, pwd: str | None = None
) -> Any:
    """Spawn a creature into your graph, as your child; it starts at once, with no channels.

    Wire it afterwards with group_channel or group_connect, and give it work with group_send
    or a channel.

    Args:
        ctx: The call's context (the kernel passes it; not a model argument).
        config: A creature folder or config file (relative to your working directory) or an
            @pack/path reference.
        name: Its id (default: the config's name, made unique).
        pwd: Its working directory (default: yours).
    """
    link, failure = _privileged(ctx, "group_add_node")
    if failure:
        return failure
    source = config if config.startswith("@") else str(ctx.resolve_path(config))
    workdir = ctx.resolve_path(pwd) if pwd else ctx.working_dir
    if not Path(workdir).is_dir():
        return _fail(f"pwd {str(workdir)!r} is not a folder; give an existing folder")
    try:
        handle = await link.engine.add_creature(
            source, name=name, pwd=workdir, parent=link.creature_id
        )
    except KTError as error:
        return _fail(f"could not spawn {config!r}: {error}")
    return {
        "creature": handle.id,
        "graph_id": handle.graph_id,
        "parent": link.creature_id,
        "running": handle.is_running,
    }


def _member(link: CreatureLink, creature: str, tool_name: str) -> tuple[str | None, str | None]:
    """Resolve *creature* in the caller's group; (id, None) or (None, error)."""
    engine = link.engine
    if creature == link.creature_id:
        return None, f"{tool_name} cannot act on yourself ('{creature}')"
    if creature not in engine.group(link.creature_id):
        members = ", ".join(sorted(engine.group(link.creature_id) - {link.creature_id}))
        return None, f"no creature '{creature}' in your group; members: {members or 'none'}"
    if engine.is_privileged(creature):
        return None, (
            f"'{creature}' is privileged; only the user can remove, start or stop it "
            "(from the engine's API or the command line)"
        )
    return creature, None


def _privileged_member(
    ctx: ToolContext, creature: str, tool_name: str
) -> tuple[CreatureLink | None, str | None, ToolResult | None]:
    """The caller's link and a member of its group, for the node tools; or the tool error."""
    link, failure = _privileged(ctx, tool_name)
    if failure:
        return None, None, failure
    assert link is not None
    target, problem = _member(link, creature, tool_name)
    if problem:
        return None, None, _fail(problem)
    return link, target, None


@tool(name="group_remove_node")
async def group_remove_node(creature: str, ctx: ToolContext) -> Any:
    """Stop a member of your group and remove it from the graph (its channels stay).

    Args:
        ctx: The call's context (the kernel passes it; not a model argument).
        creature: The member's id.
    """
    link, target, failure = _privileged_member(ctx, creature, "group_remove_node")
    if failure:
        return failure
    await link.engine.remove_creature(target)
    return {"removed": target, "graph_id": link.engine.graph_of(link.creature_id)}


@tool(name="group_start_node")
async def group_start_node(creature: str, ctx: ToolContext) -> Any:
    """Start a stopped member again; it keeps its conversation and its place in the graph.

    Args:
        ctx: The call's context (the kernel passes it; not a model argument).
        creature: The member's id.
    """
    link, target, failure = _privileged_member(ctx, creature, "group_start_node")
    if failure:
        return failure
    if link.engine[target].is_running:
        return _fail(f"'{target}' is already running")
    try:
        await link.engine.start_creature(target)
    except KTError as error:
        return _fail(f"could not start '{target}': {error}")
    return {"started": target}


@tool(name="group_stop_node")
async def group_stop_node(creature: str, ctx: ToolContext) -> Any:
    """Stop a member; it stays in the graph and can be started again with group_start_node.

    Args:
        ctx: The call's context (the kernel passes it; not a model argument).
        creature: The member's id.
    """
    link, target, failure = _privileged_member(ctx, creature, "group_stop_node")
    if failure:
        return failure
    if not link.engine[target].is_running:
        return _fail(f"'{target}' is not running")
    await link.engine.stop_creature(target)
    return {"stopped": target}


@tool(name="group_channel")
async def group_channel(
    action: Literal["create", "delete", "wire", "unwire"],
    channel: str,
    ctx: ToolContext,
    creature: str | None = None,
    direction: Literal["listen", "send"] | None = None,
    kind: Literal["queue", "broadcast"] = "broadcast",
    description: str = "",
) -> Any:
    """Create or delete a channel of your graph, or wire / unwire a creature's edge on one.

    "wire" gives `creature` (default: you) a listen or send edge on the channel, creating the
    channel when it does not exist; "unwire" takes that edge away. A creature from another
    graph that is wired here joins your graph.

    Args:
        ctx: The call's context (the kernel passes it; not a model argument).
        action: create, delete, wire or unwire.
        channel: The channel's name.
        creature: For wire/unwire: whose edge (default: you).
        direction: For wire/unwire: listen (receive its messages as turns) or send.
        kind: For create (and wire when it creates): queue (each message to one listener) or
            broadcast (every listener gets every message).
        description: For create: what the channel is for.
    """
    link, failure = _privileged(ctx, "group_channel")
    if failure:
        return failure
    engine, me = link.engine, link.creature_id
    graph = engine.graph_of(me)
    try:
        if action == "create":
            info = await engine.add_channel(
                channel, graph=graph, kind=kind, description=description
            )
            return {"created": info.name, "kind": info.kind, "graph_id": info.graph_id}
        if action == "delete":
            result = await engine.remove_channel(channel, graph=graph)
            return {"deleted": channel, "delta": result.delta, "graph_ids": list(result.graph_ids)}
        if direction is None:
            return _fail(f"{action} needs direction: 'listen' or 'send'")
        who = creature or me
        if who not in engine:
            return _fail(f"no creature '{who}' in the engine")
        if action == "wire":
            result = await engine.add_edge(
                who, channel, direction, graph=graph, create=True, kind=kind
            )
            return {
                "wired": who,
                "channel": channel,
                "direction": direction,
                "graph_id": result.graph_id,
                "merged": result.delta == "merge",
            }
        result = await engine.remove_edge(who, channel, direction, graph=graph)
        return {"unwired": who, "channel": channel, "direction": direction, "delta": result.delta}
    except TerrariumError as error:
        return _fail(str(error))


@tool(name="group_connect")
async def group_connect(
    action: Literal["connect", "disconnect"],
    sender: str,
    receiver: str,
    ctx: ToolContext,
    channel: str | None = None,
) -> Any:
    """Connect a sender to a receiver through a channel, or disconnect them.

    connect: the sender may send on the channel and the receiver listens on it (the channel
    is created when missing; without a name, one is made up). disconnect: removes those
    edges (on every channel they share, when no channel is given).

    Args:
        ctx: The call's context (the kernel passes it; not a model argument).
        action: connect or disconnect.
        sender: The creature that sends.
        receiver: The creature that listens.
        channel: The channel's name (optional).
    """
    link, failure = _privileged(ctx, "group_connect")
    if failure:
        return failure
    try:
        if action == "connect":
            result = await link.engine.connect(sender, receiver, channel=channel)
            return {"channel": result.channel, "graph_id": result.graph_id, "delta": result.delta}
        result = await link.engine.disconnect(sender, receiver, channel=channel)
        return {"channels": list(result.channels), "delta": result.delta}
    except TerrariumError as error:
        return _fail(str(error))


@tool(name="group_wire")
async def group_wire(
    action: Literal["add", "remove"],
    ctx: ToolContext,
    to: str | None = None,
    source: str | None = None,
    with_content: bool = True,
    prompt: str | None = None,
    max_hops: int | None = None,
    edge_id: str | None = None,
) -> Any:
    """Add or remove an output wire: at the end of each turn, `source`'s text goes to `to`.

    Args:
        ctx: The call's context (the kernel passes it; not a model argument).
        action: add or remove.
        to: For add: the receiving creature.
        source: The creature whose output is wired (default: you).
        with_content: For add: deliver the text (false: only a turn-ended signal).
        prompt: For add: a template for what the receiver gets ({source}, {content}).
        max_hops: For add: needed when the wire closes a loop; bounds how often it goes round.
        edge_id: For remove: the wire's id (see group_status); or give `to` instead.
    """
    link, failure = _privileged(ctx, "group_wire")
    if failure:
        return failure
    who = source or link.creature_id
    try:
        if action == "add":
            if not to:
                return _fail("add needs `to`: the receiving creature")
            wire = await link.engine.wire(
                who, to, with_content=with_content, prompt=prompt, max_hops=max_hops
            )
            return {
                "edge_id": wire.edge_id,
                "from": wire.source,
                "to": wire.target,
                "graph_id": link.engine.graph_of(who),
            }
        removed = await link.engine.unwire(who, edge_id or to or "")
        if not removed:
            return _fail(f"no output wire {edge_id or to!r} from '{who}'")
        return {"removed": [w.edge_id for w in removed], "from": who}
    except TerrariumError as error:
        return _fail(str(error))


@tool(name="group_send")
async def group_send(to: str, message: str, ctx: ToolContext) -> Any:
    """Send a direct message to one creature of your group; it arrives as a turn of its own.

    Args:
        ctx: The call's context (the kernel passes it; not a model argument).
        to: The creature's id.
        message: The text.
    """
    link, failure = _privileged(ctx, "group_send")
    if failure:
        return failure
    if to not in link.engine.group(link.creature_id):
        return _fail(f"no creature '{to}' in your group")
    delivered = await link.engine.send_direct(link.creature_id, to, message)
    if not delivered:
        return _fail(f"'{to}' is stopped; start it with group_start_node first")
    return {"delivered": True, "to": to}


BASIC_TOOLS: tuple[ToolSpec, ...] = (send_message,)
PRIVILEGED_TOOLS: tuple[ToolSpec, ...] = (
    group_status,
    group_add_node,
    group_remove_node,
    group_start_node,
    group_stop_node,
    group_channel,
    group_connect,
    group_wire,
    group_send,
)


def tools_for(
    *, privileged: bool, taken: set[str], registry: Mapping[str, ToolSpec] | None = None
) -> list[ToolSpec]:
    """The engine's tools for one creature, leaving out names its config already provides.

    The graph tools are contributed through ``kt_tools()`` like any other tool, so a plugin
    loaded after ``kt_terrarium`` cannot replace them, and ``kt plugins`` lists them; the
    kernel's registry is read first, and this module's own specs serve a kernel that did not
    load ``kt_terrarium`` (``Terrarium(kernel=kt.Kernel(plugins=[]))``).

    Args:
        privileged: Whether to include the graph tools.
        taken: Tool names the creature already has.
        registry: The kernel's tool registry.

    Returns:
        The tool specs to add.
    """
    registry = registry or {}
    tools = list(BASIC_TOOLS) + (list(PRIVILEGED_TOOLS) if privileged else [])
    return [registry.get(spec.name, spec) for spec in tools if spec.name not in taken]


# -- The graph, as the creature's model reads it ------------------------------------------------


def describe_graph(snapshot: dict[str, Any]) -> str:
    """The terrarium section of a creature's system prompt, from ``engine.prompt_snapshot(id)``.

    The text depends only on the snapshot (everything sorted), so the same graph always gives
    the same prompt. It is empty for a creature with no channel, no wire and no privilege.

    Args:
        snapshot: What the engine knows about the creature and its graph.

    Returns:
        Markdown, without the markers.
    """
    me = snapshot["creature"]
    listen = snapshot["listen"]
    send = snapshot["send"]
    wires_out = snapshot["wires_out"]
    wires_in = snapshot["wires_in"]
    privileged = snapshot["privileged"]
    if not (listen or send or wires_out or wires_in or privileged):
        return ""
    channels = snapshot["channels"]
    members = snapshot["members"]

    def line(name: str) -> str:
        channel = channels[name]
        about = f": {channel['description']}" if channel["description"] else ""
        return f"- `{name}` ({channel['kind']}){about}"

    lines = [
        "## Terrarium",
        f"You are `{me}` in a graph of {len(members)} creature(s): "
        + ", ".join(f"`{m}`" for m in members)
        + ".",
        "Messages reach you as `[Channel 'NAME' from SENDER]: ...` (a channel you listen on), "
        "`[output-wire from SOURCE] ...` (another creature's turn-end output) or "
        "`[direct from SENDER] ...`.",
    ]
    if listen:
        lines += ["", "Channels you listen on:", *(line(n) for n in listen)]
    if send:
        lines += ["", "Channels you can send on, with send_message:", *(line(n) for n in send)]
    if wires_out:
        targets = [
            f"`{w['to']}`" + ("" if w["with_content"] else " (turn-end signal only)")
            for w in wires_out
        ]
        lines += ["", "Your turn-end text is delivered to: " + ", ".join(targets) + "."]
    if wires_in:
        lines += [
            "",
            "Turn-end text of " + ", ".join(f"`{w}`" for w in wires_in) + " is delivered to you.",
        ]
    if privileged:
        lines += [
            "",
            "You are privileged: you can send on every channel of the graph with send_message, "
            "and change the graph with the group_* tools (group_status shows it in full).",
            "",
            "Creatures:",
        ]
        for creature in snapshot["creatures"]:
            state = "running" if creature["running"] else "stopped"
            extra = " (privileged)" if creature["privileged"] else ""
            hears = ", ".join(creature["listen"]) or "nothing"
            says = ", ".join(creature["send"]) or "nothing"
            lines.append(
                f"- `{creature['id']}`{extra}, {state}: listens on {hears}; sends on {says}"
            )
        others = [n for n in sorted(channels) if n not in listen and n not in send]
        if others:
            lines += ["", "Other channels:", *(line(n) for n in others)]
    return "\n".join(lines)


def wrap_section(text: str) -> str:
    """*text* between the section markers (``""`` stays empty)."""
    return f"{SECTION_START}\n{text}\n{SECTION_END}" if text else ""


def replace_section(prompt: str, text: str) -> str:
    """*prompt* with its terrarium section replaced by *text* (added, or removed when empty)."""
    section = wrap_section(text)
    start = prompt.find(SECTION_START)
    if start != -1:
        end = prompt.find(SECTION_END, start)
        end = len(prompt) if end == -1 else end + len(SECTION_END)
        head, tail = prompt[:start].rstrip("\n"), prompt[end:].lstrip("\n")
        parts = [p for p in (head, section, tail) if p]
        return "\n\n".join(parts)
    if not section:
        return prompt
    return f"{prompt.rstrip()}\n\n{section}" if prompt.strip() else section


class SectionKeeper(abc.ABC):
    """A creature plugin that keeps the terrarium section of its system prompt current.

    ``kt_prompt_sections`` gives the section as the creature starts, and ``kt_pre_llm_call``
    rewrites it in the system message of every model call, so a graph change reaches the next
    call. Subclasses say what the text is (:meth:`section_text`) and which agent they serve
    (:meth:`owns`): the engine's link computes it from the graph, a creature hosted through a
    transport uses the text the engine last sent.
    """

    @abc.abstractmethod
    def section_text(self) -> str:
        """The current section, without the markers (``""``: no section)."""

    @abc.abstractmethod
    def owns(self, creature: Agent) -> bool:
        """Whether *creature* is the agent this plugin serves."""

    @hookimpl
    def kt_prompt_sections(self, creature: Agent) -> list[PromptSection]:
        """The terrarium section, as the creature starts."""
        if not self.owns(creature):
            return []
        text = self.section_text()
        return [PromptSection("terrarium.graph", wrap_section(text), 900)] if text else []

    @hookimpl
    def kt_pre_llm_call(self, request: LLMRequest, ctx: TurnContext) -> LLMRequest | None:
        """Bring the terrarium section of the system message up to date for this call."""
        if not self.owns(ctx.creature):
            return None
        text = self.section_text()
        messages = request.messages
        if messages and messages[0].role == "system" and isinstance(messages[0].content, str):
            updated = replace_section(messages[0].content, text)
            if updated == messages[0].content:
                return None
            first = attrs.evolve(messages[0], content=updated)
            return attrs.evolve(request, messages=(first, *messages[1:]))
        if not text:
            return None
        system = Message("system", wrap_section(text))
        return attrs.evolve(request, messages=(system, *messages))


def history_entry(message: Any) -> dict[str, Any]:
    """A channel message as ``group_status`` shows it (content cut to 300 characters)."""
    text = content_text(message.content)
    return {
        "message_id": message.message_id,
        "sender": message.sender,
        "content": text if len(text) <= 300 else text[:299] + "…",
    }
