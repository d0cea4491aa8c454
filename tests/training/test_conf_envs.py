"""The shipped configuration environments give the models their comments promise."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader

from kedro_gpt.config import parse_params
from kedro_gpt.model.presets import model_config
from kedro_gpt.pipelines.pretraining.config import PretrainingConfig
from kedro_gpt.settings import CONFIG_LOADER_ARGS

CONF = Path(__file__).resolve().parents[2] / "conf"


def pretraining(env: str) -> PretrainingConfig:
    loader = OmegaConfigLoader(str(CONF), env=env, **CONFIG_LOADER_ARGS)
    return parse_params(PretrainingConfig, loader["parameters"]["pretraining"], "pretraining")


def test_base_defaults_are_the_ablation_winners() -> None:
    config = pretraining("base")
    model = model_config(config.model.preset, 2048, **config.model.overrides())
    assert (model.n_layer, model.n_embd, model.block_size) == (4, 128, 128)
    assert model.rope and model.qk_norm and model.relu2 and not model.is_gpt2_layout
    assert (config.training.optimizer, config.training.schedule) == ("muon", "wsd")
    assert config.training.max_minutes == 2.5


@pytest.mark.parametrize(("env", "n_layer"), [("gpt2", 4), ("gpu", 12)])
def test_gpt2_and_gpu_envs_train_the_exportable_gpt2_layout(env: str, n_layer: int) -> None:
    config = pretraining(env)
    model = model_config(config.model.preset, 2048, **config.model.overrides())
    assert model.is_gpt2_layout and model.n_layer == n_layer
    assert (config.training.optimizer, config.training.schedule) == ("adamw", "cosine")
