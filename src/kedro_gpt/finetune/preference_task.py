"""The ``dpo`` fine-tuning mode: the chat model learns the feedback's preferences (see
:mod:`kedro_gpt.finetune.preference`); reported as how often the model prefers the preferred
answer on held-out pairs, before and after."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

from kedro_gpt.feedback.examples import PreferencePair
from kedro_gpt.finetune.adapt import finalize_backbone, prepare_backbone
from kedro_gpt.finetune.config import FinetuningConfig
from kedro_gpt.finetune.fit import (
    TaskResult,
    eval_metrics,
    finetuned_info,
    holdout_split,
    train_and_restore,
)
from kedro_gpt.finetune.preference import (
    DPOObjective,
    PairBatches,
    PairsEvaluator,
    pair_rows,
    preference_rate,
)
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.tokenizer.special_tokens import PAD, special_token_id
from kedro_gpt.training.callbacks import TrainCallback


def run_dpo(
    bundle: ModelBundle,
    pairs: Sequence[PreferencePair],
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback] = (),
) -> TaskResult:
    """DPO from ``bundle`` (policy and frozen reference) on ``pairs``."""
    sp, batch = bundle.tokenizer, config.training.batch_size
    rows = pair_rows(sp, pairs, bundle.config.block_size)
    if len(rows) < 2:
        raise ValueError(
            f"finetuning mode 'dpo' needs at least 2 preference pairs, the feedback gives "
            f"{len(rows)}: rate two answers to one prompt (up and down) or edit answers in the "
            "playground, then snapshot the feedback again"
        )
    train, held = holdout_split(rows, config.dpo.eval_fraction, config.seed)
    pad = special_token_id(sp, PAD)
    policy = copy.deepcopy(bundle.model)
    before = preference_rate(policy, held, batch, pad)
    adapt = prepare_backbone(policy, config)
    objective = DPOObjective(policy, config.dpo.beta)
    evaluator = PairsEvaluator(held, batch, pad)
    result = train_and_restore(
        objective,
        PairBatches(train, batch, pad, seed=config.seed),
        evaluator,
        config,
        Path(config.checkpoint_dir),
        callbacks,
        policy.config.to_dict(),
    )
    final = eval_metrics(objective, evaluator, config)
    policy = finalize_backbone(policy)
    metrics = {
        "preference_rate_before": before,
        "preference_rate": final["preference_rate"],
        "reward_accuracy": final["reward_accuracy"],
        "dpo_loss": final["loss"],
    }
    report = {
        "task": config.task,
        "mode": "dpo",
        "examples": {"train_pairs": len(train), "held_out_pairs": len(held)},
        "adaptation": {**adapt, "beta": config.dpo.beta},
        "metrics": metrics,
        "training": {k: v for k, v in result.to_dict().items() if k not in {"history", "evals"}},
    }
    info = finetuned_info(bundle, config, result, metrics=metrics, adaptation=report["adaptation"])
    return TaskResult(
        ModelBundle(policy.cpu(), sp, info), report, metrics, history=result.to_dict()
    )
