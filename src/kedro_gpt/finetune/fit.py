"""What every fine-tuning task shares: the result type, one call into the training loop that keeps
the best checkpoint, adapt → train → fold back, held-out loss, the hold-out split, the model info."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from kedro_gpt.finetune.adapt import finalize_backbone, prepare_backbone
from kedro_gpt.finetune.config import FinetuningConfig
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.gpt import GPT
from kedro_gpt.training.callbacks import TrainCallback
from kedro_gpt.training.checkpoint import load_weights
from kedro_gpt.training.device import resolve_precision
from kedro_gpt.training.distributed import DistContext
from kedro_gpt.training.evaluate import Evaluator
from kedro_gpt.training.loop import train
from kedro_gpt.training.result import TrainResult

logger = logging.getLogger(__name__)


@dataclass
class TaskResult:
    bundle: ModelBundle
    report: dict[str, Any]
    metrics: dict[str, float]
    samples: str = ""
    figure: Figure | None = None
    history: dict[str, Any] = field(default_factory=dict)


def train_and_restore(
    model: torch.nn.Module,
    batches: Any,
    evaluator: Evaluator,
    config: FinetuningConfig,
    out_dir: Path,
    callbacks: Sequence[TrainCallback],
    model_config: dict[str, Any],
) -> TrainResult:
    """Run the shared loop, then load the best checkpoint's weights (lowest held-out loss)."""
    result = train(
        model,
        batches,
        config.training,
        out_dir,
        evaluator=evaluator,
        callbacks=callbacks,
        model_config=model_config,
    )
    if result.best_path:
        load_weights(model, result.best_path)
    return result


def fit_language_model(
    model: GPT,
    batches: Any,
    evaluator: Evaluator,
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback],
) -> tuple[GPT, TrainResult, dict[str, Any], float]:
    """Score ``model`` before, adapt it (full / freeze / LoRA), train it, fold adapters back.

    Returns the trained model, the run, the adaptation info and the held-out loss before.
    """
    base_loss = eval_loss(model, evaluator, config)
    adapt = prepare_backbone(model, config)
    result = train_and_restore(
        model,
        batches,
        evaluator,
        config,
        Path(config.checkpoint_dir),
        callbacks,
        model.config.to_dict(),
    )
    return finalize_backbone(model), result, adapt, base_loss


def eval_metrics(
    model: torch.nn.Module, evaluator: Evaluator, config: FinetuningConfig
) -> dict[str, float]:
    """``evaluator``'s full held-out metrics of ``model`` on the configured device."""
    precision = resolve_precision(config.training.device, config.training.dtype)
    model.to(precision.device)
    return evaluator.evaluate(model, precision, DistContext(), full=True)


def eval_loss(model: torch.nn.Module, evaluator: Evaluator, config: FinetuningConfig) -> float:
    return float(eval_metrics(model, evaluator, config)["loss"])


def holdout_split(items: list[Any], fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    if len(items) < 2:
        raise ValueError(f"need at least 2 examples to hold some out, got {len(items)}")
    order = np.random.default_rng(seed).permutation(len(items))
    n_eval = min(max(1, round(fraction * len(items))), len(items) - 1)
    return [items[i] for i in order[n_eval:]], [items[i] for i in order[:n_eval]]


def finetuned_info(
    bundle: ModelBundle, config: FinetuningConfig, result: TrainResult, **extra: Any
):
    base = {k: bundle.info.get(k) for k in ("source", "step", "tokens", "tokenizer_sha256")}
    return {
        "source": "finetuning",
        "task": config.task,
        "base_model": {**base, **(bundle.info.get("lineage") or {})},
        "tokenizer_sha256": bundle.info.get("tokenizer_sha256"),
        "step": result.step,
        "tokens": result.tokens,
        "elapsed_s": result.elapsed_s,
        "stopped_by": result.stopped_by,
        "best_val_loss": result.best_val_loss,
        "finetuning": config.model_dump(mode="json"),
        **extra,
    }
