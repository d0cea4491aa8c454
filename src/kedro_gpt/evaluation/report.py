"""Reports for people: models side by side (Markdown and a plot) and the model card."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


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
