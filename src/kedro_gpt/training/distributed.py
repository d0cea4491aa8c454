"""Process-group set-up and the few collectives the loop needs (DDP under torchrun).

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them the run is a single
process and every helper here is a cheap no-op. Besides the main group (gloo on CPU, NCCL on
GPU) a gloo *control* group carries host-side scalars (the agreed wall clock, RNG states) so
they never force a GPU synchronisation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as torch_dist


@dataclass
class DistContext:
    """Rank, world size and process groups of this process (world size 1 when not distributed)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None
    control_group: Any = field(default=None, repr=False)

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over ranks in place (on the main backend); returns it."""
        if self.is_distributed:
            torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.SUM)
        return tensor

    def all_reduce_max(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.is_distributed:
            torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.MAX)
        return tensor

    def broadcast_float(self, value: float) -> float:
        """Rank 0's ``value`` on every rank (host-side, through the gloo control group)."""
        if not self.is_distributed:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        torch_dist.broadcast(t, src=0, group=self.control_group)
        return float(t.item())

    def all_gather_object(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (picklable, in-memory only), in rank order."""
        if not self.is_distributed:
            return [obj]
        out: list[Any] = [None] * self.world_size
        torch_dist.all_gather_object(out, obj, group=self.control_group)
        return out

    def barrier(self) -> None:
        if self.is_distributed:
            torch_dist.barrier(group=self.control_group)


def init_distributed(device_type: str) -> DistContext:
    """Join the process group torchrun prepared (``device_type``: ``cpu`` or ``cuda``).

    Returns a world-size-1 context when ``WORLD_SIZE`` is unset or 1.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend=backend)
    control = torch_dist.new_group(backend="gloo") if backend != "gloo" else None
    return DistContext(
        rank=rank,
        local_rank=local_rank,
        world_size=world_size,
        backend=backend,
        control_group=control,
    )


def destroy_distributed(ctx: DistContext) -> None:
    """Leave the process group (after a final barrier)."""
    if ctx.is_distributed and torch_dist.is_initialized():
        ctx.barrier()
        torch_dist.destroy_process_group()
