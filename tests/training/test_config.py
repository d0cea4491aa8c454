"""TrainConfig validation and device/precision resolution."""

from __future__ import annotations

import pytest
import torch

from kedro_gpt.config import ConfigError, parse_params
from kedro_gpt.training.config import TrainConfig
from kedro_gpt.training.device import cpu_has_bf16_matmul, resolve_precision


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
    budgets = ({"max_steps": 1}, {"max_tokens": 100}, {"max_minutes": 0.5}, {"max_epochs": 0.5})
    for budget in budgets:
        config = parse_params(TrainConfig, budget, "pretraining")
        assert config.model_dump(include=set(budget)) == budget


def test_cpu_is_fp32_by_default_and_bf16_only_with_bf16_units():
    assert resolve_precision("cpu", "auto").dtype == torch.float32
    if cpu_has_bf16_matmul():
        bf16 = resolve_precision("cpu", "bfloat16")
        with bf16.autocast():
            assert torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3)).dtype == (
                torch.bfloat16
            )
    else:
        with pytest.raises(ValueError, match="bf16 matrix units"):
            resolve_precision("cpu", "bfloat16")
    with resolve_precision("cpu", "float32").autocast():
        assert torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3)).dtype == (
            torch.float32
        )
    if not torch.cuda.is_available():
        assert resolve_precision("auto", "auto").device.type == "cpu"
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_precision("cuda", "auto")


def test_epochs_and_early_stopping_settings_are_checked():
    for bad in (
        {"max_epochs": 0},
        {"early_stopping_patience": 0},
        {"early_stopping_min_delta": -1},
    ):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            parse_params(TrainConfig, {"max_steps": 10, **bad}, "pretraining")
    config = parse_params(TrainConfig, {"max_steps": 10}, "pretraining")
    assert (config.max_epochs, config.early_stopping_patience) == (None, None)
    assert (config.early_stopping_min_delta, config.eval_at_start) == (0.0, False)
