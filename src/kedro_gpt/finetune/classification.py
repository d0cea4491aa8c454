"""Classification: a head on the pooled hidden states of the backbone. Three splits: train, val
(picks the best checkpoint) and a fixed test split that only reports; the baselines (majority class,
TF-IDF + LR, NB-weighted LR, the same model from scratch) are scored on the same test split."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from kedro_gpt.evaluation.baselines import nb_logreg, tfidf_logreg
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


def _classification_rows(
    sp: Any, examples, label_index: dict[str, int], block: int
) -> LabelledRows:
    out = LabelledRows([], [], [])
    for text, label in examples:
        row = classification_row(sp.encode(text), label_index[label], block)
        if row is not None:
            out.rows.append(row)
            out.labels.append(label_index[label])
            out.texts.append(text)
    return out


@torch.no_grad()
def predict_labels(model: GPTClassifier, rows: Sequence[Row], batch_size: int) -> list[int]:
    device = next(model.parameters()).device
    out: list[int] = []
    for x, _ in fixed_batches(rows, batch_size, model.pad_id):
        out += model.predict(x.to(device)).cpu().tolist()
    return out


@dataclass
class LabelledRows:
    """Encoded examples with their label indices (and texts, for the classic baselines)."""

    rows: list[Row]
    labels: list[int]
    texts: list[str]


@dataclass
class ClassificationData:
    """Three splits: train (trained on), val (picks the best checkpoint), test (reported only)."""

    labels: list[str]
    train: LabelledRows
    val: LabelledRows
    test: LabelledRows
    per_label: dict[str, int]
    pad_id: int


def _stratified_split(examples: list, fraction: float, seed: int) -> tuple[list, list]:
    labels = [lab for _, lab in examples]
    stratify = labels if min(labels.count(lab) for lab in set(labels)) >= 2 else None
    return train_test_split(examples, test_size=fraction, random_state=seed, stratify=stratify)


def classification_data(
    bundle: ModelBundle,
    examples: Sequence[tuple[str, str]],
    labels: Sequence[str],
    config: FinetuningConfig,
) -> ClassificationData:
    """Split off the fixed test set (``split_seed``), sample at most ``max_examples`` of the rest
    (``seed``), split off the validation set, encode each split."""
    params = config.classification
    pool, test_ex = _stratified_split(list(examples), params.test_fraction, params.split_seed)
    if params.max_examples and len(pool) > params.max_examples:
        picks = np.random.default_rng(config.seed).permutation(len(pool))
        pool = [pool[i] for i in sorted(picks[: params.max_examples])]
    train_ex, val_ex = _stratified_split(pool, params.val_fraction, config.seed)
    index = {label: i for i, label in enumerate(labels)}
    sp, block = bundle.tokenizer, bundle.config.block_size
    return ClassificationData(
        list(labels),
        _classification_rows(sp, train_ex, index, block),
        _classification_rows(sp, val_ex, index, block),
        _classification_rows(sp, test_ex, index, block),
        {label: sum(1 for _, lab in pool if lab == label) for label in labels},
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
        PaddedBatches(data.train.rows, batch, data.pad_id, seed=config.seed),
        RowsEvaluator(data.val.rows, batch, data.pad_id),
        config,
        out_dir,
        callbacks,
        {**backbone.config.to_dict(), "num_labels": len(data.labels)},
    )
    finalize_backbone(model.backbone)
    return model, result, info


def score_classifier(
    model: GPTClassifier, split: LabelledRows, labels: Sequence[str], batch: int
) -> dict[str, Any]:
    """Accuracy, macro-F1 and the confusion matrix on one split."""
    return classification_metrics(split.labels, predict_labels(model, split.rows, batch), labels)


def baselines(data: ClassificationData, classic: bool = True) -> dict[str, dict[str, Any]]:
    """Majority class and (``classic``) TF-IDF + logistic regression and NB-weighted logistic
    regression, trained on the training split and scored on the test split."""
    train, test = data.train, data.test
    predictions = {"majority": majority_baseline(train.labels, test.labels)}
    if classic:
        predictions["tfidf_logreg"] = tfidf_logreg(train.texts, train.labels, test.texts)
        predictions["nb_logreg"] = nb_logreg(train.texts, train.labels, test.texts)
    return {k: classification_metrics(test.labels, p, data.labels) for k, p in predictions.items()}


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
    scores = score_classifier(model, data.test, data.labels, config.training.batch_size)
    return {**scores, "steps": run.step}


def run_classification(
    bundle: ModelBundle,
    examples: Sequence[tuple[str, str]],
    labels: Sequence[str],
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback] = (),
) -> TaskResult:
    """A classification head on the backbone, scored on the test split beside the baselines."""
    data = classification_data(bundle, examples, labels, config)
    out_dir = Path(config.checkpoint_dir)
    model, result, adapt = fit_classifier(
        copy.deepcopy(bundle.model), data, config, out_dir, callbacks
    )
    batch = config.training.batch_size
    finetuned = score_classifier(model, data.test, data.labels, batch)
    val = score_classifier(model, data.val, data.labels, batch)
    reference = baselines(data, config.classification.classic_baselines)
    metrics = {
        "accuracy": finetuned["accuracy"],
        "macro_f1": finetuned["macro_f1"],
        "val_accuracy": val["accuracy"],
        "val_loss": eval_loss(model, RowsEvaluator(data.val.rows, batch, data.pad_id), config),
    }
    for name, scores in reference.items():
        metrics.update(
            {f"{name}_accuracy": scores["accuracy"], f"{name}_macro_f1": scores["macro_f1"]}
        )
    report: dict[str, Any] = {
        "task": "classification",
        "labels": data.labels,
        "examples": {
            "train": len(data.train.rows),
            "val": len(data.val.rows),
            "test": len(data.test.rows),
            "per_label_train_pool": data.per_label,
        },
        "adaptation": adapt,
        "finetuned": finetuned,
        "baselines": reference,
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
