"""Validation: loss, perplexity, bits per token, and tokenizer-independent bits per byte/char.

Periodic evaluations score a fixed subset (``eval_batches`` random windows, the same windows
every time, so successive figures are comparable). The final evaluation scores every validation
token exactly once (:func:`kedro_gpt.training.data.sequential_blocks`), so
``bits_per_char = total nats / text_chars / ln 2`` is exact for the characters the tokens encode
and comparable across tokenizers and with nanoGPT's character-level figures on the same text.
(A shard's first token has no context and is not scored; the denominators count all the text.)
On the subset, bits per byte/char are estimated as bits per token × tokens per byte/char of the
whole split.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from kedro_gpt.training.data import EVAL_STREAM, IGNORE_INDEX, RandomWindows, sequential_blocks
from kedro_gpt.training.device import Precision
from kedro_gpt.training.distributed import DistContext

LN2 = math.log(2.0)


class Evaluator(Protocol):
    """Scores a model on held-out data; ``metrics['loss']`` (mean nats per token) is required."""

    def evaluate(
        self, model: nn.Module, precision: Precision, dist: DistContext, *, full: bool
    ) -> dict[str, float]: ...


@torch.no_grad()
def score_batches(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    precision: Precision,
    dist: DistContext,
) -> tuple[float, int]:
    """Total nats and number of scored targets over ``batches``, summed over ranks.

    Sums accumulate on the device in float64; one host transfer at the end.
    """
    device = precision.device
    totals = torch.zeros(2, dtype=torch.float64, device=device)
    was_training = model.training
    model.eval()
    try:
        for x_cpu, y_cpu in batches:
            x = x_cpu.to(device, non_blocking=True)
            y = y_cpu.to(device, non_blocking=True)
            with precision.autocast():
                _, loss = model(x, y)
            count = (y != IGNORE_INDEX).sum()
            totals[0] += torch.where(count > 0, loss.double() * count, 0.0)
            totals[1] += count
    finally:
        model.train(was_training)
    dist.all_reduce_sum(totals)
    nats, count = totals.tolist()
    return nats, int(count)


def metrics_from_nats(
    nats: float, count: int, text_bytes: int | None = None, text_chars: int | None = None
) -> dict[str, float]:
    """Loss, perplexity, bits per token and, given the text size, bits per byte / char."""
    loss = nats / count if count else float("nan")
    out = {
        "loss": loss,
        "perplexity": math.exp(loss) if loss < 700 else float("inf"),
        "bits_per_token": loss / LN2,
        "tokens": float(count),
    }
    if text_bytes:
        out["bits_per_byte"] = nats / LN2 / text_bytes
    if text_chars:
        out["bits_per_char"] = nats / LN2 / text_chars
    return out


class ShardEvaluator:
    """Evaluates a model on validation token shards (``meta`` with ``text_bytes``/``text_chars``)."""

    def __init__(
        self,
        shards: list[np.ndarray],
        meta: dict[str, Any],
        block_size: int,
        batch_size: int,
        eval_batches: int,
        seed: int,
    ) -> None:
        self.shards = [s for s in shards if len(s) > 1]
        if not self.shards:
            raise ValueError("the validation split holds no shard of two or more tokens")
        self.meta = meta
        self.block_size = block_size
        self.batch_size = batch_size
        self.eval_batches = eval_batches
        self.seed = seed
        self.num_tokens = int(sum(len(s) for s in shards))
        self._windows: RandomWindows | None = None
        if any(len(s) > block_size for s in self.shards):
            self._windows = RandomWindows(
                self.shards,
                block_size,
                batch_size,
                seed=seed,
                stream=EVAL_STREAM,
                name="validation",
            )

    def _subset(self, dist: DistContext) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        assert self._windows is not None
        for index in range(dist.rank, self.eval_batches, dist.world_size):
            batch = self._windows.windows(index)
            yield torch.from_numpy(batch[:, :-1].copy()), torch.from_numpy(batch[:, 1:].copy())

    def evaluate(
        self, model: nn.Module, precision: Precision, dist: DistContext, *, full: bool
    ) -> dict[str, float]:
        """The subset (``full=False``) or every token once (``full=True``).

        A split too short for one window of ``block_size + 1`` tokens is always scored in full.
        """
        text_bytes = self.meta.get("text_bytes")
        text_chars = self.meta.get("text_chars")
        if full or self._windows is None:
            batches = sequential_blocks(
                self.shards,
                self.block_size,
                self.batch_size,
                rank=dist.rank,
                world_size=dist.world_size,
            )
            nats, count = score_batches(model, batches, precision, dist)
            exact = metrics_from_nats(nats, count, text_bytes, text_chars)
            return {**exact, "final": 1.0 if full else 0.0}
        nats, count = score_batches(model, self._subset(dist), precision, dist)
        out = metrics_from_nats(nats, count)
        for name, size in (("bits_per_byte", text_bytes), ("bits_per_char", text_chars)):
            if size:
                out[name] = out["bits_per_token"] * self.num_tokens / size
        return {**out, "final": 0.0}
