"""Optuna studies over the pretraining parameters: durable storage, samplers and pruners by name,
pruning from the loop's periodic validation, one-factor-at-a-time ablations, and the report.

A study lives in an SQLAlchemy database (SQLite by default), so a killed sweep resumes where it
stopped and several workers (processes, machines) can share one study: the trial budget
``n_trials`` counts every finished trial of the study, whoever ran it, and a trial whose worker
died is marked failed once its heartbeat is ``heartbeat_seconds`` late (or, killed before its
first heartbeat, once it is that old).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages import RDBStorage
from optuna.storages._rdb import models as rdb_models
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, TrialState

from kedro_gpt.sweep.config import Dimension, SweepConfig
from kedro_gpt.sweep.overrides import apply_overrides
from kedro_gpt.training.callbacks import TrainCallback

logger = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
ROW = "ablation_row"


@dataclass(frozen=True)
class TrialOutcome:
    """What training one trial gave: the best periodic validation loss and what it took."""

    value: float
    steps: int
    tokens: int
    elapsed_s: float


TrainTrial = Callable[[optuna.Trial, dict[str, Any]], TrialOutcome]
#: Called after each finished trial of this worker (Optuna's ``optimize`` callbacks).
TrialEnd = Callable[[optuna.Study, FrozenTrial], None]


class PruningCallback(TrainCallback):
    """Reports each periodic validation loss to the trial; stops the trial when the pruner says.

    The pruner compares trials at the same reported position: the optimizer step, or with
    ``by_eval_count`` the validation's ordinal (1, 2, …) — for trials on a time budget that
    validate every ``training.eval_interval_minutes``, where a fast model's step 200 and a slow
    one's are different shares of the budget but their third validations are the same share."""

    def __init__(self, trial: optuna.Trial, *, by_eval_count: bool = False) -> None:
        self.trial = trial
        self.by_eval_count = by_eval_count
        self.evals = 0

    def on_eval(self, step: int, metrics: dict[str, float]) -> None:
        if metrics.get("final"):
            return
        self.evals += 1
        loss = float(metrics["loss"])
        self.trial.report(loss, self.evals if self.by_eval_count else step)
        if self.trial.should_prune():
            where = (
                f"validation {self.evals} (step {step})" if self.by_eval_count else f"step {step}"
            )
            raise optuna.TrialPruned(f"pruned at {where}: validation loss {loss:.4f}")


def _grid(space: dict[str, Dimension]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for key, dim in space.items():
        if dim.type == "categorical":
            grid[key] = list(dim.choices or [])
            continue
        assert dim.low is not None and dim.high is not None and dim.step is not None
        values = np.arange(dim.low, dim.high + dim.step / 2, dim.step)
        grid[key] = [int(v) for v in values] if dim.type == "int" else [float(v) for v in values]
    return grid


def make_sampler(config: SweepConfig) -> optuna.samplers.BaseSampler:
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=config.seed)
    if config.sampler == "grid":
        return optuna.samplers.GridSampler(_grid(config.space), seed=config.seed)
    return optuna.samplers.TPESampler(seed=config.seed)


def make_pruner(config: SweepConfig) -> optuna.pruners.BasePruner:
    """The pruner by name (none for an ablation: every row runs its whole budget)."""
    if config.mode == "ablation":
        return optuna.pruners.NopPruner()
    if config.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if config.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def open_storage(config: SweepConfig) -> RDBStorage:
    """The study's database, with heartbeats every ``heartbeat_seconds``."""
    url = config.storage
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": 60}}  # wait for another worker's write
    return RDBStorage(
        url,
        engine_kwargs=engine_kwargs,
        heartbeat_interval=config.heartbeat_seconds,
        grace_period=2 * config.heartbeat_seconds,
    )


def open_study(config: SweepConfig, storage: RDBStorage | None = None) -> optuna.Study:
    """Create the study, or load it when the storage already holds one of that name."""
    return optuna.create_study(
        storage=storage or open_storage(config),
        study_name=config.study_name,
        direction="minimize",
        sampler=make_sampler(config),
        pruner=make_pruner(config),
        load_if_exists=True,
    )


def suggest(trial: optuna.Trial, space: dict[str, Dimension]) -> dict[str, Any]:
    """One value per dimension of ``space``."""
    values: dict[str, Any] = {}
    for key, dim in space.items():
        if dim.type == "categorical":
            values[key] = trial.suggest_categorical(key, dim.choices or [])
        elif dim.type == "int":
            assert dim.low is not None and dim.high is not None
            values[key] = trial.suggest_int(
                key, int(dim.low), int(dim.high), step=int(dim.step or 1), log=dim.log
            )
        else:
            assert dim.low is not None and dim.high is not None
            values[key] = trial.suggest_float(key, dim.low, dim.high, step=dim.step, log=dim.log)
    return values


def ablation_rows(config: SweepConfig) -> list[dict[str, Any]]:
    """Row 0 is the base; row k the base with the k-th change."""
    return [{}, *config.ablation]


def row_label(change: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in change.items()) or "base"


def _finished(study: optuna.Study) -> list[FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if t.state in FINISHED]


def _enqueue_ablation(study: optuna.Study, rows: int) -> None:
    """Queue each ablation row not yet finished, running or queued (a resumed study keeps its)."""
    taken = {
        t.params.get(ROW, t.system_attrs.get("fixed_params", {}).get(ROW))
        for t in study.get_trials(deepcopy=False)
        if t.state in (*FINISHED, TrialState.RUNNING, TrialState.WAITING)
    }
    for row in range(rows):
        if row not in taken:
            study.enqueue_trial({ROW: row})


def fail_dead_trials(study: optuna.Study, storage: RDBStorage) -> list[int]:
    """Mark failed the running trials whose worker died; return their numbers.

    Optuna's ``fail_stale_trials`` judges a trial by its last heartbeat and skips a trial with
    none, so a worker killed between creating a trial and recording its first heartbeat (a few
    milliseconds, but a kill lands there) would leave that trial running forever. Such a trial
    is failed here once it is older than the grace period: a live worker records its first
    heartbeat as the trial starts.
    """
    if storage.heartbeat_interval is None:
        return []
    running_before = _running(study)
    optuna.storages.fail_stale_trials(study)
    grace = timedelta(seconds=storage.grace_period or 2 * storage.heartbeat_interval)
    if running := _running(study):
        with storage.scoped_session() as session:
            beating = {i for (i,) in session.query(rdb_models.TrialHeartbeatModel.trial_id)}
        now = datetime.now()  # optuna stores datetime_start as local naive time
        for trial in running.values():
            if trial._trial_id not in beating and now - trial.datetime_start > grace:
                storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    failed = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    dead = sorted(running_before.keys() & failed)
    if dead:
        logger.warning("marked failed the trials of workers that died: %s", dead)
    return dead


def _running(study: optuna.Study) -> dict[int, FrozenTrial]:
    return {t.number: t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}


def run_study(
    config: SweepConfig, train_trial: TrainTrial, on_trial_end: Sequence[TrialEnd] = ()
) -> optuna.Study:
    """Run trials until the study holds ``n_trials`` finished ones (or, for an ablation, every
    row), or this worker's ``timeout_minutes`` is spent; ``on_trial_end`` hears of each trial
    this worker finishes. Returns the study."""
    storage = open_storage(config)
    study = open_study(config, storage)
    fail_dead_trials(study, storage)  # trials of workers that died, before counting
    rows = ablation_rows(config)
    total = len(rows) if config.mode == "ablation" else config.n_trials
    if config.mode == "ablation":
        _enqueue_ablation(study, len(rows))
    else:
        for point in config.enqueue:  # a point the study already holds is not queued again
            study.enqueue_trial(point, skip_if_exists=True)

    def objective(trial: optuna.Trial) -> float:
        if config.mode == "ablation":
            row = trial.suggest_categorical(ROW, list(range(len(rows))))
            change = rows[row]
            trial.set_user_attr("change", row_label(change))
        else:
            change = suggest(trial, config.space)
        overrides = {**config.base, **change}
        trial.set_user_attr("overrides", overrides)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        try:
            outcome = train_trial(trial, overrides)
        except optuna.TrialPruned:
            raise
        except Exception as err:
            trial.set_user_attr("error", f"{type(err).__name__}: {err}"[:500])
            logger.warning("trial %d failed: %s: %s", trial.number, type(err).__name__, err)
            raise
        trial.set_user_attr("steps", outcome.steps)
        trial.set_user_attr("tokens", outcome.tokens)
        trial.set_user_attr("elapsed_s", outcome.elapsed_s)
        return outcome.value

    done = len(_finished(study))
    if total is not None and done >= total:
        logger.info("study %s already holds %d finished trials", config.study_name, done)
        return study
    callbacks: list[TrialEnd] = list(on_trial_end)
    if total is not None:
        callbacks.append(MaxTrialsCallback(total, states=FINISHED))
    timeout = config.timeout_minutes * 60 if config.timeout_minutes else None
    study.optimize(objective, timeout=timeout, callbacks=callbacks, catch=(Exception,))
    return study


def _trial_row(trial: FrozenTrial) -> dict[str, Any]:
    steps = sorted(trial.intermediate_values)
    elapsed = trial.user_attrs.get("elapsed_s")
    if elapsed is None and trial.datetime_start and trial.datetime_complete:
        elapsed = (trial.datetime_complete - trial.datetime_start).total_seconds()
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "value": trial.value,
        "overrides": trial.user_attrs.get("overrides", {}),
        "change": trial.user_attrs.get("change"),
        "steps": trial.user_attrs.get("steps", steps[-1] if steps else None),
        "tokens": trial.user_attrs.get("tokens"),
        "elapsed_s": elapsed,
        "last_reported_step": steps[-1] if steps else None,
        "error": trial.user_attrs.get("error"),
    }


def study_report(study: optuna.Study, config: SweepConfig) -> dict[str, Any]:
    """Every trial, the counts per state, the best trial, time spent per state, and for an
    ablation the table of what each change bought against the base."""
    trials = [_trial_row(t) for t in study.get_trials(deepcopy=False)]
    counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for row in trials:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
        seconds[row["state"]] = seconds.get(row["state"], 0.0) + (row["elapsed_s"] or 0.0)
    complete = [r for r in trials if r["state"] == "complete"]
    best = min(complete, key=lambda r: r["value"]) if complete else None
    report: dict[str, Any] = {
        "study": config.study_name,
        "mode": config.mode,
        "sampler": config.sampler,
        "pruner": config.pruner,
        "counts": counts,
        "seconds": seconds,
        "best": best,
        "trials": trials,
    }
    if config.mode == "ablation":
        report["ablation"] = ablation_table(trials)
    return report


def ablation_table(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per change: its validation loss, the difference from the base, steps, tokens."""
    latest: dict[str, dict[str, Any]] = {}
    for row in trials:
        if row["state"] == "complete" and row["change"] is not None:
            latest[row["change"]] = row
    base = latest.get("base")
    table = []
    for label, row in latest.items():
        delta = row["value"] - base["value"] if base is not None else None
        table.append(
            {
                "change": label,
                "val_loss": row["value"],
                "delta_vs_base": delta,
                "steps": row["steps"],
                "tokens": row["tokens"],
            }
        )
    table.sort(key=lambda r: (r["change"] != "base", r["val_loss"]))
    return table


def ablation_markdown(table: list[dict[str, Any]]) -> str:
    lines = [
        "| change | val loss | vs base | steps | tokens |",
        "|---|---|---|---|---|",
    ]
    for row in table:
        delta = "" if row["delta_vs_base"] is None else f"{row['delta_vs_base']:+.4f}"
        lines.append(
            f"| {row['change']} | {row['val_loss']:.4f} | {delta} | {row['steps']} | "
            f"{row['tokens'] or ''} |"
        )
    return "\n".join(lines) + "\n"


def best_parameters(report: dict[str, Any]) -> dict[str, Any]:
    """The best trial's overrides as a ``pretraining`` parameters section (nested keys), ready
    for ``conf/local/parameters_pretraining_best.yml``; empty when no trial completed."""
    best = report.get("best")
    if not best:
        return {}
    return {"pretraining": apply_overrides({}, best["overrides"])}
