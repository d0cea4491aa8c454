"""Pretraining nodes: train a GPT on the token shards (from scratch, or on from a model), plot
its curves."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import sentencepiece as spm
from matplotlib.figure import Figure

from kedro_gpt.config import ConfigError, parse_params
from kedro_gpt.datasets.atomic import atomic_path
from kedro_gpt.model.bundle import ModelBundle, load_gpt
from kedro_gpt.model.config import GPTConfig
from kedro_gpt.model.presets import model_config
from kedro_gpt.pipelines.pretraining.config import PretrainingConfig
from kedro_gpt.tokenizer.files import tokenizer_sha256
from kedro_gpt.tokenizer.shards import TokenShards
from kedro_gpt.tracking.run_callbacks import run_callbacks
from kedro_gpt.training.checkpoint import read_config
from kedro_gpt.training.launch import launch
from kedro_gpt.training.result import TrainResult
from kedro_gpt.training.spec import TrainSpec
from kedro_gpt.training.tensorboard import Sampler, checkpoint_sampler

logger = logging.getLogger(__name__)


def pretrain(
    train_tokens: TokenShards,
    val_tokens: TokenShards,
    tokenizer: spm.SentencePieceProcessor,
    params: dict[str, Any],
) -> tuple[ModelBundle, dict[str, Any]]:
    """Train a GPT from scratch (or resume) and return the best model and the run's history."""
    config = parse_params(PretrainingConfig, params, "pretraining")
    config = in_direction(config, bool(config.model.overrides().get("reverse")))
    spec, gpt_config = pretraining_spec(train_tokens, val_tokens, tokenizer, config)
    sampler = tensorboard_sampler(config, tokenizer)
    with run_callbacks("pretraining", config.tensorboard_dir, sampler) as callbacks:
        result = launch(spec, callbacks)
    bundle = _trained_bundle(result, config, gpt_config, tokenizer, train_tokens, "pretraining")
    return bundle, result.to_dict()


def pretrain_backward(
    train_tokens: TokenShards,
    val_tokens: TokenShards,
    tokenizer: spm.SentencePieceProcessor,
    params: dict[str, Any],
) -> tuple[ModelBundle, dict[str, Any]]:
    """:func:`pretrain` with the same parameters and token shards, the model reading each text
    back to front (``reverse``): ULMFiT's backward language model, the second direction of a
    bidirectional classifier."""
    model = {**(params.get("model") or {}), "reverse": True}
    return pretrain(train_tokens, val_tokens, tokenizer, {**params, "model": model})


def in_direction(config: PretrainingConfig, reverse: bool) -> PretrainingConfig:
    """A backward model's run keeps its checkpoints in ``checkpoint_dir/backward`` and samples
    nothing to TensorBoard (its samples run right to left), so it never resumes from, or
    overwrites, its forward twin's."""
    if not reverse:
        return config
    folder = str(Path(config.checkpoint_dir) / "backward")
    return config.model_copy(update={"checkpoint_dir": folder, "tensorboard_sample_prompt": None})


def tensorboard_sampler(
    config: PretrainingConfig, tokenizer: spm.SentencePieceProcessor
) -> Sampler | None:
    """TensorBoard's text samples at each new best checkpoint, when asked for."""
    if not config.tensorboard_dir or config.tensorboard_sample_prompt is None:
        return None
    return checkpoint_sampler(tokenizer, config.tensorboard_sample_prompt)


def pretraining_spec(
    train_tokens: TokenShards,
    val_tokens: TokenShards,
    tokenizer: spm.SentencePieceProcessor,
    config: PretrainingConfig,
) -> tuple[TrainSpec, GPTConfig]:
    """What training from scratch runs: the model's configuration (preset, overrides, the
    tokenizer's vocabulary) and the loop's spec; the sweep builds each trial's the same way."""
    vocab = tokenizer.get_piece_size()
    if train_tokens.meta.get("vocab_size", vocab) != vocab:
        raise ValueError(
            f"train_tokens were encoded with a {train_tokens.meta['vocab_size']}-piece tokenizer, "
            f"but the tokenizer has {vocab} pieces: re-run the tokenization pipeline"
        )
    try:
        gpt_config = model_config(config.model.preset, vocab, **config.model.overrides())
    except ValueError as err:
        raise ConfigError(f"parameters 'pretraining' -> model: {err}") from None
    spec = TrainSpec.build(
        gpt_config.to_dict(),
        config.training,
        train_tokens,
        config.checkpoint_dir,
        val_tokens,
        config.resume,
    )
    return spec, gpt_config


def continue_pretraining(
    base_model: ModelBundle,
    train_tokens: TokenShards,
    val_tokens: TokenShards,
    params: dict[str, Any],
) -> tuple[ModelBundle, dict[str, Any]]:
    """Keep training ``base_model`` (its architecture and weights) on token shards encoded with
    its own tokenizer: domain-adaptive pretraining, or retraining on fresh data."""
    config = in_direction(
        parse_params(PretrainingConfig, params, "pretraining"), base_model.config.reverse
    )
    base_sha = tokenizer_sha256(base_model.tokenizer)
    if train_tokens.meta.get("tokenizer_sha256", base_sha) != base_sha:
        raise ValueError(
            "train_tokens were encoded with another tokenizer than the model's: encode the new "
            "text with the base model's tokenizer (the adapt pipeline does)"
        )
    if config.model.overrides():
        logger.warning("pretraining.model is ignored: the architecture is the base model's")
    init = Path(config.checkpoint_dir) / "base_model"
    with atomic_path(init) as folder:  # the worker reads it whole or not at all
        folder.mkdir()
        base_model.save(folder)
    spec = TrainSpec.build(
        base_model.config.to_dict(),
        config.training,
        train_tokens,
        config.checkpoint_dir,
        val_tokens,
        config.resume,
        init_from=str(init),
    )
    sampler = tensorboard_sampler(config, base_model.tokenizer)
    with run_callbacks("pretraining", config.tensorboard_dir, sampler) as callbacks:
        result = launch(spec, callbacks)
    base = {k: base_model.info.get(k) for k in ("source", "step", "tokens", "best_val_loss")}
    bundle = _trained_bundle(
        result,
        config,
        base_model.config,
        base_model.tokenizer,
        train_tokens,
        "continued_pretraining",
        base_model=base,
    )
    return bundle, result.to_dict()


def _trained_bundle(
    result: TrainResult,
    config: PretrainingConfig,
    gpt_config: GPTConfig,
    tokenizer: Any,
    train_tokens: TokenShards,
    source: str,
    **extra: Any,
) -> ModelBundle:
    """The best (or last) checkpoint of ``result`` as a bundle, with what made it."""
    folder = result.best_path or result.last_path
    if folder is None:
        raise RuntimeError(f"training wrote no checkpoint under {config.checkpoint_dir}")
    info = {
        "source": source,
        "checkpoint": folder,
        "step": result.step,
        "tokens": result.tokens,
        "elapsed_s": result.elapsed_s,
        "stopped_by": result.stopped_by,
        "best_val_loss": result.best_val_loss,
        "final_eval": result.final_eval,
        "train_config": config.training.model_dump(mode="json"),
        "tokenizer_sha256": train_tokens.meta.get("tokenizer_sha256"),
        "checkpoint_config": {
            k: v for k, v in read_config(folder).items() if k not in {"model", "train"}
        },
        **extra,
    }
    logger.info(
        "%s done: %d steps, %d tokens, best val loss %s",
        source,
        result.step,
        result.tokens,
        result.best_val_loss,
    )
    return ModelBundle(load_gpt(folder, gpt_config), tokenizer, info)


def plot_loss_curves(training_history: dict[str, Any]) -> Figure:
    """Train loss per logged step and validation loss per evaluation."""
    result = TrainResult.from_dict(training_history)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if result.history:
        ax.plot(
            [h["step"] for h in result.history],
            [h["loss"] for h in result.history],
            label="train loss",
        )
    if result.evals:
        ax.plot(
            [e["step"] for e in result.evals],
            [e["loss"] for e in result.evals],
            "o-",
            label="validation loss",
        )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.set_title(
        f"pretraining: {result.step} steps, {result.tokens:,} tokens, {result.elapsed_s:.0f} s"
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
