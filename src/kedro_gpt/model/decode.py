"""The one-token decode step of generation, in functional ops.

A decode step of a small model on a CPU is dominated by per-op overhead, not arithmetic: each
``nn.Module`` call, and ``scaled_dot_product_attention``'s set-up for a single query, costs more
than the matmul it wraps. :class:`DecodePlan` gathers each layer's tensors once per generation
and runs the step as plain ``torch`` calls, with single-query attention as two small matmuls.
It computes exactly what ``GPT.forward_cached`` computes for one new token (a test checks every
switch combination), about 1.4x faster at batch 1 on 2 CPU cores (see docs/benchmarks.md;
``torch.compile`` of the step was measured too and did not pay on the CPU).

Models whose layers are not the plain modules (LoRA adapters, subclasses) or carry forward hooks
get ``None`` from :meth:`DecodePlan.of` and keep the module path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kedro_gpt.model.gpt import GPT
from kedro_gpt.model.kv_cache import KVCache
from kedro_gpt.model.layers import MLP, Block, CausalSelfAttention, ReLUSquared, relu_squared
from kedro_gpt.model.rope import RotaryEmbedding, apply_rope

_PLAIN = {
    Block,
    CausalSelfAttention,
    MLP,
    ReLUSquared,
    GPT,
    RotaryEmbedding,
    nn.Linear,
    nn.LayerNorm,
    nn.RMSNorm,
    nn.Embedding,
    nn.Dropout,
    nn.GELU,
    nn.ModuleList,
    nn.ModuleDict,
}


@dataclass(frozen=True)
class _Layer:
    ln_1: tuple[Tensor, Tensor | None]
    qkv: tuple[Tensor, Tensor | None]
    proj: tuple[Tensor, Tensor | None]
    ln_2: tuple[Tensor, Tensor | None]
    fc: tuple[Tensor, Tensor | None]
    fc_proj: tuple[Tensor, Tensor | None]
    q_norm: Tensor | None
    k_norm: Tensor | None
    value_embed: Tensor | None


@dataclass(frozen=True)
class DecodePlan:
    """References to one model's tensors, in the order a decode step uses them."""

    model: GPT
    layers: tuple[_Layer, ...]

    @classmethod
    def of(cls, model: GPT) -> DecodePlan | None:
        """The plan for ``model``, or ``None`` when a module is not one this step reproduces."""
        for m in model.modules():
            if type(m) not in _PLAIN or m._forward_hooks or m._forward_pre_hooks:
                return None
        layers = []
        for i, block in enumerate(model.transformer.h):
            attn, mlp = block.attn, block.mlp
            table = model.config.value_embed_layer_table(i)
            layers.append(
                _Layer(
                    ln_1=(block.ln_1.weight, block.ln_1.bias),
                    qkv=(attn.c_attn.weight, attn.c_attn.bias),
                    proj=(attn.c_proj.weight, attn.c_proj.bias),
                    ln_2=(block.ln_2.weight, block.ln_2.bias),
                    fc=(mlp.c_fc.weight, mlp.c_fc.bias),
                    fc_proj=(mlp.c_proj.weight, mlp.c_proj.bias),
                    q_norm=None if attn.q_norm is None else attn.q_norm.weight,
                    k_norm=None if attn.k_norm is None else attn.k_norm.weight,
                    value_embed=None if table is None else model.value_embeds[table].weight,
                )
            )
        return cls(model, tuple(layers))

    def step(self, tokens: Tensor, cache: KVCache, col: int) -> Tensor:
        """Logits ``[B, V]`` of ``tokens`` ``[B]`` written at cache column ``col``."""
        model, config = self.model, self.model.config
        if col >= cache.capacity:
            raise ValueError(f"cache column {col} exceeds its capacity {cache.capacity}")
        B, C, H, D = tokens.shape[0], config.n_embd, config.n_head, config.head_dim
        end = col + 1
        pad = cache.pad
        if pad is None:
            pos: Tensor | int = col
            mask = None
        else:
            pos = (col - pad).clamp_min(0)  # [B]
            mask = (model.pos_ids[:end][None, :] >= pad[:, None])[:, None, None, :]  # [B,1,1,end]
        x = F.embedding(tokens, model.transformer.wte.weight)
        rope = None
        if model.rotary is None:
            x = x + model.transformer.wpe.weight[pos]
        else:
            rope = (model.rotary.cos[pos], model.rotary.sin[pos])
            if pad is not None:
                rope = (rope[0][:, None], rope[1][:, None])  # [B, 1, D/2] against [B, H, D/2]
        act = relu_squared if config.relu2 else _gelu_tanh
        scale = 1.0 / math.sqrt(D)
        for layer, k_cache, v_cache in zip(self.layers, cache.k, cache.v, strict=True):
            h = F.layer_norm(x, (C,), *layer.ln_1)
            q, k, v = F.linear(h, *layer.qkv).view(B, 3, H, D).unbind(1)
            if layer.value_embed is not None:
                v = v + F.embedding(tokens, layer.value_embed).view(B, H, D)
            if layer.q_norm is not None:
                q = F.rms_norm(q, (D,), layer.q_norm)
                k = F.rms_norm(k, (D,), layer.k_norm)
            if rope is not None:
                q, k = apply_rope(q, *rope), apply_rope(k, *rope)
            k_cache[:, :, col] = k
            v_cache[:, :, col] = v
            scores = torch.matmul(q[:, :, None] * scale, k_cache[:, :, :end].transpose(-1, -2))
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            y = torch.matmul(scores.softmax(-1), v_cache[:, :, :end])  # [B, H, 1, D]
            x = x + F.linear(y.view(B, C), *layer.proj)
            h = F.layer_norm(x, (C,), *layer.ln_2)
            x = x + F.linear(act(F.linear(h, *layer.fc)), *layer.fc_proj)
        x = F.layer_norm(x, (C,), model.transformer.ln_f.weight, model.transformer.ln_f.bias)
        return model.lm_logits(x)


def _gelu_tanh(x: Tensor) -> Tensor:
    return F.gelu(x, approximate="tanh")
