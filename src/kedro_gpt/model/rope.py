"""Rotary position embeddings (RoFormer, Su et al. 2021) in the rotate-half layout of GPT-NeoX."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def rope_tables(head_dim: int, max_positions: int, base: float = 10000.0) -> tuple[Tensor, Tensor]:
    """``cos`` and ``sin`` tables, each ``[max_positions, head_dim // 2]`` in float32."""
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(max_positions, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate ``x`` ``[B, H, T, D]`` by position; ``cos``/``sin`` broadcast to ``[B, H, T, D/2]``.

    The rotation is computed in float32 and cast back to ``x``'s dtype.
    """
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half].float(), x[..., half:].float()
    rotated = torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return rotated.type_as(x)


class RotaryEmbedding(nn.Module):
    """Holds the ``cos``/``sin`` tables as non-persistent buffers, always in float32.

    Casting the model (``model.to(torch.bfloat16)``) would round the tables; ``_apply`` rebuilds
    them in float32 on the new device instead, so positions stay exact in any model dtype.
    """

    def __init__(self, head_dim: int, max_positions: int, base: float = 10000.0) -> None:
        super().__init__()
        self.head_dim, self.max_positions, self.base = head_dim, max_positions, base
        cos, sin = rope_tables(head_dim, max_positions, base)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        super()._apply(fn, recurse)
        cos, sin = rope_tables(self.head_dim, self.max_positions, self.base)
        self.cos, self.sin = cos.to(self.cos.device), sin.to(self.sin.device)
        return self
