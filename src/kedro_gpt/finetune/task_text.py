"""Target-task language-model fine-tuning (ULMFiT's second stage, Howard & Ruder 2018): before
the classifier, the language model trains on the task's own training texts, labels unused, and
early-stops on the validation texts. The test split's texts are never seen."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kedro_gpt.finetune.batches import PaddedBatches, Row, RowsEvaluator, lm_row
from kedro_gpt.finetune.config import FinetuningConfig
from kedro_gpt.finetune.fit import eval_loss, fit_language_model
from kedro_gpt.model.gpt import GPT


def next_token_rows(rows: Sequence[Row], block_size: int) -> list[Row]:
    """Each classification row's tokens as a next-token row (rows of one token are dropped)."""
    out = []
    for x, _ in rows:
        row = lm_row(x.tolist(), [True] * len(x), block_size)
        if row is not None:
            out.append(row)
    return out


def tune_on_task_text(
    model: GPT,
    train: Sequence[Row],
    val: Sequence[Row],
    pad_id: int,
    config: FinetuningConfig,
    epochs: float,
) -> tuple[GPT, dict[str, Any]]:
    """A copy of ``model`` trained as a language model on ``train``'s texts for at most
    ``epochs`` passes (``config.training``'s other settings: learning rate, batch, early
    stopping on ``val``'s texts), its best checkpoint kept; and what the stage did."""
    block = model.config.block_size
    lm_train, lm_val = next_token_rows(train, block), next_token_rows(val, block)
    budget = {"max_epochs": epochs, "max_steps": None, "max_tokens": None, "max_minutes": None}
    stage = config.model_copy(
        update={
            "training": config.training.model_copy(update=budget),
            "checkpoint_dir": str(Path(config.checkpoint_dir) / "task_text"),
        }
    )
    batch = config.training.batch_size
    evaluator = RowsEvaluator(lm_val, batch, pad_id)
    tuned, result, _, before = fit_language_model(
        copy.deepcopy(model),
        PaddedBatches(lm_train, batch, pad_id, seed=config.seed),
        evaluator,
        stage,
        callbacks=(),
    )
    return tuned, {
        "epochs": epochs,
        "steps": result.step,
        "stopped_by": result.stopped_by,
        "val_loss_before": before,
        # the best checkpoint's validation loss, scored once already (unless no validation ran)
        "val_loss_after": result.best_val_loss
        if result.best_path
        else eval_loss(tuned, evaluator, stage),
        "elapsed_s": result.elapsed_s,
    }
