"""The GPT language model: GPT-2 by default, with the architecture switches of ``GPTConfig``.

Parameter names map one-to-one onto Hugging Face ``GPT2LMHeadModel`` (``transformer.wte``,
``transformer.wpe``, ``transformer.h.N.…``, ``transformer.ln_f``, ``lm_head``); HF's ``Conv1D``
weights are the transpose of these ``nn.Linear`` weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kedro_gpt.model.config import GPTConfig
from kedro_gpt.model.kv_cache import KVCache
from kedro_gpt.model.layers import Block
from kedro_gpt.model.rope import RotaryEmbedding

IGNORE_INDEX = -100
"""Targets equal to this are left out of the loss (prompt tokens when fine-tuning, padding)."""


class GPT(nn.Module):
    """Token (+ learned position) embeddings, ``n_layer`` pre-LN blocks, final LN, LM head."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        modules: dict[str, nn.Module] = {"wte": nn.Embedding(config.vocab_size, config.n_embd)}
        if not config.rope:
            modules["wpe"] = nn.Embedding(config.block_size, config.n_embd)
        modules["drop"] = nn.Dropout(config.dropout)
        modules["h"] = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        modules["ln_f"] = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.transformer = nn.ModuleDict(modules)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.value_embeds = nn.ModuleList(
            nn.Embedding(config.vocab_size, config.n_embd) for _ in range(config.value_embed_tables)
        )
        if config.tie_embeddings:
            self.transformer.wte.weight = self.lm_head.weight
        self.rotary = RotaryEmbedding(config.head_dim, config.block_size) if config.rope else None
        self.register_buffer("pos_ids", torch.arange(config.block_size), persistent=False)
        self._init_weights()

    def _init_weights(self) -> None:
        """GPT-2 init: N(0, 0.02), zero biases, residual projections N(0, 0.02/sqrt(2L)) or zero."""
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, param in self.named_parameters():
            if name.endswith("c_proj.weight"):
                if self.config.zero_init_proj:
                    nn.init.zeros_(param)
                else:
                    nn.init.normal_(param, mean=0.0, std=residual_std)

    # -- forward passes ---------------------------------------------------------------------

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Logits ``[B, T, V]`` (float32) and the mean cross-entropy over targets != -100.

        The loss is ``None`` without targets, and 0 (with zero gradients) when every target is
        masked, so a fully masked fine-tuning batch cannot poison training with NaN.
        """
        logits = self.lm_logits(self.hidden_states(idx))
        if targets is None:
            return logits, None
        loss_sum = F.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
        )
        return logits, loss_sum / (targets != IGNORE_INDEX).sum().clamp_min(1)

    def hidden_states(self, idx: Tensor) -> Tensor:
        """The final hidden states ``[B, T, n_embd]`` (after ``ln_f``, before the LM head)."""
        T = idx.shape[1]
        if T > self.config.block_size:
            raise ValueError(
                f"sequence of length {T} exceeds the model's block_size {self.config.block_size}"
            )
        x = self.transformer.wte(idx)
        rope = None
        if self.rotary is None:
            x = x + self.transformer.wpe(self.pos_ids[:T])
        else:
            rope = (self.rotary.cos[:T], self.rotary.sin[:T])
        x = self.transformer.drop(x)
        value_embeds = self._value_embeds(idx)
        for block, ve in zip(self.transformer.h, value_embeds, strict=True):
            x = block(x, rope, value_embed=ve)
        return self.transformer.ln_f(x)

    def _value_embeds(self, idx: Tensor) -> list[Tensor | None]:
        """The value embedding each layer adds to its attention values (``None`` for most)."""
        tables = [emb(idx) for emb in self.value_embeds]
        layer_table = (self.config.value_embed_layer_table(i) for i in range(self.config.n_layer))
        return [None if j is None else tables[j] for j in layer_table]

    def forward_cached(self, idx: Tensor, cache: KVCache, start_pos: int) -> Tensor:
        """Run ``idx`` ``[B, T]`` at cache columns ``start_pos…``; logits of the last one ``[B, V]``.

        A prefill passes the prompt at ``start_pos=0``; a decode step passes one token at the
        next free column and attends to every cached key. Rows with left padding
        (``cache.pad``) get their own positions and never attend to padded columns.
        """
        T = idx.shape[1]
        end = start_pos + T
        if end > cache.capacity:
            raise ValueError(
                f"cache columns {start_pos}..{end - 1} exceed its capacity {cache.capacity}"
            )
        pos = self.pos_ids[start_pos:end]
        mask = None
        if cache.pad is not None:
            mask = self._padded_mask(cache.pad, start_pos, end)
            pos = (pos[None, :] - cache.pad[:, None]).clamp_min(0)  # [B, T]
        elif T > 1 and start_pos > 0:  # a chunk after cached tokens: causal, offset by start_pos
            mask = self.pos_ids[:end][None, :] <= pos[:, None]
        x = self.transformer.wte(idx)
        rope = None
        if self.rotary is None:
            x = x + self.transformer.wpe(pos)
        elif pos.dim() == 1:
            rope = (self.rotary.cos[start_pos:end], self.rotary.sin[start_pos:end])
        else:
            rope = (self.rotary.cos[pos].unsqueeze(1), self.rotary.sin[pos].unsqueeze(1))
        layers = zip(self.transformer.h, cache.k, cache.v, self._value_embeds(idx), strict=True)
        for block, k, v, ve in layers:
            x = block(x, rope, (k, v), start_pos, mask, ve)
        return self.lm_logits(self.transformer.ln_f(x[:, -1]))

    def _padded_mask(self, pad: Tensor, start_pos: int, end: int) -> Tensor:
        """``[B, 1, T, end]`` bool: causal, minus each row's padded columns.

        A padded query column attends to itself only, so no row of the mask is empty (an empty
        row would make attention NaN); real tokens never see padded columns.
        """
        cols = self.pos_ids[:end]
        q_cols = cols[start_pos:end]
        causal = cols[None, :] <= q_cols[:, None]  # [T, end]
        real = cols[None, :] >= pad[:, None]  # [B, end]
        allowed = (causal[None] & real[:, None, :]) | (cols[None, :] == q_cols[:, None])[None]
        return allowed.unsqueeze(1)

    def lm_logits(self, x: Tensor) -> Tensor:
        """LM logits (float32, soft-capped if configured) of final hidden states."""
        logits = self.lm_head(x).float()
        cap = self.config.logit_softcap
        if cap is not None:
            logits = cap * torch.tanh(logits / cap)
        return logits

    # -- bookkeeping for training -------------------------------------------------------------

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count (shared weights once).

        ``non_embedding`` leaves out the lookup-only tables: position embeddings, and the token
        embeddings unless they double as the output head (as in nanoGPT).
        """
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            if "wpe" in self.transformer:
                n -= self.transformer.wpe.weight.numel()
            if not self.config.tie_embeddings:
                n -= self.transformer.wte.weight.numel()
            n -= sum(e.weight.numel() for e in self.value_embeds)
        return n

    def flops_per_token(self) -> float:
        """Training FLOPs per token, ``6N + 12·L·H·Q·T`` (PaLM appendix B, as nanoGPT's MFU)."""
        c = self.config
        return 6.0 * self.num_params() + 12.0 * c.n_layer * c.n_head * c.head_dim * c.block_size

    def param_groups(self, weight_decay: float) -> list[dict]:
        """Optimizer groups: 2-D weights (matmuls, embeddings) decay; biases and norms do not."""
        decay = [p for p in self.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.dim() < 2]
        return [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]

    def set_dropout(self, p: float) -> None:
        """Every dropout in the model (embeddings, attention, residuals) to ``p``; the config, and
        so the saved model, keeps its own value (fine-tuning regularizes, inference never drops)."""
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p!r}")
        for module in self.modules():
            if isinstance(module, nn.Dropout):
                module.p = p
        for block in self.transformer.h:
            block.attn.dropout = p

    def hidden_matrix_params(self) -> list[nn.Parameter]:
        """The 2-D weights inside the blocks (not embeddings or head), e.g. for Muon."""
        return [p for p in self.transformer.h.parameters() if p.dim() >= 2]
