"""The transformer block of GPT-2: causal self-attention and an MLP, each behind a pre-LayerNorm.

Module and parameter names follow Hugging Face ``GPT2LMHeadModel`` (``ln_1``, ``attn.c_attn``,
``attn.c_proj``, ``ln_2``, ``mlp.c_fc``, ``mlp.c_proj``); the projections are ``nn.Linear``
(HF's ``Conv1D`` stores the transpose).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from kedro_gpt.model.config import GPTConfig
from kedro_gpt.model.rope import apply_rope


def rms_norm(norm: nn.RMSNorm, x: Tensor) -> Tensor:
    """``norm(x)`` with the gain cast to ``x``'s dtype, so bf16 activations (under autocast)
    keep the fused kernel instead of a slower mixed-dtype fallback."""
    weight = None if norm.weight is None else norm.weight.to(x.dtype)
    return F.rms_norm(x, norm.normalized_shape, weight, norm.eps)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention through ``F.scaled_dot_product_attention``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.head_dim = config.head_dim
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.q_norm = nn.RMSNorm(config.head_dim) if config.qk_norm else None
        self.k_norm = nn.RMSNorm(config.head_dim) if config.qk_norm else None

    def forward(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None = None,
        kv: tuple[Tensor, Tensor] | None = None,
        start_pos: int = 0,
        mask: Tensor | None = None,
        value_embed: Tensor | None = None,
    ) -> Tensor:
        """Attend ``x`` ``[B, T, C]``; with ``kv`` (one layer's cache), write then read the cache.

        ``value_embed`` ``[B, T, C]`` (the ``value_embeddings`` switch) is added to the values.

        ``mask`` (bool, True = attend) is required unless queries and keys are aligned: the full
        forward, a prefill at ``start_pos`` 0, or a single new token attending to every cached key.
        """
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        if value_embed is not None:
            v = v + value_embed
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k = k.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        if self.q_norm is not None:
            q, k = rms_norm(self.q_norm, q), rms_norm(self.k_norm, k)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if kv is not None:
            k_cache, v_cache = kv
            end = start_pos + T
            k_cache[:, :, start_pos:end] = k
            v_cache[:, :, start_pos:end] = v
            k, v = k_cache[:, :, :end], v_cache[:, :, :end]
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=mask is None and T > 1,
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


def relu_squared(x: Tensor) -> Tensor:
    """``relu(x) ** 2`` (So et al. 2021, "Primer")."""
    return F.relu(x).square()


class ReLUSquared(nn.Module):
    """:func:`relu_squared` as a module."""

    def forward(self, x: Tensor) -> Tensor:
        return relu_squared(x)


class MLP(nn.Module):
    """Two projections with a 4x hidden width; GELU (GPT-2's tanh approximation) or ReLU²."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.act = ReLUSquared() if config.relu2 else nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class Block(nn.Module):
    """Pre-LayerNorm residual block: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None = None,
        kv: tuple[Tensor, Tensor] | None = None,
        start_pos: int = 0,
        mask: Tensor | None = None,
        value_embed: Tensor | None = None,
    ) -> Tensor:
        x = x + self.attn(self.ln_1(x), rope, kv, start_pos, mask, value_embed)
        return x + self.mlp(self.ln_2(x))
