"""Dotted overrides of the pretraining parameters, checked before any trial starts."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from kedro_gpt.config import ConfigError, parse_params
from kedro_gpt.model.config import GPTConfig
from kedro_gpt.pipelines.pretraining.config import PretrainingConfig


def apply_overrides(params: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``params`` with each dotted key of ``overrides`` set."""
    out = copy.deepcopy(dict(params))
    for key, value in overrides.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"sweep key {key!r}: {part!r} is not a section of the parameters")
            node = child
        node[leaf] = value
    return out


def _model_fields() -> set[str]:
    return {"preset", *(f.name for f in dataclasses.fields(GPTConfig))}


def check_keys(
    params: Mapping[str, Any],
    overrides: Mapping[str, Any],
    base: Mapping[str, Any] | None = None,
) -> None:
    """Raise ``ConfigError`` naming the keys when ``overrides`` (on top of ``base``) name no
    pretraining parameter, or give values the parameters refuse."""
    known_model = _model_fields()
    for key in overrides:
        if key.startswith("model.") and key.split(".", 1)[1] not in known_model:
            raise ConfigError(
                f"sweep key {key!r}: the model has no field {key.split('.', 1)[1]!r} "
                f"(known: {', '.join(sorted(known_model))})"
            )
    merged = apply_overrides(apply_overrides(params, base or {}), overrides)
    try:
        parse_params(PretrainingConfig, merged, "pretraining")
    except ConfigError as err:
        shown = ", ".join(f"{k} = {v!r}" for k, v in overrides.items())
        raise ConfigError(f"sweep ({shown}): {err}") from None


def check_budget(config: PretrainingConfig) -> None:
    """A trial must reach at least one evaluation, or it cannot be compared nor pruned (a step
    budget is checked here; a time budget too short says so when its trial ends)."""
    training = config.training
    interval = training.eval_interval
    if training.max_steps is not None and training.max_steps < interval:
        raise ConfigError(
            f"sweep: training.max_steps {training.max_steps} is below training.eval_interval "
            f"{interval}: a trial would end before its first evaluation"
        )
