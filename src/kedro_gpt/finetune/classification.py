"""Classification: a head on the pooled hidden states of the backbone, with the majority-class and
same-steps-from-scratch baselines scored on the same held-out rows."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from kedro_gpt.evaluation.metrics import (
    classification_metrics,
    confusion_figure,
    majority_baseline,
)
from kedro_gpt.finetune.adapt import finalize_backbone, prepare_backbone
from kedro_gpt.finetune.batches import (
    PaddedBatches,
    Row,
    RowsEvaluator,
    classification_row,
    fixed_batches,
)
from kedro_gpt.finetune.config import FinetuningConfig
from kedro_gpt.finetune.fit import TaskResult, eval_loss, finetuned_info, train_and_restore
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.classifier import GPTClassifier
from kedro_gpt.model.gpt import GPT
from kedro_gpt.tokenizer.special_tokens import PAD, special_token_id
from kedro_gpt.training.callbacks import TrainCallback
from kedro_gpt.training.result import TrainResult


def _classification_rows(sp: Any, examples, label_index: dict[str, int], block: int):
    rows, labels = [], []
    for text, label in examples:
        row = classification_row(sp.encode(text), label_index[label], block)
        if row is not None:
            rows.append(row)
            labels.append(label_index[label])
    return rows, labels


@torch.no_grad()
def predict_labels(model: GPTClassifier, rows: Sequence[Row], batch_size: int) -> list[int]:
    device = next(model.parameters()).device
    out: list[int] = []
    for x, _ in fixed_batches(rows, batch_size, model.pad_id):
        out += model.predict(x.to(device)).cpu().tolist()
    return out


@dataclass
class ClassificationData:
    """Labelled rows ready for the loop: the training rows and the held-out rows they are scored on."""

    labels: list[str]
    train_rows: list[Row]
    train_labels: list[int]
    eval_rows: list[Row]
    eval_labels: list[int]
    per_label: dict[str, int]
    pad_id: int


def classification_data(
    bundle: ModelBundle,
    examples: Sequence[tuple[str, str]],
    labels: Sequence[str],
    config: FinetuningConfig,
) -> ClassificationData:
    """Sample at most ``max_examples`` (seeded), split off a stratified held-out set, encode."""
    params = config.classification
    examples = list(examples)
    if params.max_examples and len(examples) > params.max_examples:
        picks = np.random.default_rng(config.seed).permutation(len(examples))
        examples = [examples[i] for i in sorted(picks[: params.max_examples])]
    counts = {label: sum(1 for _, lab in examples if lab == label) for label in labels}
    stratify = [lab for _, lab in examples] if min(counts.values()) >= 2 else None
    train_ex, eval_ex = train_test_split(
        examples, test_size=params.eval_fraction, random_state=config.seed, stratify=stratify
    )
    index = {label: i for i, label in enumerate(labels)}
    sp, block = bundle.tokenizer, bundle.config.block_size
    train_rows, train_labels = _classification_rows(sp, train_ex, index, block)
    eval_rows, eval_labels = _classification_rows(sp, eval_ex, index, block)
    return ClassificationData(
        list(labels),
        train_rows,
        train_labels,
        eval_rows,
        eval_labels,
        counts,
        special_token_id(sp, PAD),
    )


def fit_classifier(
    backbone: GPT,
    data: ClassificationData,
    config: FinetuningConfig,
    out_dir: Path,
    callbacks: Sequence[TrainCallback] = (),
    adapt: bool = True,
) -> tuple[GPTClassifier, TrainResult, dict[str, Any]]:
    """Put a head on ``backbone`` (adapted as configured, or fully trained), train it with the one
    loop on the training rows, keep the best held-out checkpoint."""
    info = prepare_backbone(backbone, config) if adapt else {"mode": "full"}
    model = GPTClassifier(backbone, len(data.labels), data.pad_id, config.classification.pooling)
    batch = config.training.batch_size
    result = train_and_restore(
        model,
        PaddedBatches(data.train_rows, batch, data.pad_id, seed=config.seed),
        RowsEvaluator(data.eval_rows, batch, data.pad_id),
        config,
        out_dir,
        callbacks,
        {**backbone.config.to_dict(), "num_labels": len(data.labels)},
    )
    finalize_backbone(model.backbone)
    return model, result, info


def score_classifier(model: GPTClassifier, data: ClassificationData, batch: int) -> dict[str, Any]:
    """Accuracy, macro-F1 and the confusion matrix on the held-out rows."""
    predicted = predict_labels(model, data.eval_rows, batch)
    return classification_metrics(data.eval_labels, predicted, data.labels)


def scratch_baseline(
    bundle: ModelBundle, data: ClassificationData, config: FinetuningConfig, steps: int
) -> dict[str, Any]:
    """The same architecture from random weights, trained for the same optimizer steps (a
    wall-clock budget would depend on the machine's load)."""
    same_steps = config.training.model_copy(
        update={"max_steps": max(steps, 1), "max_minutes": None, "max_tokens": None}
    )
    scratch_config = config.model_copy(update={"training": same_steps})
    torch.manual_seed(config.seed)
    model, run, _ = fit_classifier(
        GPT(copy.deepcopy(bundle.config)),
        data,
        scratch_config,
        Path(config.checkpoint_dir) / "scratch",
        adapt=False,
    )
    return {**score_classifier(model, data, config.training.batch_size), "steps": run.step}


def run_classification(
    bundle: ModelBundle,
    examples: Sequence[tuple[str, str]],
    labels: Sequence[str],
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback] = (),
) -> TaskResult:
    """A classification head on the backbone; baselines: majority class and from scratch."""
    data = classification_data(bundle, examples, labels, config)
    out_dir = Path(config.checkpoint_dir)
    model, result, adapt = fit_classifier(
        copy.deepcopy(bundle.model), data, config, out_dir, callbacks
    )
    finetuned = score_classifier(model, data, config.training.batch_size)
    majority = classification_metrics(
        data.eval_labels, majority_baseline(data.train_labels, data.eval_labels), data.labels
    )
    evaluator = RowsEvaluator(data.eval_rows, config.training.batch_size, data.pad_id)
    metrics = {
        "accuracy": finetuned["accuracy"],
        "macro_f1": finetuned["macro_f1"],
        "eval_loss": eval_loss(model, evaluator, config),
        "majority_accuracy": majority["accuracy"],
        "majority_macro_f1": majority["macro_f1"],
    }
    report: dict[str, Any] = {
        "task": "classification",
        "labels": data.labels,
        "examples": {
            "train": len(data.train_rows),
            "eval": len(data.eval_rows),
            "per_label": data.per_label,
        },
        "adaptation": adapt,
        "finetuned": finetuned,
        "majority_baseline": majority,
        "training": {k: v for k, v in result.to_dict().items() if k not in {"history", "evals"}},
    }
    if config.classification.scratch_baseline:
        scratch = scratch_baseline(bundle, data, config, result.step)
        metrics.update(scratch_accuracy=scratch["accuracy"], scratch_macro_f1=scratch["macro_f1"])
        report["scratch_baseline"] = scratch
    report["metrics"] = metrics
    classifier = {"labels": data.labels, **model.head_state()}
    info = finetuned_info(
        bundle, config, result, metrics=metrics, adaptation=adapt, classifier=classifier
    )
    title = f"fine-tuned: accuracy {finetuned['accuracy']:.3f}"
    return TaskResult(
        ModelBundle(model.backbone.cpu(), bundle.tokenizer, info),
        report,
        metrics,
        figure=confusion_figure(finetuned["confusion_matrix"], data.labels, title),
        history=result.to_dict(),
    )


def load_classifier(bundle: ModelBundle) -> tuple[GPTClassifier, list[str]]:
    """The classifier stored in a fine-tuned bundle (backbone + head from ``info``)."""
    state = bundle.info.get("classifier")
    if not state:
        raise ValueError("this model bundle holds no classification head")
    return GPTClassifier.from_head_state(bundle.model, state), list(state["labels"])
