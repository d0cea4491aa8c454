"""Retraining settings, and the fine-tuning and comparison parameters they make from the
project's own (``parameters_finetuning.yml``, ``parameters_comparison.yml``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kedro_gpt.config import ConfigError, StrictModel, parse_params
from kedro_gpt.finetune.config import FinetuningConfig
from kedro_gpt.pipelines.comparison.config import ComparisonConfig
from kedro_gpt.sweep.overrides import apply_overrides

CANDIDATE, CHAMPION = "candidate", "champion"


class RetrainConfig(StrictModel):
    """``parameters_retrain.yml``: where to start, and dotted overrides of the project's
    fine-tuning and comparison parameters."""

    start_from: list[str] = Field(
        min_length=1,
        description="registered models to start from, the first that exists: models:/NAME@ALIAS, "
        "models:/NAME/VERSION or models:/NAME/latest",
    )
    champion: str = Field(description="the served model, compared with the new one")
    finetuning: dict[str, Any] = Field(default_factory=dict)
    comparison: dict[str, Any] = Field(default_factory=dict)


def plan(
    finetuning: dict[str, Any],
    comparison: dict[str, Any],
    config: RetrainConfig,
    start: str | None,
    champion: str | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fine-tuning parameters that start from ``start``; comparison parameters with the new
    model (``candidate``, the promotion's subject) and ``champion`` when there is one."""
    if start is None:
        raise ConfigError(
            "parameters 'retrain' -> start_from: none of "
            f"{', '.join(config.start_from)} exists in the MLflow registry yet "
            "(`kedro run --pipelines=pretrain` registers kedro-gpt; "
            "`--pipelines=finetune` kedro-gpt-finetuned)"
        )
    tuned = apply_overrides(
        finetuning,
        {**config.finetuning, "base_model.mlflow_uri": start, "base_model.path": None},
    )
    models = {CANDIDATE: "catalog", **({CHAMPION: champion} if champion else {})}
    compared = apply_overrides(
        comparison, {**config.comparison, "models": models, "promotion.model": CANDIDATE}
    )
    parse_params(FinetuningConfig, tuned, "retrain.finetuning (over finetuning)")
    parse_params(ComparisonConfig, compared, "retrain.comparison (over comparison)")
    return tuned, compared
