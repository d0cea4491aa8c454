"""Comparison nodes: score models side by side, check contamination, promote the candidate, report."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
from matplotlib.figure import Figure

from kedro_gpt.config import parse_params
from kedro_gpt.evaluation.contamination import corpus_hashes, overlap
from kedro_gpt.evaluation.metrics import text_metrics
from kedro_gpt.evaluation.report import comparison_figure, markdown_report, model_card
from kedro_gpt.evaluation.scores import chat_scores, classifier_scores, text_scores
from kedro_gpt.evaluation.thresholds import check_thresholds
from kedro_gpt.finetune.data import (
    chat_conversations,
    labelled_records,
    pair_conversation,
    read_records,
    resolve,
    text_pairs,
)
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.pipelines.comparison.config import CATALOG, ComparisonConfig
from kedro_gpt.tracking.lineage import git_commit
from kedro_gpt.tracking.metrics import metric_history
from kedro_gpt.tracking.model_source import catalog_model_lineage, load_registered_model
from kedro_gpt.tracking.promotion import record_failure, set_alias

logger = logging.getLogger(__name__)
Files = dict[str, Callable[[], str]]


def _config(params: dict[str, Any]) -> ComparisonConfig:
    return parse_params(ComparisonConfig, params, "comparison")


def _eval_sets(files: Files, config: ComparisonConfig) -> tuple[dict[str, str], dict[str, list]]:
    texts = {}
    for name, spec in config.text_sets.items():
        text = resolve(files, spec.file)
        texts[name] = text[int(len(text) * (1 - spec.tail_fraction)) :]
    chats = {}
    for name, spec in config.chat_sets.items():
        conversations = []
        for file in spec.files:
            conversations += chat_conversations(
                file, resolve(files, file), spec.prompt_keys, spec.response_keys
            )
        chats[name] = conversations[: spec.max_examples]
    for name, spec in config.pair_sets.items():
        pairs = text_pairs(
            spec.file, resolve(files, spec.file), spec.source_column, spec.target_column
        )
        chats[name] = [pair_conversation(a, b, spec.instruction) for a, b in pairs][
            : spec.max_examples
        ]
    return texts, chats


def _label_sets(files: Files, config: ComparisonConfig) -> dict[str, list[tuple[str, str]]]:
    """Labelled texts; a missing column names the file and row (labels are checked per model)."""
    out = {}
    for name, spec in config.label_sets.items():
        text = resolve(files, spec.file)
        seen = {str(r.get(spec.label_column, "")).strip() for _, r in read_records(spec.file, text)}
        examples = labelled_records(spec.file, text, spec.text_column, spec.label_column, seen)
        out[name] = examples[: spec.max_examples]
    return out


def compare_models(
    gpt_model: ModelBundle,
    eval_files: Files,
    split_documents: pq.ParquetFile,
    params: dict,
    registration: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Score every model in ``comparison.models`` on the text sets, chat sets and prompts, and
    measure each set's n-gram overlap with the training split. ``registration`` (retraining:
    the registry version this run made of the ``catalog`` model) is that model's lineage."""
    config = _config(params)
    texts, chats = _eval_sets(eval_files, config)
    labelled = _label_sets(eval_files, config)
    results: dict[str, dict[str, float]] = {}
    generations: dict[str, dict[str, str]] = {}
    models: dict[str, Any] = {}
    for name, source in config.models.items():
        if source == CATALOG:
            bundle = gpt_model
            lineage = (
                _registered_lineage(registration)
                if registration
                else catalog_model_lineage("gpt_model")
            )
        else:
            bundle = load_registered_model(source)
            lineage = bundle.info.get("lineage", {})
        scores: dict[str, float] = {}
        for set_name, text in texts.items():
            for k, v in text_scores(bundle, text, config.batch_size, config.device).items():
                scores[f"{set_name}.{k}"] = v
        for set_name, conversations in chats.items():
            values, _ = chat_scores(
                bundle, conversations, config.batch_size, config.generation, config.device
            )
            scores.update({f"{set_name}.{k}": v for k, v in values.items()})
        for set_name in config.pair_sets:
            scored = chats[set_name][: config.generation.eval_examples]
            if scored:
                copy = text_metrics(
                    [c[-2]["content"] for c in scored], [c[-1]["content"] for c in scored]
                )
                scores.update({f"{set_name}.copy_baseline_{k}": v for k, v in copy.items()})
        if "classifier" in bundle.info:
            for set_name, examples in labelled.items():
                values = classifier_scores(bundle, examples, config.batch_size)
                scores.update({f"{set_name}.{k}": v for k, v in values.items()})
        s = config.samples
        generations[name] = {
            p: bundle.generate_text(
                p, s.max_new_tokens, temperature=s.temperature, top_k=s.top_k, seed=s.seed
            )
            for p in s.prompts
        }
        results[name] = scores
        models[name] = {
            "source": source,
            "lineage": lineage,
            "info": {k: bundle.info.get(k) for k in ("source", "task", "step", "tokens")}
            | {"tokenizer_sha256": bundle.info.get("tokenizer_sha256")},
            "model_config": bundle.config.to_dict(),
        }
        logger.info("evaluated %s: %s", name, scores)
    contamination, warnings = _contamination(split_documents, texts, chats, config)
    report = {
        "models": models,
        "results": results,
        "generations": generations,
        "contamination": contamination,
        "warnings": warnings,
        "parameters": config.model_dump(mode="json"),
    }
    flat = {f"{m}.{k}": v for m, scores in results.items() for k, v in scores.items()}
    flat.update({f"contamination.{k}": c["overlap"] for k, c in contamination.items()})
    return report, metric_history(flat)


def _registered_lineage(registration: dict[str, Any]) -> dict[str, str]:
    if not registration.get("registered", True) or "version" not in registration:
        return {}
    return {
        "registered_model": str(registration["name"]),
        "registered_version": str(registration["version"]),
        "run_id": str(registration.get("run_id") or ""),
    }


def _contamination(split_documents, texts, chats, config: ComparisonConfig):
    n = config.contamination.ngram

    def train_texts():
        for batch in split_documents.iter_batches(batch_size=64, columns=["split", "text"]):
            for split, text in zip(
                batch.column("split").to_pylist(), batch.column("text").to_pylist(), strict=True
            ):
                if split == "train" and text:
                    yield text

    train = corpus_hashes(train_texts(), n)
    sets = {name: [text] for name, text in texts.items()}
    sets.update({name: [m["content"] for c in convs for m in c] for name, convs in chats.items()})
    contamination = {name: overlap(docs, train, n) for name, docs in sets.items()}
    warnings = [
        f"{name}: {c['overlap']:.1%} of its {n}-grams occur in the training split "
        f"(threshold {config.contamination.warn_above:.1%})"
        for name, c in contamination.items()
        if c["overlap"] > config.contamination.warn_above
    ]
    for warning in warnings:
        logger.warning("contamination: %s", warning)
    return contamination, warnings


def promote_model(comparison_report: dict[str, Any], params: dict) -> tuple[dict[str, Any], str]:
    """Give the candidate the alias (``champion``) when it passes every threshold; otherwise say
    which threshold failed. Returns the decision and the model card."""
    config = _config(params)
    p = config.promotion
    if not p.enabled:
        return {"enabled": False, "promoted": False}, ""
    metrics = comparison_report["results"][p.model]
    model = comparison_report["models"][p.model]
    lineage = model["lineage"]
    failed = check_thresholds(metrics, p.thresholds)
    if not lineage.get("registered_version"):
        failed.append(f"{p.model} has no registered MLflow model version to put the alias on")
    card = model_card(
        p.model,
        metrics,
        {**model["info"], "model_config": model["model_config"]},
        lineage,
        comparison_report["parameters"],
        git_commit(),
    )
    decision = {"enabled": True, "model": p.model, "alias": p.alias, "failed": failed}
    if failed:
        logger.warning("%s not promoted: %s", p.model, "; ".join(failed))
        record_failure(failed)
        return {**decision, "promoted": False}, card
    set_alias(lineage["registered_model"], lineage["registered_version"], p.alias, card)
    logger.info("promoted %s to %s@%s", p.model, lineage["registered_model"], p.alias)
    return {
        **decision,
        "promoted": True,
        "registered_model": lineage["registered_model"],
        "registered_version": lineage["registered_version"],
    }, card


def write_report(
    comparison_report: dict[str, Any], promotion: dict[str, Any]
) -> tuple[str, Figure]:
    """The side-by-side Markdown report and plot."""
    markdown = markdown_report(
        comparison_report["results"],
        comparison_report["contamination"],
        comparison_report["warnings"],
        promotion,
        comparison_report["generations"],
    )
    return markdown, comparison_figure(comparison_report["results"])
