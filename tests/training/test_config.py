"""TrainConfig validation and device/precision resolution."""

from __future__ import annotations

import pytest
import torch

from kedro_gpt.config import ConfigError, parse_params
from kedro_gpt.training.config import TrainConfig
from kedro_gpt.training.device import resolve_precision


def test_a_budget_is_required():
    with pytest.raises(ConfigError, match="max_steps, max_tokens, max_minutes"):
        parse_params(TrainConfig, {"batch_size": 4}, "pretraining")


def test_unknown_and_bad_keys_are_named():
    with pytest.raises(ConfigError, match="learnig_rate"):
        parse_params(TrainConfig, {"max_steps": 10, "learnig_rate": 1e-3}, "pretraining")
    with pytest.raises(ConfigError, match="schedule"):
        parse_params(TrainConfig, {"max_steps": 10, "schedule": "linear"}, "pretraining")


def test_several_nodes_need_an_endpoint():
    with pytest.raises(ConfigError, match="rdzv_endpoint"):
        parse_params(TrainConfig, {"max_steps": 10, "nnodes": 2}, "pretraining")


def test_any_single_budget_is_enough():
    for budget in ({"max_steps": 1}, {"max_tokens": 100}, {"max_minutes": 0.5}):
        assert parse_params(TrainConfig, budget, "pretraining").warmup_steps == 100


def test_cpu_is_fp32_and_bf16_on_cpu_is_refused():
    assert resolve_precision("cpu", "auto").dtype == torch.float32
    with pytest.raises(ValueError, match="CUDA only"):
        resolve_precision("cpu", "bfloat16")
    if not torch.cuda.is_available():
        assert resolve_precision("auto", "auto").device.type == "cpu"
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_precision("cuda", "auto")
