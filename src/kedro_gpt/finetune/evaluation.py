"""Scoring any model on held-out text, chat-style task sets and prompts; thresholds; reports."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from kedro_gpt.finetune.batches import RowsEvaluator
from kedro_gpt.finetune.config import GenerationParams
from kedro_gpt.finetune.metrics import classification_metrics
from kedro_gpt.finetune.tasks import conversation_rows, generation_report
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.tokenizer.chat import Message
from kedro_gpt.tokenizer.special_tokens import PAD, special_token_id
from kedro_gpt.training.device import resolve_precision
from kedro_gpt.training.distributed import DistContext
from kedro_gpt.training.evaluate import ShardEvaluator


def text_scores(bundle: ModelBundle, text: str, batch_size: int, device: str = "auto"):
    """Perplexity, bits per token / character / byte of ``text``, every token scored once."""
    ids = np.asarray(bundle.tokenizer.encode(text), dtype=np.int64)
    meta = {"text_chars": len(text), "text_bytes": len(text.encode())}
    block = bundle.config.block_size
    evaluator = ShardEvaluator([ids], meta, block, batch_size, 1, seed=0)
    precision = resolve_precision(device, "auto")
    model = bundle.model.to(precision.device)
    out = evaluator.evaluate(model, precision, DistContext(), full=True)
    return {k: v for k, v in out.items() if k != "final"}


def chat_scores(
    bundle: ModelBundle,
    conversations: Sequence[Sequence[Message]],
    batch_size: int,
    generation: GenerationParams,
    device: str = "auto",
) -> tuple[dict[str, float], list[dict[str, str]]]:
    """Response loss (assistant tokens only) and BLEU / chrF of greedy answers."""
    sp = bundle.tokenizer
    rows, _ = conversation_rows(sp, conversations, bundle.config.block_size)
    evaluator = RowsEvaluator(rows, batch_size, special_token_id(sp, PAD))
    precision = resolve_precision(device, "auto")
    model = bundle.model.to(precision.device)
    loss = evaluator.evaluate(model, precision, DistContext(), full=True)["loss"]
    scores, samples = generation_report(model, sp, conversations, generation)
    return {"response_loss": loss, "response_perplexity": math.exp(min(loss, 700)), **scores}, (
        samples
    )


def classifier_scores(
    bundle: ModelBundle, examples: Sequence[tuple[str, str]], batch_size: int
) -> dict[str, float]:
    """Accuracy and macro-F1 of a bundle's classification head; unknown labels are errors."""
    from kedro_gpt.finetune.batches import classification_row
    from kedro_gpt.finetune.tasks import load_classifier, predict_labels

    model, labels = load_classifier(bundle)
    index = {label: i for i, label in enumerate(labels)}
    rows, truth = [], []
    for text, label in examples:
        if label not in index:
            raise ValueError(f"label {label!r} is not one the model knows ({', '.join(labels)})")
        row = classification_row(
            bundle.tokenizer.encode(text), index[label], bundle.config.block_size
        )
        if row is not None:
            rows.append(row)
            truth.append(index[label])
    scores = classification_metrics(truth, predict_labels(model, rows, batch_size), labels)
    return {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}


def check_thresholds(
    metrics: Mapping[str, float], thresholds: Mapping[str, Mapping[str, float]]
) -> list[str]:
    """The thresholds a model fails, as sentences (``{"metric": {"min": x, "max": y}}``)."""
    failed = []
    for name, bounds in thresholds.items():
        value = metrics.get(name)
        if value is None or not math.isfinite(value):
            failed.append(f"{name}: no value was measured")
            continue
        if "min" in bounds and value < bounds["min"]:
            failed.append(f"{name} = {value:.4g} is below the minimum {bounds['min']}")
        if "max" in bounds and value > bounds["max"]:
            failed.append(f"{name} = {value:.4g} is above the maximum {bounds['max']}")
    return failed


def markdown_report(
    results: Mapping[str, Mapping[str, float]],
    contamination: Mapping[str, Mapping[str, float]],
    warnings: Sequence[str],
    promotion: Mapping[str, Any],
    generations: Mapping[str, Mapping[str, str]],
) -> str:
    """Models side by side: one column per model, one row per metric."""
    models = list(results)
    metrics = sorted({m for r in results.values() for m in r})
    lines = ["# Model evaluation", "", "| metric | " + " | ".join(models) + " |"]
    lines.append("|---|" + "---|" * len(models))
    for metric in metrics:
        cells = [f"{results[m][metric]:.4g}" if metric in results[m] else "–" for m in models]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    lines += ["", "## Contamination (word n-gram overlap with the training split)", ""]
    lines += ["| evaluation set | n | overlap | texts touched |", "|---|---|---|---|"]
    for name, c in contamination.items():
        lines.append(
            f"| {name} | {int(c['ngram'])} | {c['overlap']:.2%} | {c['texts_with_overlap']:.2%} |"
        )
    lines += [f"- **warning**: {w}" for w in warnings] or ["", "No set above the threshold."]
    lines += ["", "## Promotion", ""]
    if not promotion.get("enabled"):
        lines.append("Promotion is disabled.")
    elif promotion.get("promoted"):
        lines.append(
            f"`{promotion['model']}` passed every threshold and is now "
            f"`{promotion['registered_model']}@{promotion['alias']}` "
            f"(version {promotion['registered_version']})."
        )
    else:
        lines.append(f"`{promotion.get('model')}` was not promoted:")
        lines += [f"- {reason}" for reason in promotion.get("failed", [])]
    lines += ["", "## Generations", ""]
    for model, outputs in generations.items():
        for prompt, text in outputs.items():
            lines += [f"**{model}** — `{prompt!r}`", "", "```", f"{prompt}{text}", "```", ""]
    return "\n".join(lines) + "\n"


def comparison_figure(results: Mapping[str, Mapping[str, float]]) -> Figure:
    """A bar group per metric (metrics in bits or nats, where lower is better)."""
    models = list(results)
    metrics = sorted(
        {m for r in results.values() for m in r if m.endswith(("bits_per_char", "loss", "chrf"))}
    )
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(metrics) + 2), 4))
    width = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        values = [results[model].get(m, float("nan")) for m in metrics]
        ax.bar(np.arange(len(metrics)) + i * width, values, width, label=model)
    ax.set_xticks(np.arange(len(metrics)) + 0.4 - width / 2, metrics, rotation=30, ha="right")
    ax.set_title("models side by side")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def model_card(
    name: str,
    metrics: Mapping[str, float],
    info: Mapping[str, Any],
    lineage: Mapping[str, str],
    parameters: Mapping[str, Any],
    git_commit: str,
) -> str:
    """A Markdown model card: what the model is, how it scored, what made it."""
    import json

    config = info.get("model_config") or {}
    lines = [
        f"# Model card: {name}",
        "",
        f"- registered: `{lineage.get('registered_model')}` version "
        f"`{lineage.get('registered_version')}` (run `{lineage.get('run_id')}`)",
        f"- catalog version: `{lineage.get('catalog_version', 'n/a')}`",
        f"- made by: {info.get('source', 'unknown')} ({info.get('step')} steps, "
        f"{info.get('tokens')} tokens)",
        f"- tokenizer sha256: `{info.get('tokenizer_sha256')}`",
        f"- git commit: `{git_commit}`",
        "",
        "## Metrics",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {k} | {v:.4g} |" for k, v in sorted(metrics.items())),
        "",
        "## Architecture",
        "",
        "```json",
        json.dumps(config, indent=2, sort_keys=True),
        "```",
        "",
        "## Evaluation parameters",
        "",
        "```json",
        json.dumps(parameters, indent=2, sort_keys=True, default=str),
        "```",
    ]
    return "\n".join(lines) + "\n"
