"""The shipped configuration: one value per parameter, and environments that keep their word."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kedro.config import OmegaConfigLoader

from kedro_gpt.config import parse_params
from kedro_gpt.model.presets import model_config
from kedro_gpt.pipelines.pretraining.config import PretrainingConfig
from kedro_gpt.settings import CONFIG_LOADER_ARGS
from kedro_gpt.training.config import TrainConfig

CONF = Path(__file__).resolve().parents[2] / "conf"
BUDGETS = {"max_steps", "max_tokens", "max_minutes"}  # no default in code: conf/base sets them


def pretraining(env: str) -> PretrainingConfig:
    loader = OmegaConfigLoader(str(CONF), env=env, **CONFIG_LOADER_ARGS)
    return parse_params(PretrainingConfig, loader["parameters"]["pretraining"], "pretraining")


def _file(env: str) -> dict[str, Any]:
    return yaml.safe_load((CONF / env / "parameters_pretraining.yml").read_text())["pretraining"]


def test_base_training_keys_have_the_value_they_have_in_code() -> None:
    """A reader sees one value: each training key in conf/base equals TrainConfig's default."""
    training = _file("base")["training"]
    defaults = TrainConfig.model_fields
    differ = {
        k: (v, defaults[k].default)
        for k, v in training.items()
        if k not in BUDGETS and v != defaults[k].default
    }
    assert not differ, f"conf/base and TrainConfig disagree (yaml, code): {differ}"
    assert set(training) & BUDGETS, "conf/base must set a budget"


@pytest.mark.parametrize("env", ["gpu", "gpt2"])
def test_environments_set_only_what_they_change(env: str) -> None:
    """Their headers promise 'only the keys below differ from conf/base'."""
    base = pretraining("base")
    merged = pretraining(env)
    own = _file(env)
    same = [
        f"training.{k}"
        for k in own.get("training", {})
        if getattr(base.training, k) == getattr(merged.training, k)
    ]
    base_model = model_config(base.model.preset, 2048, **base.model.overrides()).to_dict()
    env_model = model_config(merged.model.preset, 2048, **merged.model.overrides()).to_dict()
    same += [
        f"model.{k}"
        for k in own.get("model", {})
        if k != "preset" and base_model.get(k) == env_model.get(k)
    ]
    assert not same, f"conf/{env} repeats conf/base: {same}"


def test_base_trains_the_ablation_winners_with_muon_and_wsd() -> None:
    config = pretraining("base")
    model = model_config(config.model.preset, 2048, **config.model.overrides())
    assert model.rope and model.qk_norm and model.relu2 and not model.is_gpt2_layout
    assert (config.training.optimizer, config.training.schedule) == ("muon", "wsd")


@pytest.mark.parametrize(("env", "n_layer"), [("gpt2", 4), ("gpu", 12)])
def test_gpt2_and_gpu_envs_train_the_exportable_gpt2_layout(env: str, n_layer: int) -> None:
    config = pretraining(env)
    model = model_config(config.model.preset, 2048, **config.model.overrides())
    assert model.is_gpt2_layout and model.n_layer == n_layer
    assert (config.training.optimizer, config.training.schedule) == ("adamw", "cosine")
