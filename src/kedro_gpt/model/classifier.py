"""A sequence classifier on the GPT backbone: pooled final hidden states → a linear head.

Batches follow the training loop's ``(x, y)`` shape: ``x`` ``[B, T]`` token ids right-padded with
``pad_id``, ``y`` ``[B, T]`` all ``-100`` except one position per row that holds the label index.
Pooling is the hidden state of the last non-pad token (``last``; causal attention means it has
seen the whole text), the mean over non-pad tokens (``mean``), or ULMFiT's concat pooling
(``concat``: last, mean and element-wise max side by side, a ``3 × n_embd`` head input).
A backward backbone (``GPTConfig.reverse``) reads each row's real tokens back to front, so its
``last`` is the state after the text's first token.

With ``lm_loss_weight`` above 0 the training loss adds that times the language-modelling loss of
the same texts (GPT-1's auxiliary objective, Radford et al. 2018): the backbone keeps modelling
the task's text while it learns the labels. Only in training mode: validation loss, which picks
the checkpoint, stays the classification loss.

Discriminative fine-tuning (ULMFiT): with ``layer_lr_decay`` below 1, :meth:`param_groups` gives
the head the full learning rate and each layer below a ``layer_lr_decay`` times smaller one.

:class:`ClassifierEnsemble` averages the label probabilities of several such classifiers (each its
own fine-tuned backbone and head); :func:`classifier_from_state` rebuilds one or the other from the
head state a model bundle stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kedro_gpt.model.gpt import GPT, IGNORE_INDEX

Pooling = Literal["last", "mean", "concat"]


def backwards(idx: Tensor, real: Tensor) -> Tensor:
    """Each right-padded row's real tokens in reverse order, the padding where it was."""
    positions = torch.arange(idx.shape[1], device=idx.device)
    lengths = real.sum(dim=1, keepdim=True)
    source = torch.where(positions < lengths, lengths - 1 - positions, positions)
    return idx.gather(1, source)


def _last(hidden: Tensor, real: Tensor) -> Tensor:
    positions = torch.arange(real.shape[1], device=real.device)
    last = torch.where(real, positions, 0).amax(dim=1)
    return hidden[torch.arange(real.shape[0], device=real.device), last]


def _mean(hidden: Tensor, real: Tensor) -> Tensor:
    weights = real.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def _max(hidden: Tensor, real: Tensor) -> Tensor:
    return hidden.masked_fill(~real.unsqueeze(-1), torch.finfo(hidden.dtype).min).amax(1)


# each pooling's parts, side by side in the head's input (n_embd each)
POOLINGS = {"last": (_last,), "mean": (_mean,), "concat": (_last, _mean, _max)}


class GPTClassifier(nn.Module):
    """``backbone`` (a :class:`GPT`) + ``head`` (pooled width ``→ num_labels``).

    ``layer_lr_decay`` (an attribute the caller may set before training) is what
    :meth:`param_groups` uses when not given one; ULMFiT's value is ``1 / 2.6``.
    """

    def __init__(
        self,
        backbone: GPT,
        num_labels: int,
        pad_id: int,
        pooling: Pooling = "last",
        layer_lr_decay: float = 1.0,
        lm_loss_weight: float = 0.0,
    ):
        super().__init__()
        if num_labels < 2:
            raise ValueError(f"a classifier needs at least two labels, got {num_labels}")
        self.layer_lr_decay = layer_lr_decay
        self.backbone = backbone
        self.config = backbone.config
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {sorted(POOLINGS)}, got {pooling!r}")
        self.head = nn.Linear(len(POOLINGS[pooling]) * backbone.config.n_embd, num_labels)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        self.pad_id = pad_id
        self.pooling = pooling
        self.lm_loss_weight = lm_loss_weight

    def pooled(self, idx: Tensor, hidden: Tensor | None = None) -> Tensor:
        """One vector per row ``[B, width × n_embd]`` (of ``hidden``, the backbone's states of
        ``idx`` already in reading order, if given)."""
        if hidden is None:
            idx = self.reading_order(idx)
            hidden = self.backbone.hidden_states(idx)
        real = idx != self.pad_id
        parts = [pool(hidden, real) for pool in POOLINGS[self.pooling]]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

    def reading_order(self, idx: Tensor) -> Tensor:
        """``idx`` as the backbone reads it: each text back to front for a backward model."""
        return backwards(idx, idx != self.pad_id) if self.config.reverse else idx

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Logits ``[B, num_labels]`` and, given targets, the mean cross-entropy (plus the
        weighted LM loss in training mode)."""
        idx = self.reading_order(idx)
        hidden = self.backbone.hidden_states(idx)
        logits = self.head(self.pooled(idx, hidden)).float()
        if targets is None:
            return logits, None
        labels = torch.where(targets != IGNORE_INDEX, targets, -1).amax(dim=1)
        loss = F.cross_entropy(logits, labels, ignore_index=-1)
        if self.training and self.lm_loss_weight > 0:
            loss = loss + self.lm_loss_weight * self._lm_loss(idx, hidden)
        return logits, loss

    def _lm_loss(self, idx: Tensor, hidden: Tensor) -> Tensor:
        """Next-token cross-entropy over the real (non-pad) tokens of the batch."""
        nxt = idx[:, 1:].masked_fill(idx[:, 1:] == self.pad_id, IGNORE_INDEX)
        lm = self.backbone.lm_logits(hidden[:, :-1])
        return F.cross_entropy(lm.flatten(0, 1), nxt.flatten(), ignore_index=IGNORE_INDEX)

    def param_groups(self, weight_decay: float, layer_lr_decay: float | None = None) -> list[dict]:
        """Optimizer groups, 2-D weights with ``weight_decay`` and the rest without, each with
        an ``lr_scale``: the head 1, the top block (with the final norm) ``layer_lr_decay``, the
        next ``layer_lr_decay**2``, …, the embeddings ``layer_lr_decay**(n_layer + 1)``.

        With a decay of 1 these are the two groups of every other model (one learning rate).
        """
        decay = self.layer_lr_decay if layer_lr_decay is None else layer_lr_decay
        if not decay > 0:
            raise ValueError(f"layer_lr_decay must be positive, got {decay!r}")
        if decay == 1.0:
            params = list(self.parameters())
            levels = [(1.0, params)]
        else:
            levels = [(decay**depth, params) for depth, params in enumerate(self.param_levels())]
        groups = []
        for scale, params in levels:
            for wd, keep in ((weight_decay, True), (0.0, False)):
                chosen = [p for p in params if (p.dim() >= 2) == keep]
                if chosen:
                    group = {"params": chosen, "weight_decay": wd}
                    groups.append(group if decay == 1.0 else {**group, "lr_scale": scale})
        return groups

    def param_levels(self) -> list[list[nn.Parameter]]:
        """The parameters from the top down: head, top block + final norm, …, embeddings."""
        t = self.backbone.transformer
        blocks = [list(block.parameters()) for block in reversed(t.h)]
        blocks[0] = [*t.ln_f.parameters(), *blocks[0]]
        levels = [list(self.head.parameters()), *blocks]
        seen = {id(p) for level in levels for p in level}
        rest = [p for p in self.backbone.parameters() if id(p) not in seen]
        return [*levels, rest]  # embeddings (token, position, value) and an untied lm_head

    def hidden_matrix_params(self) -> list[nn.Parameter]:
        """The backbone blocks' 2-D weights (Muon's share with ``optimizer: muon``)."""
        return self.backbone.hidden_matrix_params()

    def predict(self, idx: Tensor) -> Tensor:
        """Label indices ``[B]``."""
        return _predict(self, idx)

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


class ClassifierEnsemble(nn.Module):
    """Classifiers with the same labels and inputs whose label probabilities are averaged.

    ``forward`` returns the log of the mean probabilities, so ``argmax`` and ``softmax`` read as
    they do for one :class:`GPTClassifier`; the loss is the ensemble's negative log-likelihood.
    """

    def __init__(self, members: Sequence[GPTClassifier]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one classifier")
        pads = {m.pad_id for m in members}
        if len(pads) > 1:
            raise ValueError(f"the members' pad ids differ: {sorted(pads)}")
        self.members = nn.ModuleList(members)
        self.pad_id = members[0].pad_id

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        probs = torch.stack([m(idx)[0].softmax(dim=-1) for m in self.members]).mean(dim=0)
        log_probs = probs.clamp_min(torch.finfo(probs.dtype).tiny).log()
        if targets is None:
            return log_probs, None
        labels = torch.where(targets != IGNORE_INDEX, targets, -1).amax(dim=1)
        return log_probs, F.nll_loss(log_probs, labels, ignore_index=-1)

    def predict(self, idx: Tensor) -> Tensor:
        """Label indices ``[B]``: the label with the highest mean probability."""
        return _predict(self, idx)


@torch.no_grad()
def _predict(model: nn.Module, idx: Tensor) -> Tensor:
    """The argmax of ``model``'s logits, in eval mode (the mode it was in restored after)."""
    was = model.training
    model.eval()
    try:
        return model(idx)[0].argmax(dim=-1)
    finally:
        model.train(was)


def classifier_from_state(
    backbones: Sequence[GPT], state: dict[str, Any]
) -> GPTClassifier | ClassifierEnsemble:
    """The classifier a bundle's head state describes: one head on ``backbones[0]``, or, when
    the state lists further ``ensemble`` heads, an ensemble with one backbone per head."""
    heads = [state, *state.get("ensemble", [])]
    if len(heads) != len(backbones):
        raise ValueError(
            f"the classifier has {len(heads)} heads but the model holds {len(backbones)} backbones"
        )
    members = [GPTClassifier.from_head_state(b, h) for b, h in zip(backbones, heads, strict=True)]
    return members[0] if len(members) == 1 else ClassifierEnsemble(members)
