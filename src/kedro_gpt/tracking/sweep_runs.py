"""Each sweep trial as an MLflow run nested under the sweep's run (the parent)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mlflow

from kedro_gpt.tracking.mlflow_callback import MLflowCallback


@contextmanager
def trial_run(study: str, number: int, overrides: dict[str, Any]) -> Iterator[MLflowCallback]:
    """A nested run ``<study> trial <number>`` with the trial's overrides as params (``trial.*``)
    and tags; yields the callback that records its training. The run ends FINISHED, or KILLED
    with the tag ``sweep.state = pruned`` when the trial was pruned, FAILED on any other error.
    Without an active parent run, the trial is not tracked (the callback does nothing)."""
    if mlflow.active_run() is None:
        yield MLflowCallback(params_prefix="pretraining")
        return
    import optuna  # the sweep's optional dependency

    run = mlflow.start_run(run_name=f"{study} trial {number}", nested=True)
    status = "FINISHED"
    try:
        mlflow.set_tags({"sweep.study": study, "sweep.trial": str(number)})
        mlflow.log_params({f"trial.{k}": v for k, v in overrides.items()})
        yield MLflowCallback(run_id=run.info.run_id, params_prefix="pretraining")
        mlflow.set_tag("sweep.state", "complete")
    except optuna.TrialPruned as pruned:
        status = "KILLED"
        mlflow.set_tags({"sweep.state": "pruned", "sweep.pruned": str(pruned)})
        raise
    except Exception:
        status = "FAILED"
        mlflow.set_tag("sweep.state", "failed")
        raise
    finally:
        mlflow.end_run(status)  # this trial's run: the parent is active again


def log_trial_to_parent(study: Any, trial: Any) -> None:
    """On the sweep's own run, at step = the trial's number: ``sweep/trial_value`` (a pruned
    trial's last reported loss), ``sweep/best_value`` so far and ``sweep/trial_seconds``, so
    the parent's charts show the study's history; a failed trial logs nothing."""
    if mlflow.active_run() is None:
        return
    value = trial.value
    if value is None and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    if value is None:
        return
    metrics = {"sweep/trial_value": float(value)}
    complete = [t.value for t in study.get_trials(deepcopy=False) if t.value is not None]
    if complete:
        metrics["sweep/best_value"] = float(min(complete))
    if trial.datetime_start and trial.datetime_complete:
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
        metrics["sweep/trial_seconds"] = seconds
    mlflow.log_metrics(metrics, step=trial.number)
