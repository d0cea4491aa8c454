"""Grow a GPT's vocabulary for new tokens, as transformers' ``resize_token_embeddings`` does.

The new rows of every per-token matrix (the token embedding, an untied LM head, any value
embeddings) start at the mean of the known tokens' rows, the usual practice: a new token's logit
then starts near the average logit instead of at an arbitrary value. Known rows are copied
unchanged, so the model computes the same logits for the known tokens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import torch
from torch import nn

from kedro_gpt.model.gpt import GPT

POSITION_EMBEDDING = "transformer.wpe"


def token_matrices(model: GPT) -> list[str]:
    """State-dict names of the matrices with one row per token id."""
    embeddings = [
        f"{name}.weight"
        for name, module in model.named_modules()
        if isinstance(module, nn.Embedding)
        and module.num_embeddings == model.config.vocab_size
        and name != POSITION_EMBEDDING
    ]
    return ["lm_head.weight", *embeddings]


def grow_vocab(model: GPT, vocab_size: int, new_ids: Iterable[int], known: int) -> GPT:
    """A copy of ``model`` with ``vocab_size`` token rows (at least its current count) whose rows
    ``new_ids`` are the mean of rows ``[0, known)``; every other weight is unchanged."""
    old_size = model.config.vocab_size
    new_ids = sorted(set(new_ids))
    size = max(vocab_size, old_size)
    if not 0 < known <= old_size:
        raise ValueError(f"known must be in 1..{old_size} (the model's vocab_size), got {known}")
    if new_ids and (new_ids[0] < known or new_ids[-1] >= size):
        raise ValueError(f"new token ids {new_ids} must lie in [{known}, {size})")
    state = model.state_dict()
    for name in token_matrices(model):
        old = state[name]
        grown = old.new_zeros(size, old.shape[1])
        grown[:old_size] = old
        grown[new_ids] = old[:known].mean(dim=0)
        state[name] = grown
    device = next(model.parameters()).device
    out = GPT(dataclasses.replace(model.config, vocab_size=size)).to(device)
    with torch.no_grad():
        out.load_state_dict(state)
    return out.train(model.training)
