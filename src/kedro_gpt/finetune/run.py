"""One entry point: read the configured task's files and run the task."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from kedro_gpt.feedback.examples import feedback_examples
from kedro_gpt.finetune.classification import run_classification
from kedro_gpt.finetune.config import FinetuningConfig
from kedro_gpt.finetune.continued import run_continued_pretraining
from kedro_gpt.finetune.conversations import run_conversations, run_text2text
from kedro_gpt.finetune.data import (
    LoadStats,
    chat_conversations,
    labelled_lines,
    labelled_records,
    resolve,
    text_pairs,
)
from kedro_gpt.finetune.fit import TaskResult
from kedro_gpt.finetune.preference_task import run_dpo
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.training.callbacks import TrainCallback


def run_task(
    bundle: ModelBundle,
    files: Mapping[str, Any],
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback] = (),
    feedback: pd.DataFrame | None = None,
    backward: ModelBundle | None = None,
) -> TaskResult:
    """Fine-tune ``bundle`` on ``config.task``; ``files`` maps task file names (relative to the
    task folder) to their text or to a loader returning it. ``feedback`` (the feedback table's
    snapshot) adds examples to chat, and is all that mode ``dpo`` learns from. ``backward``, a
    backward model on the same tokenizer, adds a backward twin to each classifier."""
    reads_backwards = bundle.config.reverse or backward is not None
    if reads_backwards and (
        config.task != "classification" or config.classification.task_text_epochs
    ):
        raise ValueError(
            f"parameters 'finetuning' -> task {config.task!r}: a backward model (reverse: true) "
            "fine-tunes only for classification, without task_text_epochs; start from a "
            "forward model alone"
        )
    stats = LoadStats()
    learned = feedback_examples(feedback if feedback is not None else pd.DataFrame())
    if config.task == "chat" and config.mode == "dpo":
        result = run_dpo(bundle, learned.pairs, config, callbacks)
        result.report["feedback"] = learned.counts
    elif config.task == "chat":
        p = config.chat
        conversations = []
        for name in p.files:
            conversations += chat_conversations(
                name, resolve(files, name), p.prompt_keys, p.response_keys, p.system_prompt, stats
            )
        if p.feedback:
            conversations += learned.supervised
        result = run_conversations(
            bundle, conversations, None, config, p.generation, callbacks, p.eval_fraction
        )
        result.report["feedback"] = {**learned.counts, "used": p.feedback}
    elif config.task == "classification":
        p = config.classification
        labels = list(p.labels or p.label_files)
        if len(labels) < 2:
            raise ValueError(
                "parameters 'finetuning' -> classification: name at least two labels "
                "(labels, or the keys of label_files)"
            )
        examples = []
        for label, name in p.label_files.items():
            examples += labelled_lines(name, resolve(files, name), label, stats)
        for name in p.files:
            examples += labelled_records(
                name, resolve(files, name), p.text_column, p.label_column, labels, stats
            )
        result = run_classification(bundle, examples, labels, config, callbacks, backward)
    elif config.task == "text2text":
        p = config.text2text
        train = text_pairs(
            p.train_file, resolve(files, p.train_file), p.source_column, p.target_column, stats
        )
        held = text_pairs(
            p.eval_file, resolve(files, p.eval_file), p.source_column, p.target_column, stats
        )
        result = run_text2text(bundle, train, held, config, callbacks)
    else:
        texts = [resolve(files, name) for name in config.continued_pretraining.files]
        result = run_continued_pretraining(bundle, texts, config, callbacks)
    result.report["data"] = stats.as_dict()
    return result
