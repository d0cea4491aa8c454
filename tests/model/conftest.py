"""Fixtures for the model tests: tiny models that run in milliseconds on 2 CPU cores."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from kedro_gpt.model import GPT, GPTConfig
from tests.bundle_fixtures import bundle, sp  # noqa: F401 - fixtures (LoRA tests)

from .helpers import TINY, randomize


@pytest.fixture
def make_model() -> Callable[..., GPT]:
    def make(seed: int = 0, randomized: bool = True, **overrides) -> GPT:
        torch.manual_seed(seed)
        model = GPT(GPTConfig(**{**TINY, **overrides}))
        return randomize(model, seed) if randomized else model

    return make
