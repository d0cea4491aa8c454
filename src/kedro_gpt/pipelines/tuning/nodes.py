"""The sweep node: check the search space, run the trials (each a nested MLflow run), report."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sentencepiece as spm
from matplotlib.figure import Figure

from kedro_gpt.config import parse_params
from kedro_gpt.pipelines.pretraining.config import PretrainingConfig
from kedro_gpt.pipelines.pretraining.nodes import pretraining_spec, tensorboard_sampler
from kedro_gpt.sweep.config import SweepConfig
from kedro_gpt.sweep.overrides import apply_overrides, check_budget, check_keys
from kedro_gpt.sweep.plots import study_plots
from kedro_gpt.sweep.study import (
    PruningCallback,
    TrialOutcome,
    ablation_markdown,
    best_parameters,
    run_study,
    study_report,
)
from kedro_gpt.tokenizer.shards import TokenShards
from kedro_gpt.tracking.sweep_runs import log_trial_to_parent, trial_run
from kedro_gpt.training.callbacks import TrainCallback
from kedro_gpt.training.launch import launch

logger = logging.getLogger(__name__)


def check_sweep(pretraining: dict[str, Any], config: SweepConfig) -> None:
    """Every key of the space, the base and the ablation rows is a pretraining parameter that
    takes the values given, and the base budget reaches an evaluation: before any trial."""
    check_keys(pretraining, config.base)
    for key, dim in config.space.items():
        values = dim.choices if dim.type == "categorical" else [dim.low, dim.high]
        for value in values or []:
            check_keys(pretraining, {key: int(value) if dim.type == "int" else value}, config.base)
    if config.mode == "ablation":
        for change in config.ablation:
            check_keys(pretraining, change, config.base)
    check_budget(
        parse_params(PretrainingConfig, apply_overrides(pretraining, config.base), "sweep")
    )


def run_sweep(
    train_tokens: TokenShards,
    val_tokens: TokenShards,
    tokenizer: spm.SentencePieceProcessor,
    pretraining: dict[str, Any],
    sweep: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Figure], str]:
    """Run (or resume) the study; returns the report, the best parameters (a ``pretraining``
    section to drop into conf/local), Optuna's plots and the ablation table (Markdown)."""
    config = parse_params(SweepConfig, sweep, "sweep")
    check_sweep(pretraining, config)

    def train_trial(trial: Any, overrides: dict[str, Any]) -> TrialOutcome:
        folder = Path(config.checkpoint_dir) / config.study_name / f"trial_{trial.number:04d}"
        params = {**apply_overrides(pretraining, overrides), "checkpoint_dir": str(folder)}
        trial_config = parse_params(PretrainingConfig, {**params, "resume": False}, "pretraining")
        spec, _ = pretraining_spec(train_tokens, val_tokens, tokenizer, trial_config)
        with trial_run(config.study_name, trial.number, overrides) as tracker:
            timed = trial_config.training.eval_interval_minutes is not None
            callbacks: list[TrainCallback] = [tracker, PruningCallback(trial, by_eval_count=timed)]
            if trial_config.tensorboard_dir:
                from kedro_gpt.training.tensorboard import TensorBoardCallback

                name = f"sweep-{config.study_name}-trial-{trial.number:04d}"
                events = Path(trial_config.tensorboard_dir) / name
                sampler = tensorboard_sampler(trial_config, tokenizer)
                callbacks.append(TensorBoardCallback(events, sampler))
            result = launch(spec, callbacks)
        if result.best_val_loss is None:
            raise ValueError(
                f"trial {trial.number} ended before its first evaluation: give the trials a "
                "larger budget (sweep.base) or a smaller pretraining.training.eval_interval"
            )
        return TrialOutcome(result.best_val_loss, result.step, result.tokens, result.elapsed_s)

    study = run_study(config, train_trial, [log_trial_to_parent])
    report = study_report(study, config)
    logger.info("sweep %s: %s; best %s", config.study_name, report["counts"], report["best"])
    plots = {f"{name}.png": figure for name, figure in study_plots(study).items()}
    table = ablation_markdown(report["ablation"]) if config.mode == "ablation" else ""
    return report, best_parameters(report), plots, table
