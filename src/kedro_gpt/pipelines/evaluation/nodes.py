"""Evaluation nodes: held-out loss, perplexity and bits per character; samples; registration."""

from __future__ import annotations

import logging
from typing import Any

from kedro_gpt.config import parse_params
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.pipelines.evaluation.config import EvaluationConfig
from kedro_gpt.tokenizer.shards import TokenShards
from kedro_gpt.tracking.metrics import metric_history
from kedro_gpt.tracking.registry import register_model
from kedro_gpt.training.data import reading_order
from kedro_gpt.training.device import resolve_precision
from kedro_gpt.training.distributed import DistContext
from kedro_gpt.training.evaluate import ShardEvaluator

logger = logging.getLogger(__name__)


def _config(params: dict[str, Any]) -> EvaluationConfig:
    return parse_params(EvaluationConfig, params, "evaluation")


def evaluate_model(
    gpt_model: ModelBundle, val_tokens: TokenShards, params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, float]], str]:
    """Score every validation token once; sample from the prompts. Returns report, metrics, samples."""
    config = _config(params)
    precision = resolve_precision(config.device, "auto")
    model = gpt_model.model.to(precision.device)
    evaluator = ShardEvaluator(
        reading_order(val_tokens.shards, model.config.reverse),
        val_tokens.meta,
        model.config.block_size,
        config.batch_size,
        1,
        seed=0,
    )
    metrics = evaluator.evaluate(model, precision, DistContext(), full=True)
    s = config.samples
    samples = {
        prompt: gpt_model.generate_text(
            prompt,
            s.max_new_tokens,
            temperature=s.temperature,
            top_k=s.top_k,
            top_p=s.top_p,
            seed=s.seed,
        )
        for prompt in s.prompts
    }
    report = {
        "validation": metrics,
        "validation_text_chars": val_tokens.meta.get("text_chars"),
        "validation_text_bytes": val_tokens.meta.get("text_bytes"),
        "model": model.config.to_dict(),
        "num_params": model.num_params(),
        "training": {
            k: gpt_model.info.get(k) for k in ("step", "tokens", "elapsed_s", "stopped_by")
        },
        "samples": samples,
    }
    logger.info(
        "validation: loss %.4f, perplexity %.2f, %.4f bits/char",
        metrics["loss"],
        metrics["perplexity"],
        metrics.get("bits_per_char", float("nan")),
    )
    text = "\n\n".join(f"=== prompt: {p!r} ===\n{p}{c}" for p, c in samples.items()) + "\n"
    return report, metric_history({k: v for k, v in metrics.items() if k != "final"}), text


def register_trained_model(
    gpt_model: ModelBundle, evaluation_report: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Log the model as an MLflow pyfunc model and register it (unless disabled); a backward
    model (``reverse``) under the registry name plus ``-backward``, beside its forward twin."""
    config = _config(params)
    if not config.registry.enabled:
        return {"registered": False}
    name = config.registry.model_name + ("-backward" if gpt_model.config.reverse else "")
    validation = evaluation_report["validation"]
    tags = {f"val.{k}": f"{v:.6g}" for k, v in validation.items() if isinstance(v, int | float)}
    tags["tokenizer_sha256"] = str(gpt_model.info.get("tokenizer_sha256"))
    registration = register_model(gpt_model, name, tags)
    logger.info("registered %s", registration["model_uri"])
    return {"registered": True, **registration}
