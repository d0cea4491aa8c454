"""Fixtures shared by model, fine-tuning and evaluation tests: a small sentencepiece model trained
on the bundled corpus and a tiny GPT bundle around it."""

from __future__ import annotations

import pytest
import torch

from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.config import GPTConfig
from kedro_gpt.model.gpt import GPT
from kedro_gpt.tokenizer.config import SentencePieceConfig
from kedro_gpt.tokenizer.train import train_sentencepiece


@pytest.fixture(scope="session")
def sp(shakespeare_text):
    return train_sentencepiece([shakespeare_text[:100_000]], SentencePieceConfig(vocab_size=400))


@pytest.fixture
def bundle(sp):
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=sp.get_piece_size(), block_size=48, n_layer=2, n_head=2, n_embd=32
    )
    return ModelBundle(GPT(config), sp, {"source": "pretraining", "step": 7})
