"""Direct Preference Optimization (Rafailov et al. 2023) on preference pairs from user feedback.

A pair is a conversation and two answers, the preferred (``chosen``) and the other
(``rejected``). The policy starts as the base model; the reference is a frozen copy of it. With
``s(a) = log π(a | prompt) − log π_ref(a | prompt)`` summed over the answer's tokens, the loss is
``−log σ(β · (s(chosen) − s(rejected)))``: raise the chosen answer's likelihood relative to the
rejected one, no further from the reference than β allows.

The batches, loop, checkpoints and early stopping are the shared ones: a batch is the chosen rows
then the rejected rows (``[2B, T]``), and :class:`DPOObjective` is the module the loop trains.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kedro_gpt.feedback.examples import PreferencePair
from kedro_gpt.finetune.batches import Row, collate, lm_row
from kedro_gpt.model.gpt import GPT, IGNORE_INDEX
from kedro_gpt.tokenizer.chat import encode_chat
from kedro_gpt.training.data import TRAIN_STREAM
from kedro_gpt.training.device import Precision
from kedro_gpt.training.distributed import DistContext

PairRows = tuple[Row, Row]


def pair_rows(sp: Any, pairs: Sequence[PreferencePair], block_size: int) -> list[PairRows]:
    """(chosen row, rejected row) per pair, loss on the answer tokens; pairs where either
    answer has no token left in the block are dropped."""
    out = []
    for pair in pairs:
        rows = [
            lm_row(
                *encode_chat(sp, [*pair.messages, {"role": "assistant", "content": a}]), block_size
            )
            for a in (pair.chosen, pair.rejected)
        ]
        if rows[0] is not None and rows[1] is not None:
            out.append((rows[0], rows[1]))
    return out


def sequence_logps(model: nn.Module, x: Tensor, y: Tensor, mean: bool = False) -> Tensor:
    """Sum (or, with ``mean``, the per-token mean) of the log-probabilities of each row's scored
    targets ``[B]``."""
    logits = model(x)[0].float()
    scored = y != IGNORE_INDEX
    logp = torch.gather(logits.log_softmax(-1), 2, y.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    total = (logp * scored).sum(-1)
    return total / scored.sum(-1).clamp_min(1) if mean else total


class DPOObjective(nn.Module):
    """The policy (trained) and its frozen reference; ``forward(x, y)`` → (margins, DPO loss).

    The reference is kept out of the module's parameters and state dict (it never trains and
    the checkpoints hold only the policy)."""

    def __init__(self, policy: GPT, beta: float) -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"dpo beta must be positive, got {beta!r}")
        self.policy = policy
        self.config = policy.config
        self.beta = beta
        reference = copy.deepcopy(policy).eval()
        for p in reference.parameters():
            p.requires_grad_(False)
        self._reference = (reference,)  # a tuple: not a registered submodule

    @property
    def reference(self) -> GPT:
        return self._reference[0]

    def forward(self, x: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        policy = sequence_logps(self.policy, x, targets)
        reference = self.reference.to(x.device)
        with torch.no_grad():
            ref = sequence_logps(reference, x, targets)
        chosen, rejected = (policy - ref).chunk(2)
        margins = self.beta * (chosen - rejected)
        return margins, -F.logsigmoid(margins).mean()

    def param_groups(self, weight_decay: float) -> list[dict]:
        return self.policy.param_groups(weight_decay)

    def hidden_matrix_params(self) -> list[nn.Parameter]:
        return self.policy.hidden_matrix_params()

    def flops_per_token(self) -> float:
        return self.policy.flops_per_token() * 4 / 3  # + the reference's forward pass


class PairBatches:
    """Random micro-batches of pairs: ``x``/``y`` are the chosen rows then the rejected rows
    (a :class:`~kedro_gpt.training.data.BatchSource`, counter-based like ``PaddedBatches``)."""

    def __init__(self, pairs: Sequence[PairRows], batch_size: int, pad_id: int, *, seed: int):
        if not pairs:
            raise ValueError("no preference pairs to train on")
        self.pairs, self.batch_size, self.pad_id, self.seed = list(pairs), batch_size, pad_id, seed
        self.draws = 0

    @property
    def tokens_per_epoch(self) -> int:
        return sum(len(c[0]) + len(r[0]) for c, r in self.pairs)

    def next_batch(self) -> tuple[Tensor, Tensor]:
        rng = np.random.default_rng([self.seed, TRAIN_STREAM, self.draws])
        self.draws += 1
        picks = rng.integers(0, len(self.pairs), size=self.batch_size)
        return pair_batch([self.pairs[i] for i in picks], self.pad_id)

    def state_dict(self) -> dict[str, Any]:
        return {"draws": self.draws, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.draws = int(state["draws"])


def pair_batch(pairs: Sequence[PairRows], pad_id: int) -> tuple[Tensor, Tensor]:
    return collate([c for c, _ in pairs] + [r for _, r in pairs], pad_id)


class PairsEvaluator:
    """Mean DPO loss over the held-out pairs (the loop's ``Evaluator``), how often the DPO
    reward ranks the chosen answer first (``reward_accuracy``) and how often the policy itself
    prefers it (``preference_rate``, see :func:`preference_rate`)."""

    def __init__(self, pairs: Sequence[PairRows], batch_size: int, pad_id: int) -> None:
        if not pairs:
            raise ValueError("no held-out preference pairs to evaluate on")
        self.pairs, self.batch_size, self.pad_id = list(pairs), batch_size, pad_id

    @torch.no_grad()
    def evaluate(
        self, model: nn.Module, precision: Precision, dist: DistContext, *, full: bool
    ) -> dict[str, float]:
        was = model.training
        model.eval()
        margins = []
        try:
            for i in range(0, len(self.pairs), self.batch_size):
                x, y = pair_batch(self.pairs[i : i + self.batch_size], self.pad_id)
                with precision.autocast():
                    margins.append(model(x.to(precision.device), y.to(precision.device))[0].float())
        finally:
            model.train(was)
        all_margins = torch.cat(margins)
        return {
            "loss": -F.logsigmoid(all_margins).mean().item(),
            "reward_accuracy": (all_margins > 0).float().mean().item(),
            "preference_rate": preference_rate(
                model.policy, self.pairs, self.batch_size, self.pad_id
            ),
            "final": 1.0 if full else 0.0,
        }


@torch.no_grad()
def preference_rate(model: GPT, pairs: Sequence[PairRows], batch_size: int, pad_id: int) -> float:
    """The fraction of ``pairs`` whose chosen answer ``model`` finds more likely, per token (a
    sum would favour whichever answer is shorter)."""
    was = model.training
    model.eval()
    try:
        wins = []
        device = next(model.parameters()).device
        for i in range(0, len(pairs), batch_size):
            x, y = pair_batch(pairs[i : i + batch_size], pad_id)
            chosen, rejected = sequence_logps(model, x.to(device), y.to(device), True).chunk(2)
            wins.append((chosen > rejected).float())
        return torch.cat(wins).mean().item()
    finally:
        model.train(was)
