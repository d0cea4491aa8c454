"""Tiny model shapes, switch combinations and weight randomisation for the model tests."""

from __future__ import annotations

import itertools

import torch

from kedro_gpt.model import GPT

TINY = {"vocab_size": 64, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 32}

# Every architecture switch that changes what the model computes (zero_init_proj only changes
# the initial values), in every combination.
SWITCH_COMBOS = [
    {"rope": rope, "qk_norm": qk, "relu2": relu2, "tie_embeddings": tie, "logit_softcap": cap}
    for rope, qk, relu2, tie, cap in itertools.product(
        (False, True), (False, True), (False, True), (True, False), (None, 3.0)
    )
] + [  # value embeddings alone, and with every other switch on
    {**combo, "value_embeddings": True}
    for combo in (
        {"rope": False, "qk_norm": False, "relu2": False, "tie_embeddings": True},
        {"rope": True, "qk_norm": True, "relu2": True, "tie_embeddings": False},
    )
    for combo in ({**combo, "logit_softcap": 3.0 if combo["rope"] else None},)
]


def combo_id(combo: dict) -> str:
    names = [k for k, v in combo.items() if k != "tie_embeddings" and v not in (False, None)]
    return "-".join(names + ([] if combo["tie_embeddings"] else ["untied"])) or "gpt2"


def randomize(model: GPT, seed: int = 0, std: float = 0.5) -> GPT:
    """Replace the (near-uniform) init by larger random weights so greedy tokens vary.

    Matrices get N(0, std), norm gains 1 + N(0, 0.1), biases N(0, 0.02).
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if p.dim() >= 2:
                p.copy_(noise * std)
            elif name.endswith("bias"):
                p.copy_(noise * 0.02)
            else:
                p.copy_(1 + 0.1 * noise)
    return model
