"""One optimizer step (nanoGPT's and torchtitan's ``train_step``) and the divergence guard.

Nothing here waits for the device: the step's loss and gradient norm come back as device
tensors, and :class:`DivergenceGuard` keeps its flag on the device until :meth:`check` reads it.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from kedro_gpt.training.data import BatchSource
from kedro_gpt.training.device import Precision
from kedro_gpt.training.distributed import DistContext
from kedro_gpt.training.optim import Optimizers
from kedro_gpt.training.result import TrainingDiverged


@dataclass
class StepModel:
    """The module a step calls (DDP-wrapped and compiled when asked) and what it clips."""

    net: nn.Module
    ddp: DistributedDataParallel | None
    params: list[nn.Parameter]
    max_norm: float
    grad_accum_steps: int

    @classmethod
    def wrap(
        cls,
        raw: nn.Module,
        dist: DistContext,
        device: torch.device,
        *,
        compile: bool,
        grad_clip: float,
        grad_accum_steps: int,
    ) -> StepModel:
        ddp = None
        if dist.is_distributed:
            ids = [device.index] if device.type == "cuda" else None
            ddp = DistributedDataParallel(raw, device_ids=ids)
        net: nn.Module = ddp if ddp is not None else raw
        if compile:
            net = torch.compile(net)  # type: ignore[assignment]
        return cls(
            net=net,
            ddp=ddp,
            params=[p for p in raw.parameters() if p.requires_grad],
            max_norm=grad_clip if grad_clip > 0 else float("inf"),
            grad_accum_steps=grad_accum_steps,
        )


def train_step(
    model: StepModel, batches: BatchSource, optimizers: Optimizers, precision: Precision
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Forward and backward over ``grad_accum_steps`` micro-batches, clip, step the optimizers.

    Returns the mean loss and the gradient norm (device tensors, not synchronised) and the number
    of tokens this process consumed. Under DDP gradients are all-reduced on the last micro-batch.
    """
    accum, device = model.grad_accum_steps, precision.device
    loss_sum = torch.zeros((), device=device)
    tokens = 0
    for micro in range(accum):
        x, y = batches.next_batch()
        tokens += x.numel()
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        defer_sync = model.ddp is not None and micro < accum - 1
        with model.ddp.no_sync() if defer_sync else contextlib.nullcontext():  # type: ignore[union-attr]
            with precision.autocast():
                _, loss = model.net(x, y)
            (loss / accum).backward()
        loss_sum += loss.detach()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.params, model.max_norm, foreach=True)
    optimizers.step()
    optimizers.zero_grad()
    return loss_sum / accum, grad_norm, tokens


class DivergenceGuard:
    """Remembers, on the device, the first step whose loss or gradient norm was not finite."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.bad = torch.zeros((), dtype=torch.bool, device=device)
        self.first_bad = torch.full((), -1, dtype=torch.int64, device=device)

    def update(self, loss: torch.Tensor, grad_norm: torch.Tensor, step: int) -> None:
        """Record optimizer step ``step`` (1-based) if its loss or gradient norm is NaN/inf."""
        now_bad = ~(torch.isfinite(loss) & torch.isfinite(grad_norm))
        self.first_bad = torch.where(now_bad & ~self.bad, step, self.first_bad)
        self.bad = self.bad | now_bad

    def check(self, dist: DistContext) -> None:
        """Raise :class:`TrainingDiverged` (on every rank) if any rank saw a bad step."""
        bad, first = self.bad, self.first_bad
        flags = torch.stack([bad.double(), torch.where(bad, -first.double(), -math.inf)])
        flags = flags.to(self.device)
        dist.all_reduce_max(flags)
        is_bad, neg_step = flags.tolist()
        if is_bad:
            raise TrainingDiverged(int(-neg_step))
