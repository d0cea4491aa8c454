"""Retraining nodes: decide where to start and with which settings; fine-tune from there."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
from matplotlib.figure import Figure

from kedro_gpt.config import parse_params
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.pipelines.finetuning.nodes import finetune
from kedro_gpt.retraining import RetrainConfig, plan
from kedro_gpt.tracking.model_source import first_registered

logger = logging.getLogger(__name__)


def plan_retraining(
    finetuning: dict[str, Any], comparison: dict[str, Any], retrain: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fine-tuning and comparison parameters of this retraining: the project's own with
    ``retrain``'s overrides, starting from the first of ``retrain.start_from`` that exists, and
    comparing the new model with the champion (when there is one)."""
    config = parse_params(RetrainConfig, retrain, "retrain")
    start = first_registered(config.start_from)
    champion = first_registered([config.champion])
    finetune_params, compare_params = plan(finetuning, comparison, config, start, champion)
    logger.info("retraining from %s (champion: %s)", start, champion or "none yet")
    return finetune_params, compare_params


def finetune_champion(
    task_files: dict[str, Callable[[], str]],
    finetuning: dict[str, Any],
    feedback_snapshot: pq.ParquetFile,
) -> tuple[ModelBundle, dict[str, Any], dict[str, dict[str, float]], str, Figure]:
    """The fine-tuning node, from the registered model the plan names (never ``gpt_model``)."""
    return finetune(None, task_files, finetuning, feedback_snapshot)
