"""A bad search space fails before any trial starts, naming the key."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from kedro_gpt.config import ConfigError
from kedro_gpt.pipelines.tuning.nodes import check_sweep
from kedro_gpt.sweep.config import SweepConfig
from tests.conftest import PROJECT_ROOT

BASE = PROJECT_ROOT / "conf" / "base"


def _params(name: str) -> dict:
    return yaml.safe_load((BASE / f"parameters_{name}.yml").read_text())[name]


def _sweep(**changes) -> SweepConfig:
    return SweepConfig.model_validate({**_params("sweep"), **changes})


def test_the_shipped_sweep_passes_its_checks():
    check_sweep(_params("pretraining"), _sweep())


@pytest.mark.parametrize(
    ("space", "named"),
    [
        ({"training.learnin_rate": {"type": "float", "low": 1e-4, "high": 1e-2}}, "learnin_rate"),
        ({"model.n_layers": {"type": "int", "low": 2, "high": 4}}, "model.n_layers"),
        ({"training.optimizer": {"type": "categorical", "choices": ["sgd"]}}, "training.optimizer"),
    ],
)
def test_a_key_or_value_the_parameters_refuse_is_named(space, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        check_sweep(_params("pretraining"), _sweep(space=space))


def test_an_empty_range_is_refused():
    with pytest.raises(ValidationError, match="empty range"):
        _sweep(space={"training.learning_rate": {"type": "float", "low": 0.01, "high": 0.01}})


def test_a_budget_that_never_reaches_an_evaluation_is_refused():
    base = {"training.max_steps": 10, "training.eval_interval": 40}
    with pytest.raises(ConfigError, match="training.max_steps 10 is below"):
        check_sweep(_params("pretraining"), _sweep(base=base))


def test_an_ablation_needs_its_changes_and_checks_them():
    with pytest.raises(ValidationError, match="non-empty 'ablation'"):
        _sweep(mode="ablation", ablation=[])
    with pytest.raises(ConfigError, match="model.ropes"):
        check_sweep(_params("pretraining"), _sweep(mode="ablation", ablation=[{"model.ropes": 1}]))


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({"training.learning_rat": 3e-3}, "enqueue\\[0\\]: 'training.learning_rat' is not a key"),
        ({"training.learning_rate": 0.5}, "'training.learning_rate' = 0.5 is outside"),
        ({"model.n_layer": 3}, "'model.n_layer' = 3 is not one of \\[2, 4\\]"),
    ],
)
def test_an_enqueued_point_outside_the_space_is_named(point, message):
    with pytest.raises(ValidationError, match=message):
        _sweep(enqueue=[point])


def test_enqueued_points_may_be_nested_and_partial():
    config = _sweep(enqueue=[{"training": {"learning_rate": 3e-3}}, {"model.n_layer": 4}])
    assert config.enqueue == [{"training.learning_rate": 3e-3}, {"model.n_layer": 4}]


def test_a_stepped_dimension_refuses_values_off_its_grid():
    space = {"training.warmup_steps": {"type": "int", "low": 0, "high": 100, "step": 10}}
    assert _sweep(space=space, enqueue=[{"training.warmup_steps": 30}])
    with pytest.raises(ValidationError, match="not on the grid of step 10"):
        _sweep(space=space, enqueue=[{"training.warmup_steps": 35}])
