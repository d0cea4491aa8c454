"""Fine-tuning nodes: fine-tune the starting model on the configured task, plot the result."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from kedro_gpt.config import parse_params
from kedro_gpt.finetune.config import FinetuningConfig
from kedro_gpt.finetune.run import run_task
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.tracking.lineage import tag_run
from kedro_gpt.tracking.metrics import metric_history
from kedro_gpt.tracking.model_source import (
    catalog_model_lineage,
    lineage_tags,
    load_model_folder,
    load_registered_model,
)
from kedro_gpt.tracking.registry import register_model
from kedro_gpt.tracking.run_callbacks import run_callbacks
from kedro_gpt.training.result import TrainResult

logger = logging.getLogger(__name__)


def snapshot_feedback(feedback_db: pd.DataFrame) -> pd.DataFrame:
    """The feedback table as it is now: saved as a new catalog version for this run to learn from."""
    logger.info("feedback snapshot: %d rows", len(feedback_db))
    return feedback_db


def finetune(
    gpt_model: ModelBundle | None,
    task_files: dict[str, Callable[[], str]],
    params: dict[str, Any],
    feedback_snapshot: pq.ParquetFile | None = None,
    backward_model: ModelBundle | None = None,
) -> tuple[ModelBundle, dict[str, Any], dict[str, dict[str, float]], str, Figure]:
    """Fine-tune ``gpt_model`` (or the MLflow model of ``base_model.mlflow_uri``, or the model
    folder of ``base_model.path``) on the task, with the feedback snapshot's examples (chat) or
    preference pairs (mode ``dpo``).

    ``gpt_model`` is None when the run did not load it (with ``mlflow_uri`` or ``path`` set,
    ``kedro_gpt.hooks.ExternalBaseModelHooks`` skips it).
    Returns the fine-tuned model, the report, metrics for MLflow, sample generations and a
    plot (the confusion matrix for classification, the loss curves otherwise).
    """
    config = parse_params(FinetuningConfig, params, "finetuning")
    bundle = _base_model(gpt_model, config)
    tag_run(
        {
            "finetune.task": config.task,
            "finetune.mode": config.mode,
            **lineage_tags(bundle.info.get("lineage") or {}),
        }
    )
    with run_callbacks("finetuning", config.tensorboard_dir) as callbacks:
        feedback = None if feedback_snapshot is None else feedback_snapshot.read().to_pandas()
        result = run_task(bundle, task_files, config, callbacks, feedback, backward_model)
    logger.info("fine-tuning (%s, %s) done: %s", config.task, config.mode, result.metrics)
    figure = result.figure or _loss_figure(result.history, config.task)
    return result.bundle, result.report, metric_history(result.metrics), result.samples, figure


def finetune_bidirectional(
    gpt_model: ModelBundle | None,
    backward_model: ModelBundle,
    task_files: dict[str, Callable[[], str]],
    params: dict[str, Any],
    feedback_snapshot: pq.ParquetFile | None = None,
) -> tuple[ModelBundle, dict[str, Any], dict[str, dict[str, float]], str, Figure]:
    """:func:`finetune` for classification with ULMFiT's second direction: each classifier of
    the ensemble has a twin fine-tuned from ``backward_model`` (a backward language model on
    ``gpt_model``'s tokenizer), and the saved classifier averages both directions."""
    return finetune(gpt_model, task_files, params, feedback_snapshot, backward_model)


def _base_model(gpt_model: ModelBundle | None, config: FinetuningConfig) -> ModelBundle:
    """The starting model that ``base_model`` names, with its lineage in ``info``."""
    if config.base_model.mlflow_uri:
        return load_registered_model(config.base_model.mlflow_uri)
    if config.base_model.path:
        return load_model_folder(config.base_model.path)
    if gpt_model is None:
        raise ValueError("no starting model: the gpt_model input was not loaded")
    return ModelBundle(
        gpt_model.model,
        gpt_model.tokenizer,
        {**gpt_model.info, "lineage": catalog_model_lineage("gpt_model")},
    )


def _loss_figure(history: dict[str, Any], task: str) -> Figure:
    result = TrainResult.from_dict(history)
    fig, ax = plt.subplots(figsize=(7, 4))
    if result.history:
        ax.plot([h["step"] for h in result.history], [h["loss"] for h in result.history], "-")
    if result.evals:
        ax.plot([e["step"] for e in result.evals], [e["loss"] for e in result.evals], "o-")
    ax.legend(["train loss", "held-out loss"][: len(ax.lines)])
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats)")
    ax.set_title(f"fine-tuning ({task}): {result.step} steps")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def register_finetuned_model(
    finetuned_model: ModelBundle, finetune_report: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Log the fine-tuned model as an MLflow pyfunc model and register it (unless disabled),
    tagged with its task metrics and the model it started from."""
    config = parse_params(FinetuningConfig, params, "finetuning")
    if not config.registry.enabled:
        return {"registered": False}
    tags = {f"finetune.{k}": f"{v:.6g}" for k, v in finetune_report["metrics"].items()}
    tags["finetune.task"] = config.task
    lineage = finetuned_model.info.get("base_model") or {}
    tags.update({f"base_model.{k}": str(v) for k, v in lineage.items() if v is not None})
    registration = register_model(finetuned_model, config.registry.model_name, tags)
    logger.info("registered %s", registration["model_uri"])
    return {"registered": True, **registration}
