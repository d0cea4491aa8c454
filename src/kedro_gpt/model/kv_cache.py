"""A key/value cache preallocated once per generation: decode steps write into it in place."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from kedro_gpt.model.config import GPTConfig


@dataclass
class KVCache:
    """Per-layer keys and values, each ``[B, n_head, capacity, head_dim]``, allocated up front.

    ``GPT.forward_cached(idx, cache, start_pos)`` writes the keys/values of ``idx`` at columns
    ``start_pos … start_pos + T - 1`` and attends to columns ``0 … start_pos + T - 1``; nothing is
    concatenated or reallocated. With RoPE the keys are stored already rotated.

    ``pad`` (``[B]`` long, or ``None``) is the number of left-padding columns of each row, for a
    batch of prompts of different lengths: padded columns are masked out of attention and the
    position of column ``c`` in row ``b`` is ``c - pad[b]``.
    """

    k: list[Tensor]
    v: list[Tensor]
    pad: Tensor | None = None

    @classmethod
    def allocate(
        cls,
        config: GPTConfig,
        batch_size: int,
        capacity: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> KVCache:
        """Zero-filled cache for ``capacity`` positions (at most ``config.block_size``)."""
        if not 1 <= capacity <= config.block_size:
            raise ValueError(
                f"KV cache capacity must be in [1, block_size={config.block_size}], got {capacity}"
            )
        shape = (batch_size, config.n_head, capacity, config.head_dim)
        k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        return cls(k=k, v=v)

    @property
    def batch_size(self) -> int:
        return self.k[0].shape[0]

    @property
    def capacity(self) -> int:
        return self.k[0].shape[2]
