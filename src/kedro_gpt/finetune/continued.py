"""Continued pretraining: keep training the language model on new text."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from kedro_gpt.finetune.config import FinetuningConfig
from kedro_gpt.finetune.fit import TaskResult, finetuned_info, fit_language_model
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.tokenizer.special_tokens import eos_id
from kedro_gpt.training.callbacks import TrainCallback
from kedro_gpt.training.data import RandomWindows, reading_order
from kedro_gpt.training.device import resolve_precision
from kedro_gpt.training.distributed import DistContext
from kedro_gpt.training.evaluate import ShardEvaluator


def run_continued_pretraining(
    bundle: ModelBundle,
    texts: Sequence[str],
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback] = (),
) -> TaskResult:
    """Keep training the language model on new text (last ``val_fraction`` of each text held out)."""
    sp = bundle.tokenizer
    params = config.continued_pretraining
    block = bundle.config.block_size
    train_shards, val_shards, chars, nbytes = [], [], 0, 0
    for text in texts:
        cut = int(len(text) * (1 - params.val_fraction))
        train_shards.append(np.asarray([*sp.encode(text[:cut]), eos_id(sp)], dtype=np.int64))
        val_shards.append(np.asarray(sp.encode(text[cut:]), dtype=np.int64))
        chars += len(text[cut:])
        nbytes += len(text[cut:].encode())
    meta = {"text_chars": chars, "text_bytes": nbytes}
    batch = config.training.batch_size
    reverse = bundle.config.reverse
    evaluator = ShardEvaluator(
        reading_order(val_shards, reverse),
        meta,
        block,
        batch,
        config.training.eval_batches,
        config.seed,
    )
    model = copy.deepcopy(bundle.model)
    batches = RandomWindows(
        reading_order(train_shards, reverse),
        block,
        batch,
        seed=config.seed,
        name="continued pretraining",
    )
    model, result, adapt, base_loss = fit_language_model(
        model, batches, evaluator, config, callbacks
    )
    precision = resolve_precision(config.training.device, config.training.dtype)
    final = evaluator.evaluate(model.to(precision.device), precision, DistContext(), full=True)
    metrics = {
        "val_loss": final["loss"],
        "val_bits_per_char": final.get("bits_per_char", float("nan")),
        "base_val_loss": base_loss,
    }
    report = {
        "task": "continued_pretraining",
        "tokens": {
            "train": int(sum(map(len, train_shards))),
            "val": int(sum(map(len, val_shards))),
        },
        "adaptation": adapt,
        "metrics": metrics,
        "training": {k: v for k, v in result.to_dict().items() if k not in {"history", "evals"}},
    }
    info = finetuned_info(bundle, config, result, metrics=metrics, adaptation=adapt)
    return TaskResult(ModelBundle(model.cpu(), sp, info), report, metrics, history=result.to_dict())
