"""Scoring any model: held-out text (bits per char/byte), chat-style task sets, a classifier head."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from kedro_gpt.evaluation.metrics import classification_metrics
from kedro_gpt.finetune.batches import RowsEvaluator
from kedro_gpt.finetune.config import GenerationParams
from kedro_gpt.finetune.conversations import conversation_rows, generation_report
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.tokenizer.chat import Message
from kedro_gpt.tokenizer.special_tokens import PAD, special_token_id
from kedro_gpt.training.data import reading_order
from kedro_gpt.training.device import resolve_precision
from kedro_gpt.training.distributed import DistContext
from kedro_gpt.training.evaluate import ShardEvaluator


def text_scores(bundle: ModelBundle, text: str, batch_size: int, device: str = "auto"):
    """Perplexity, bits per token / character / byte of ``text``, every token scored once."""
    ids = np.asarray(bundle.tokenizer.encode(text), dtype=np.int64)
    meta = {"text_chars": len(text), "text_bytes": len(text.encode())}
    block = bundle.config.block_size
    evaluator = ShardEvaluator(
        reading_order([ids], bundle.config.reverse), meta, block, batch_size, 1, seed=0
    )
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
    from kedro_gpt.finetune.batches import classification_row, classifier_ids
    from kedro_gpt.finetune.classification import load_classifier, predict_labels

    model, labels = load_classifier(bundle)
    index = {label: i for i, label in enumerate(labels)}
    rows, truth = [], []
    for text, label in examples:
        if label not in index:
            raise ValueError(f"label {label!r} is not one the model knows ({', '.join(labels)})")
        ids = classifier_ids(bundle.tokenizer, text, bundle.info["classifier"])
        row = classification_row(ids, index[label], bundle.config.block_size)
        if row is not None:
            rows.append(row)
            truth.append(index[label])
    scores = classification_metrics(truth, predict_labels(model, rows, batch_size), labels)
    return {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}
