"""A tiny real model folder for the serving and HF tests: sentencepiece + a random small GPT."""

from __future__ import annotations

from pathlib import Path

import torch

from kedro_gpt.model import GPT, GPTConfig
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.tokenizer.config import SentencePieceConfig
from kedro_gpt.tokenizer.train import train_sentencepiece

TINY_SHAPE = {"block_size": 64, "n_layer": 2, "n_head": 2, "n_embd": 32}


def make_tiny_bundle(text: str, seed: int = 0, **overrides) -> ModelBundle:
    """A sentencepiece tokenizer trained on ``text`` and a random GPT of :data:`TINY_SHAPE`."""
    sp = train_sentencepiece([text], SentencePieceConfig(vocab_size=400, num_threads=1))
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=sp.get_piece_size(), **{**TINY_SHAPE, **overrides})
    return ModelBundle(GPT(config).eval(), sp, {"made_by": "tests"})


def save_tiny_bundle(text: str, folder: Path, **overrides) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    make_tiny_bundle(text, **overrides).save(folder)
    return folder
