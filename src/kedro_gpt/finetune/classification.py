"""Classification: a head on the pooled hidden states of the backbone. Three splits: train, val
(picks the best checkpoint) and a fixed test split that only reports; the baselines (majority class,
TF-IDF + LR, NB-weighted LR, the same model from scratch) are scored on the same test split.

With ``classification.ensemble`` above 1, member m draws its own train/val split of the pool and
fits on it; the members' label probabilities are averaged (the scratch baseline likewise)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
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
    classifier_ids,
    fixed_batches,
)
from kedro_gpt.finetune.config import ClassificationParams, FinetuneTrainConfig, FinetuningConfig
from kedro_gpt.finetune.fit import TaskResult, eval_loss, finetuned_info, train_and_restore
from kedro_gpt.finetune.task_text import tune_on_task_text
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.classifier import ClassifierEnsemble, GPTClassifier, classifier_from_state
from kedro_gpt.model.gpt import GPT
from kedro_gpt.text.detokenize import detokenized
from kedro_gpt.tokenizer.files import tokenizer_sha256
from kedro_gpt.tokenizer.special_tokens import PAD, special_token_id
from kedro_gpt.training.callbacks import TrainCallback
from kedro_gpt.training.result import TrainResult


def _classification_rows(
    sp: Any, examples, label_index: dict[str, int], block: int, start_token: bool = False
) -> LabelledRows:
    out = LabelledRows([], [], [])
    head = {"start_token": start_token}  # the texts are already detokenized where asked
    for text, label in examples:
        row = classification_row(classifier_ids(sp, text, head), label_index[label], block)
        if row is not None:
            out.rows.append(row)
            out.labels.append(label_index[label])
            out.texts.append(text)
    return out


Classifier = GPTClassifier | ClassifierEnsemble


@torch.no_grad()
def predict_labels(model: Classifier, rows: Sequence[Row], batch_size: int) -> list[int]:
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
    if params.detokenize:
        examples = [(detokenized(text), label) for text, label in examples]
    pool, test_ex = _stratified_split(list(examples), params.test_fraction, params.split_seed)
    if params.max_examples and len(pool) > params.max_examples:
        picks = np.random.default_rng(config.seed).permutation(len(pool))
        pool = [pool[i] for i in sorted(picks[: params.max_examples])]
    train_ex, val_ex = _stratified_split(pool, params.val_fraction, config.seed)
    index = {label: i for i, label in enumerate(labels)}
    sp, block, start = bundle.tokenizer, bundle.config.block_size, params.start_token
    return ClassificationData(
        list(labels),
        _classification_rows(sp, train_ex, index, block, start),
        _classification_rows(sp, val_ex, index, block, start),
        _classification_rows(sp, test_ex, index, block, start),
        {label: sum(1 for _, lab in pool if lab == label) for label in labels},
        special_token_id(sp, PAD),
    )


@dataclass
class Phase:
    """One call of the training loop: which parameter levels train (from the top: head, top
    block, ..., embeddings; None = all) and its share of the budget (or a step count)."""

    name: str
    levels: int | None
    share: float = 1.0
    steps: int | None = None


def phases(params: ClassificationParams, n_layer: int) -> list[Phase]:
    """Head warm-up, then gradual unfreezing (one more level per phase) or one full phase."""
    plan = [Phase("head", 1, steps=params.head_warmup_steps)] if params.head_warmup_steps else []
    if not params.gradual_unfreezing:
        return [*plan, Phase("all", None)]
    count = n_layer + 1  # head + top block, ..., + every block, then the embeddings too
    return [*plan, *(Phase(f"top{k}", k + 1, share=1 / count) for k in range(1, count + 1))]


def _phase_budget(training: FinetuneTrainConfig, phase: Phase) -> FinetuneTrainConfig:
    if phase.steps is not None:
        update = {"max_steps": phase.steps, "max_tokens": None, "max_minutes": None}
        return training.model_copy(update={**update, "max_epochs": None})
    scaled = {
        "max_steps": max(1, round(training.max_steps * phase.share))
        if training.max_steps
        else None,
        "max_tokens": max(1, round(training.max_tokens * phase.share))
        if training.max_tokens
        else None,
        "max_minutes": training.max_minutes * phase.share if training.max_minutes else None,
        "max_epochs": training.max_epochs * phase.share if training.max_epochs else None,
    }
    return training.model_copy(update=scaled)


def _train_only(model: GPTClassifier, levels: int | None) -> None:
    for i, level in enumerate(model.param_levels()):
        for param in level:
            param.requires_grad_(levels is None or i < levels)


def fit_classifier(
    backbone: GPT,
    data: ClassificationData,
    config: FinetuningConfig,
    out_dir: Path,
    callbacks: Sequence[TrainCallback] = (),
    adapt: bool = True,
) -> tuple[GPTClassifier, TrainResult, dict[str, Any]]:
    """Put a head on ``backbone`` and train it with the one loop, phase by phase (head warm-up,
    gradual unfreezing; discriminative learning rates throughout), each phase keeping its best
    held-out checkpoint. ``adapt=False``: the whole model at once, one learning rate (scratch)."""
    params = config.classification
    if adapt:
        info = prepare_backbone(backbone, config)
    else:  # from scratch: the whole model, the same regularization
        info = {"mode": "full"}
        backbone.set_dropout(backbone.config.dropout if config.dropout is None else config.dropout)
    trainable = {id(p) for p in backbone.parameters() if p.requires_grad}  # LoRA / freeze
    model = GPTClassifier(
        backbone,
        len(data.labels),
        data.pad_id,
        params.pooling,
        layer_lr_decay=params.layer_lr_decay if adapt else 1.0,
        lm_loss_weight=params.lm_loss_weight,
    )
    batch = config.training.batch_size
    plan = phases(params, backbone.config.n_layer) if adapt else [Phase("all", None)]
    results = []
    for i, phase in enumerate(plan):
        _train_only(model, phase.levels)
        for param in backbone.parameters():
            param.requires_grad_(param.requires_grad and id(param) in trainable)
        phase_config = config.model_copy(update={"training": _phase_budget(config.training, phase)})
        results.append(
            train_and_restore(
                model,
                PaddedBatches(data.train.rows, batch, data.pad_id, seed=config.seed + i),
                RowsEvaluator(data.val.rows, batch, data.pad_id),
                phase_config,
                out_dir / phase.name if len(plan) > 1 else out_dir,
                callbacks,
                {**backbone.config.to_dict(), "num_labels": len(data.labels)},
            )
        )
    finalize_backbone(model.backbone)
    for param in model.head.parameters():
        param.requires_grad_(True)
    if len(plan) > 1 or params.layer_lr_decay != 1.0:
        info["phases"] = [
            {"name": ph.name, "steps": r.step, "best_val_loss": r.best_val_loss}
            for ph, r in zip(plan, results, strict=True)
        ]
        info["layer_lr_decay"] = model.layer_lr_decay
    return model, _combined(results), info


@dataclass
class Fitted:
    """The restart kept: its classifier, run, adaptation info and scores on the validation and
    test splits, and every restart's figures."""

    model: GPTClassifier
    result: TrainResult
    info: dict[str, Any]
    val: dict[str, Any]
    test: dict[str, Any]
    restarts: list[dict[str, Any]]


def fit_restarts(
    make_backbone: Callable[[], GPT],
    data: ClassificationData,
    config: FinetuningConfig,
    out_dir: Path,
    callbacks: Sequence[TrainCallback] = (),
    adapt: bool = True,
) -> Fitted:
    """``classification.restarts`` fits on the same splits, restart k seeded with ``seed + k``
    (the head's initial weights, a scratch backbone's, the batch order and dropout); keeps the
    one with the best validation accuracy, then the lowest validation loss. The test split
    picks nothing: each restart's test accuracy is only reported."""
    count = config.classification.restarts
    kept: tuple[Any, ...] | None = None
    kept_row: dict[str, Any] = {}
    table: list[dict[str, Any]] = []
    for k in range(count):
        seed = config.seed + k
        training = config.training.model_copy(update={"seed": seed})
        seeded = config.model_copy(update={"seed": seed, "training": training})
        torch.manual_seed(seed)
        folder = out_dir / f"restart{k}" if count > 1 else out_dir
        model, result, info = fit_classifier(
            make_backbone(), data, seeded, folder, callbacks, adapt
        )
        val = score_classifier(model, data.val, data.labels, training.batch_size)
        test = score_classifier(model, data.test, data.labels, training.batch_size)
        row = {
            "seed": seed,
            "val_accuracy": val["accuracy"],
            "best_val_loss": result.best_val_loss,
            "steps": result.step,
            "kept": False,
            # reported only, so the spread of restarts (and what the choice gained) can be seen
            "test_accuracy": test["accuracy"],
        }
        table.append(row)
        if kept is None or _rank(row) > _rank(kept_row):
            kept, kept_row = (model, result, info, val, test), row
    assert kept is not None
    kept_row["kept"] = True
    return Fitted(*kept, table)


def _rank(row: dict[str, Any]) -> tuple[float, float]:
    """Higher is better: validation accuracy, then the lower validation loss."""
    loss = row["best_val_loss"]
    return row["val_accuracy"], -(loss if loss is not None else float("inf"))


def _combined(results: list[TrainResult]) -> TrainResult:
    """The phases as one run: their steps, tokens and time added up, the last phase's rest."""
    last = results[-1]
    if len(results) == 1:
        return last
    return dataclasses.replace(
        last,
        step=sum(r.step for r in results),
        tokens=sum(r.tokens for r in results),
        elapsed_s=sum(r.elapsed_s for r in results),
    )


def score_classifier(
    model: Classifier, split: LabelledRows, labels: Sequence[str], batch: int
) -> dict[str, Any]:
    """Accuracy, macro-F1 and the confusion matrix on one split."""
    return classification_metrics(split.labels, predict_labels(model, split.rows, batch), labels)


def baselines(
    data: ClassificationData, classic: bool = True, whole_pool: bool = False
) -> dict[str, dict[str, Any]]:
    """Majority class and (``classic``) TF-IDF + logistic regression and NB-weighted logistic
    regression, trained on the training split (``whole_pool``: and the validation split, all an
    ensemble's members together learned from) and scored on the test split."""
    texts, labels, test = data.train.texts, data.train.labels, data.test
    if whole_pool:
        texts, labels = texts + data.val.texts, labels + data.val.labels
    predictions = {"majority": majority_baseline(labels, test.labels)}
    if classic:
        predictions["tfidf_logreg"] = tfidf_logreg(texts, labels, test.texts)
        predictions["nb_logreg"] = nb_logreg(texts, labels, test.texts)
    return {k: classification_metrics(test.labels, p, data.labels) for k, p in predictions.items()}


def scratch_baseline(
    bundle: ModelBundle, data: ClassificationData, config: FinetuningConfig, steps: int
) -> tuple[Classifier, dict[str, Any]]:
    """The same architecture from random weights, trained for the same optimizer steps (a
    wall-clock budget would depend on the machine's load), as many restarts and, when asked
    for, the same task-text stage first."""
    folder = Path(config.checkpoint_dir) / "scratch"
    same_steps = config.training.model_copy(
        update={"max_steps": max(steps, 1), "max_minutes": None, "max_tokens": None}
    )
    scratch_config = config.model_copy(update={"training": same_steps})
    start, task_text = None, None
    if config.classification.task_text_epochs:  # the same stage on the task's texts first
        torch.manual_seed(config.seed)
        start, task_text = task_text_start(GPT(copy.deepcopy(bundle.config)), data, config, folder)

    def make_backbone() -> GPT:
        return copy.deepcopy(start) if start is not None else GPT(copy.deepcopy(bundle.config))

    fitted = fit_restarts(make_backbone, data, scratch_config, folder, adapt=False)
    scores = {**fitted.test, "steps": fitted.result.step, "restarts": fitted.restarts}
    return fitted.model, {**scores, "task_text": task_text}


def task_text_start(
    model: GPT, data: ClassificationData, config: FinetuningConfig, folder: Path
) -> tuple[GPT, dict[str, Any] | None]:
    """``model`` trained on the training split's texts (``classification.task_text_epochs``;
    checkpoints under ``folder``/task_text), or itself when that is 0; and what the stage did."""
    epochs = config.classification.task_text_epochs
    if not epochs:
        return model, None
    stage = config.model_copy(update={"checkpoint_dir": str(folder)})
    return tune_on_task_text(model, data.train.rows, data.val.rows, data.pad_id, stage, epochs)


@dataclass
class Member:
    """One classifier of the (possibly one-member) ensemble: its splits, its kept fit, what its
    task-text stage did, and its scratch twin's model and report."""

    data: ClassificationData
    fitted: Fitted
    task_text: dict[str, Any] | None
    scratch: tuple[Classifier, dict[str, Any]] | None


def member_config(config: FinetuningConfig, m: int, backward: bool = False) -> FinetuningConfig:
    """Member ``m``'s config: seed ``seed + m * restarts`` (its split, and its restarts' seeds
    after it) and its own checkpoint folder when there are several members. A backward member
    (the twin of forward member ``m``, same seed and split) works under ``backward/``."""
    root = Path(config.checkpoint_dir) / "backward" if backward else Path(config.checkpoint_dir)
    if config.classification.ensemble == 1:
        return config.model_copy(update={"checkpoint_dir": str(root)}) if backward else config
    seed = config.seed + m * config.classification.restarts
    folder = str(root / f"member{m}")
    return config.model_copy(update={"seed": seed, "checkpoint_dir": folder})


def check_backward(bundle: ModelBundle, backward: ModelBundle) -> None:
    """A second direction must read backwards, and with the forward model's tokenizer (one
    tokenizer serves the joined classifier)."""
    if bundle.config.reverse or not backward.config.reverse:
        raise ValueError(
            "a bidirectional fine-tune takes a forward model and a backward one (reverse: true); "
            f"got reverse={bundle.config.reverse} and reverse={backward.config.reverse}"
        )
    if tokenizer_sha256(bundle.tokenizer) != tokenizer_sha256(backward.tokenizer):
        raise ValueError(
            "the backward model was trained with another tokenizer than the forward model's; "
            "train it on the forward model's token shards (kedro run --pipelines=backward)"
        )


def fit_member(
    bundle: ModelBundle,
    examples: Sequence[tuple[str, str]],
    labels: Sequence[str],
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback] = (),
) -> Member:
    """Split (the test split is the same for every seed), fit with restarts, and train the
    scratch twin for the same steps when asked."""
    data = classification_data(bundle, examples, labels, config)
    out_dir = Path(config.checkpoint_dir)
    start, task_text = task_text_start(bundle.model, data, config, out_dir)
    fitted = fit_restarts(lambda: copy.deepcopy(start), data, config, out_dir, callbacks)
    scratch = None
    if config.classification.scratch_baseline:
        scratch = scratch_baseline(bundle, data, config, fitted.result.step)
    return Member(data, fitted, task_text, scratch)


def ensemble_of(models: Sequence[GPTClassifier]) -> Classifier:
    """One classifier as itself, several as their probability average."""
    return models[0] if len(models) == 1 else ClassifierEnsemble(models)


def run_classification(
    bundle: ModelBundle,
    examples: Sequence[tuple[str, str]],
    labels: Sequence[str],
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback] = (),
    backward: ModelBundle | None = None,
) -> TaskResult:
    """A classification head on the backbone (or ``ensemble`` of them), scored on the test
    split beside the baselines. With ``backward`` (a backward language model on the same
    tokenizer: ULMFiT's bidirectional classifier), each member has a backward twin fitted on
    the same split, and the ensemble averages both directions."""
    params, batch = config.classification, config.training.batch_size
    members = _fit_members(bundle, examples, labels, config, callbacks, backward)
    first, several = members[0], len(members) > 1
    data = first.data  # the test split is every member's
    models = [m.fitted.model for m in members]
    result = _combined([m.fitted.result for m in members])
    table = [_member_row(m, config) for m in members]
    finetuned = (
        score_classifier(ensemble_of(models), data.test, data.labels, batch)
        if several
        else first.fitted.test
    )
    reference = baselines(data, params.classic_baselines, whole_pool=several)
    metrics = _metrics(finetuned, table, first.task_text, reference)
    report = _report(first, table, finetuned, reference, result)
    if backward is not None:
        report["directions"] = _by_direction(models, data, batch)
        metrics.update({f"{d}_accuracy": r["accuracy"] for d, r in report["directions"].items()})
    if params.scratch_baseline:
        report["scratch_baseline"] = _scratch_scores(members, data, batch, backward, metrics)
    report["metrics"] = metrics
    info = finetuned_info(
        bundle,
        config,
        result,
        metrics=metrics,
        adaptation=first.fitted.info,
        classifier=_head_info(models, data.labels, params),
    )
    title = f"fine-tuned: accuracy {finetuned['accuracy']:.3f}"
    backbones = [m.backbone.cpu() for m in models]
    return TaskResult(
        ModelBundle(backbones[0], bundle.tokenizer, info, backbones[1:]),
        report,
        metrics,
        figure=confusion_figure(finetuned["confusion_matrix"], data.labels, title),
        history=result.to_dict(),
    )


def _fit_members(
    bundle: ModelBundle,
    examples: Sequence[tuple[str, str]],
    labels: Sequence[str],
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback],
    backward: ModelBundle | None,
) -> list[Member]:
    """The ``ensemble`` members on ``bundle``, then (with ``backward``) their backward twins."""
    bases = [(bundle, False)]
    if backward is not None:
        check_backward(bundle, backward)
        bases.append((backward, True))
    return [
        fit_member(base, examples, labels, member_config(config, m, reverse), callbacks)
        for base, reverse in bases
        for m in range(config.classification.ensemble)
    ]


def _report(
    first: Member,
    table: list[dict[str, Any]],
    finetuned: dict[str, Any],
    reference: dict[str, dict[str, Any]],
    result: TrainResult,
) -> dict[str, Any]:
    """The report's common part: the split sizes, the first member's adaptation, task-text stage
    and restarts, the members' rows (when several), the test scores and the baselines."""
    data = first.data
    return {
        "task": "classification",
        "labels": data.labels,
        "examples": {
            "train": len(data.train.rows),
            "val": len(data.val.rows),
            "test": len(data.test.rows),
            "per_label_train_pool": data.per_label,
        },
        "adaptation": first.fitted.info,
        "task_text": first.task_text,
        "restarts": first.fitted.restarts,
        **({"members": table} if len(table) > 1 else {}),
        "finetuned": finetuned,
        "baselines": reference,
        "training": {k: v for k, v in result.to_dict().items() if k not in {"history", "evals"}},
    }


def _scratch_scores(
    members: Sequence[Member],
    data: ClassificationData,
    batch: int,
    backward: ModelBundle | None,
    metrics: dict[str, float],
) -> dict[str, Any]:
    """The scratch twins' report (by direction with ``backward``); their scores go into
    ``metrics``."""
    scratch = _scratch_report(members, data, batch)
    metrics.update(scratch_accuracy=scratch["accuracy"], scratch_macro_f1=scratch["macro_f1"])
    if backward is not None:
        twins = [m.scratch[0] for m in members if m.scratch is not None]
        scratch["directions"] = _by_direction(twins, data, batch)
        metrics.update(
            {f"scratch_{d}_accuracy": r["accuracy"] for d, r in scratch["directions"].items()}
        )
    return scratch


def _metrics(
    finetuned: dict[str, Any],
    table: list[dict[str, Any]],
    task_text: dict[str, Any] | None,
    reference: dict[str, dict[str, Any]],
) -> dict[str, float]:
    """The run's MLflow metrics: test scores, the members' validation means (one member: its
    own), the members' mean test accuracy when several, the task-text stage, the baselines."""
    metrics = {
        "accuracy": finetuned["accuracy"],
        "macro_f1": finetuned["macro_f1"],
        "val_accuracy": float(np.mean([row["val_accuracy"] for row in table])),
        "val_loss": float(np.mean([row["val_loss"] for row in table])),
    }
    if len(table) > 1:
        metrics["members_mean_accuracy"] = float(np.mean([r["test_accuracy"] for r in table]))
    if task_text:
        metrics.update(
            task_text_val_loss_before=task_text["val_loss_before"],
            task_text_val_loss=task_text["val_loss_after"],
        )
    for name, scores in reference.items():
        metrics.update(
            {f"{name}_accuracy": scores["accuracy"], f"{name}_macro_f1": scores["macro_f1"]}
        )
    return metrics


def _head_info(
    models: Sequence[GPTClassifier], labels: list[str], params: ClassificationParams
) -> dict[str, Any]:
    """What the saved model's ``info.classifier`` holds: the labels, the first head, how texts
    are read, and the further members' heads under ``ensemble``."""
    return {
        "labels": labels,
        **models[0].head_state(),
        "detokenize": params.detokenize,
        "start_token": params.start_token,
        **({"ensemble": [m.head_state() for m in models[1:]]} if len(models) > 1 else {}),
    }


def _by_direction(
    models: Sequence[Classifier], data: ClassificationData, batch: int
) -> dict[str, dict[str, Any]]:
    """The test scores of the forward members' ensemble and of the backward members'."""
    out = {}
    for name, reverse in (("forward", False), ("backward", True)):
        chosen = [m for m in models if _reads_backwards(m) == reverse]
        out[name] = score_classifier(ensemble_of(chosen), data.test, data.labels, batch)
    return out


def _reads_backwards(model: Classifier) -> bool:
    first = model.members[0] if isinstance(model, ClassifierEnsemble) else model
    return first.config.reverse


def _member_row(member: Member, config: FinetuningConfig) -> dict[str, Any]:
    """A member's seed, scores (validation on its own split) and steps."""
    fitted, data = member.fitted, member.data
    evaluator = RowsEvaluator(data.val.rows, config.training.batch_size, data.pad_id)
    return {
        "seed": fitted.restarts[0]["seed"],
        **({"direction": "backward"} if fitted.model.config.reverse else {}),
        "val_accuracy": fitted.val["accuracy"],
        "val_loss": eval_loss(fitted.model, evaluator, config),
        "test_accuracy": fitted.test["accuracy"],
        "steps": fitted.result.step,
        "restarts": fitted.restarts,
        **({"task_text": member.task_text} if member.task_text else {}),
    }


def _scratch_report(members: list[Member], data: ClassificationData, batch: int) -> dict[str, Any]:
    """The scratch twin's test scores: one member's report, or the scratch ensemble's scores
    beside each member's report."""
    twins = [m.scratch for m in members if m.scratch is not None]
    if len(twins) == 1:
        return twins[0][1]
    model = ensemble_of([model for model, _ in twins])
    scores = score_classifier(model, data.test, data.labels, batch)
    return {**scores, "steps": sum(r["steps"] for _, r in twins), "members": [r for _, r in twins]}


def load_classifier(bundle: ModelBundle) -> tuple[Classifier, list[str]]:
    """The classifier stored in a fine-tuned bundle (backbones + heads from ``info``)."""
    state = bundle.info.get("classifier")
    if not state:
        raise ValueError("this model bundle holds no classification head")
    return classifier_from_state(bundle.backbones, state), list(state["labels"])
