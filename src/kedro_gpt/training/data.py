"""Batch sources: what the loop pulls micro-batches from.

A :class:`BatchSource` yields ``(x, y)`` int64 tensors of shape ``[B, T]`` on the CPU, where
``y`` holds the next-token targets and ``-100`` marks positions left out of the loss (the loss
mask fine-tuning uses). A source may also report its size as ``tokens_per_epoch``: the tokens the
loop counts (``x.numel()`` summed over micro-batches) in one pass over its data; the loop then logs
``epoch`` and honours ``max_epochs``. Pretraining uses :class:`RandomWindows`: random windows of memmapped
token shards, gathered with one numpy fancy index per shard (no Python work per token).

Sampling is counter-based: global micro-batch ``g`` is drawn from a numpy generator seeded with
``(seed, stream, g)``. Rank ``r`` of ``R`` with ``a`` accumulation steps draws, at optimizer step
``s``, the global micro-batches ``s·R·a + r·a … s·R·a + r·a + a - 1`` — exactly the micro-batches
a single process with ``R·a`` accumulation steps draws, so the data order does not depend on how
the global batch is split over processes, ranks see different windows, and the whole sampler
state is one counter (exact resume).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

IGNORE_INDEX = -100
TRAIN_STREAM = 0
EVAL_STREAM = 1


@runtime_checkable
class BatchSource(Protocol):
    """The loop's only view of training data."""

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next micro-batch ``(x, y)``: int64 ``[B, T]``; ``y == -100`` is not scored."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Position state (ints, floats, strings, lists, dicts, tensors only)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def tokens_per_epoch(batches: Any) -> int | None:
    """The ``tokens_per_epoch`` a batch source reports (None when it reports none)."""
    size = getattr(batches, "tokens_per_epoch", None)
    if size is None:
        return None
    if not size or size <= 0:
        raise ValueError(f"{type(batches).__name__}.tokens_per_epoch must be positive, got {size}")
    return int(size)


def reading_order(shards: Sequence[np.ndarray], reverse: bool) -> list[np.ndarray]:
    """The shards in the order a model reads them: each one back to front for a backward model
    (``GPTConfig.reverse``; views, nothing copied). A window of the reversed shard is the reversed
    window of the shard, so the same sampling trains a backward language model."""
    return [s[::-1] for s in shards] if reverse else list(shards)


def _usable(shards: Sequence[np.ndarray], window: int, name: str) -> list[np.ndarray]:
    arrays = [s for s in shards if len(s) >= window]
    if not arrays:
        sizes = [len(s) for s in shards]
        raise ValueError(
            f"{name} token shards are too short for block_size {window - 1}: every window needs "
            f"{window} tokens, the shards hold {sizes or 'nothing'}"
        )
    return arrays


class RandomWindows:
    """Random ``block_size + 1``-token windows, shard chosen in proportion to its windows.

    ``pin_memory`` pins the returned CPU tensors (set it when training on CUDA so the copy to the
    device can be ``non_blocking``).
    """

    def __init__(
        self,
        shards: Sequence[np.ndarray],
        block_size: int,
        batch_size: int,
        *,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        grad_accum_steps: int = 1,
        stream: int = TRAIN_STREAM,
        pin_memory: bool = False,
        name: str = "train",
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.block_size = block_size
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.grad_accum_steps = grad_accum_steps
        self.stream = stream
        self.pin_memory = pin_memory
        self._shards = _usable(shards, block_size + 1, name)
        starts = np.array([len(s) - block_size for s in self._shards], dtype=np.int64)
        self._ends = np.cumsum(starts)  # window starts of shard k: [ends[k-1], ends[k])
        self._firsts = self._ends - starts
        self._span = np.arange(block_size + 1, dtype=np.int64)
        self.draws = 0

    @property
    def num_windows(self) -> int:
        """How many distinct windows (start positions) the shards offer."""
        return int(self._ends[-1])

    @property
    def tokens_per_epoch(self) -> int:
        """One epoch: as many input tokens as the (usable) shards hold."""
        return sum(len(s) for s in self._shards)

    def global_index(self, draw: int) -> int:
        """The global micro-batch number of this rank's ``draw``-th micro-batch."""
        a = self.grad_accum_steps
        return (draw // a) * self.world_size * a + self.rank * a + draw % a

    def windows(self, index: int) -> np.ndarray:
        """Global micro-batch ``index`` as an int64 array ``[batch_size, block_size + 1]``."""
        rng = np.random.default_rng([self.seed, self.stream, index])
        flat = rng.integers(0, self.num_windows, size=self.batch_size, dtype=np.int64)
        which = np.searchsorted(self._ends, flat, side="right")
        offsets = flat - self._firsts[which]
        out = np.empty((self.batch_size, self.block_size + 1), dtype=np.int64)
        for k in np.unique(which):
            rows = which == k
            out[rows] = self._shards[k][offsets[rows, None] + self._span]
        return out

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        window = self.windows(self.global_index(self.draws))
        self.draws += 1
        x = torch.from_numpy(np.ascontiguousarray(window[:, :-1]))
        y = torch.from_numpy(np.ascontiguousarray(window[:, 1:]))
        if self.pin_memory:
            x, y = x.pin_memory(), y.pin_memory()
        return x, y

    def state_dict(self) -> dict[str, Any]:
        return {
            "draws": self.draws,
            "grad_accum_steps": self.grad_accum_steps,
            "world_size": self.world_size,
            "seed": self.seed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue after the optimizer steps already drawn. The same global batch split
        differently (other world size × accumulation, same product) continues the same
        global micro-batch sequence."""
        steps, partial = divmod(int(state["draws"]), int(state.get("grad_accum_steps", 1)))
        if partial:
            raise ValueError("batch source state is in the middle of an optimizer step")
        self.draws = steps * self.grad_accum_steps


def sequential_blocks(
    shards: Sequence[np.ndarray],
    block_size: int,
    batch_size: int,
    *,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Every token of every shard scored exactly once: consecutive non-overlapping blocks.

    Block ``i`` of a shard of ``n`` tokens takes inputs ``[i·T, i·T+T)`` and targets one further;
    the last block is partial, its missing targets are ``-100``. A shard's first token has no
    context and is not a target, so a shard of ``n`` tokens yields ``n - 1`` targets. Blocks are
    dealt round-robin to ranks (block ``j`` to rank ``j mod world_size``).
    """
    span = np.arange(block_size + 1, dtype=np.int64)
    starts = [np.arange(0, max(len(s) - 1, 0), block_size, dtype=np.int64) for s in shards]
    if not starts:
        return
    which = np.concatenate([np.full(len(st), k, dtype=np.int64) for k, st in enumerate(starts)])
    where = np.concatenate(starts)
    which, where = which[rank::world_size], where[rank::world_size]
    for i in range(0, len(which), batch_size):
        shard_ids, offsets = which[i : i + batch_size], where[i : i + batch_size]
        x = np.zeros((len(shard_ids), block_size), dtype=np.int64)
        y = np.full((len(shard_ids), block_size), IGNORE_INDEX, dtype=np.int64)
        for k in np.unique(shard_ids):
            rows = shard_ids == k
            n = len(shards[k])
            idx = offsets[rows, None] + span
            tokens = shards[k][np.minimum(idx, n - 1)].astype(np.int64)
            x[rows] = tokens[:, :-1]
            y[rows] = np.where(idx[:, 1:] < n, tokens[:, 1:], IGNORE_INDEX)
        yield torch.from_numpy(x), torch.from_numpy(y)
