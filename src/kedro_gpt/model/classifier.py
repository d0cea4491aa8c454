"""A sequence classifier on the GPT backbone: pooled final hidden states → a linear head.

Batches follow the training loop's ``(x, y)`` shape: ``x`` ``[B, T]`` token ids right-padded with
``pad_id``, ``y`` ``[B, T]`` all ``-100`` except one position per row that holds the label index.
Pooling is the hidden state of the last non-pad token (``last``; causal attention means it has
seen the whole text) or the mean over non-pad tokens (``mean``).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kedro_gpt.model.gpt import GPT, IGNORE_INDEX

Pooling = Literal["last", "mean"]


class GPTClassifier(nn.Module):
    """``backbone`` (a :class:`GPT`) + ``head`` (``n_embd → num_labels``)."""

    def __init__(self, backbone: GPT, num_labels: int, pad_id: int, pooling: Pooling = "last"):
        super().__init__()
        if num_labels < 2:
            raise ValueError(f"a classifier needs at least two labels, got {num_labels}")
        self.backbone = backbone
        self.config = backbone.config
        self.head = nn.Linear(backbone.config.n_embd, num_labels)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        self.pad_id = pad_id
        self.pooling = pooling

    def pooled(self, idx: Tensor) -> Tensor:
        """One vector per row ``[B, n_embd]``."""
        hidden = self.backbone.hidden_states(idx)
        real = idx != self.pad_id
        if self.pooling == "mean":
            weights = real.unsqueeze(-1).to(hidden.dtype)
            return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        positions = torch.arange(idx.shape[1], device=idx.device)
        last = torch.where(real, positions, 0).amax(dim=1)
        return hidden[torch.arange(idx.shape[0], device=idx.device), last]

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Logits ``[B, num_labels]`` and, given targets, the mean cross-entropy."""
        logits = self.head(self.pooled(idx)).float()
        if targets is None:
            return logits, None
        labels = torch.where(targets != IGNORE_INDEX, targets, -1).amax(dim=1)
        return logits, F.cross_entropy(logits, labels, ignore_index=-1)

    @torch.no_grad()
    def predict(self, idx: Tensor) -> Tensor:
        """Label indices ``[B]``."""
        was = self.training
        self.eval()
        try:
            return self(idx)[0].argmax(dim=-1)
        finally:
            self.train(was)

    def head_state(self) -> dict[str, Any]:
        """The head as JSON-able lists (stored in a ModelBundle's ``info``)."""
        return {
            "weight": self.head.weight.detach().cpu().tolist(),
            "bias": self.head.bias.detach().cpu().tolist(),
            "pooling": self.pooling,
            "pad_id": self.pad_id,
        }

    @classmethod
    def from_head_state(cls, backbone: GPT, state: dict[str, Any]) -> GPTClassifier:
        weight = torch.tensor(state["weight"], dtype=torch.float32)
        model = cls(backbone, weight.shape[0], int(state["pad_id"]), state["pooling"])
        with torch.no_grad():
            model.head.weight.copy_(weight)
            model.head.bias.copy_(torch.tensor(state["bias"], dtype=torch.float32))
        return model
