"""The model's checkpoint tools: ``checkpoints`` (list) and ``restore_checkpoint``."""

from __future__ import annotations

import kt
from kt_checkpoint import checkpoints, restore


@kt.tool(name="checkpoints")
async def list_checkpoints(ctx: kt.ToolContext) -> str:
    """List the checkpoints of the working dir (snapshots taken before destructive edits)."""
    found = await checkpoints(ctx.working_dir)
    if not found:
        return "No checkpoints yet."
    return "\n".join(f"{c.id}  {c.message}" for c in found[:50])


@kt.tool(concurrency_safe=False)
async def restore_checkpoint(checkpoint: str, ctx: kt.ToolContext) -> str:
    """Put the working dir's files back as they were at a checkpoint (undo edits).

    Args:
        checkpoint: The checkpoint id, from the checkpoints tool.
        ctx: Injected by the kernel.
    """
    changed = await restore(ctx.working_dir, checkpoint)
    return f"Restored {checkpoint}: {len(changed)} file(s) changed." + (
        "\n" + "\n".join(changed[:100]) if changed else ""
    )
