"""The training callback that records a run in MLflow (training/ itself never imports MLflow).

Params ``train.<field>`` and ``model.<field>``; metrics ``train/<name>`` at every log step,
``val/<name>`` at every evaluation and ``final_val/<name>`` for the full final pass; tags
``checkpoint.last``/``checkpoint.best`` with the folders and ``training.stopped_by``.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from kedro_gpt.training.callbacks import TrainCallback
from kedro_gpt.training.result import TrainResult

logger = logging.getLogger(__name__)

TRAIN_METRICS = ("loss", "lr", "grad_norm", "tokens_per_s", "mfu", "tokens_seen", "elapsed_s")
MAX_PARAM = 6000


class MLflowCallback(TrainCallback):
    """Log to the MLflow run ``run_id``, or to the active run when none is given.

    Without either the callback does nothing (and says so once), so training never fails
    for want of a tracking server.
    """

    def __init__(self, run_id: str | None = None, client: MlflowClient | None = None) -> None:
        self.run_id = run_id
        self.client = client

    def _ready(self) -> bool:
        if self.run_id is None:
            active = mlflow.active_run()
            if active is None:
                logger.warning("no active MLflow run: training metrics are not tracked")
                self.run_id = ""
                return False
            self.run_id = active.info.run_id
        if not self.run_id:
            return False
        if self.client is None:
            self.client = MlflowClient()
        return True

    def _metrics(self, prefix: str, step: int, values: dict[str, Any], names=None) -> None:
        if not self._ready():
            return
        now = int(time.time() * 1000)
        batch = [
            Metric(f"{prefix}/{k}", float(v), now, step)
            for k, v in values.items()
            if (names is None or k in names)
            and isinstance(v, int | float)
            and math.isfinite(float(v))
        ]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def on_train_start(self, info: dict[str, Any]) -> None:
        if not self._ready():
            return
        params = {f"train.{k}": v for k, v in (info.get("train_config") or {}).items()}
        params.update({f"model.{k}": v for k, v in (info.get("model_config") or {}).items()})
        for key in ("num_params", "world_size", "device", "dtype"):
            if key in info:
                params[key] = info[key]
        existing = self.client.get_run(self.run_id).data.params
        fresh = [
            Param(k, str(v)[:MAX_PARAM]) for k, v in params.items() if k not in existing
        ]  # a resumed run keeps the params it started with
        try:
            if fresh:
                self.client.log_batch(self.run_id, params=fresh)
        except MlflowException as err:
            logger.warning("could not log training params to MLflow: %s", err)
        if info.get("matmul_peak_flops"):
            self._metrics("system", 0, {"matmul_peak_flops": info["matmul_peak_flops"]})

    def on_log(self, step: int, metrics: dict[str, float]) -> None:
        self._metrics("train", step, metrics, TRAIN_METRICS)

    def on_eval(self, step: int, metrics: dict[str, float]) -> None:
        prefix = "final_val" if metrics.get("final") else "val"
        self._metrics(
            prefix, step, {k: v for k, v in metrics.items() if k not in {"final", "step"}}
        )

    def on_checkpoint(self, step: int, path: Path, is_best: bool) -> None:
        if not self._ready():
            return
        name = "best" if is_best else "last"
        self.client.log_batch(
            self.run_id,
            tags=[
                RunTag(f"checkpoint.{name}", str(path)),
                RunTag(f"checkpoint.{name}_step", str(step)),
            ],
        )

    def on_train_end(self, result: TrainResult) -> None:
        if not self._ready():
            return
        self.client.set_tag(self.run_id, "training.stopped_by", result.stopped_by)
        summary = {"steps": result.step, "tokens": result.tokens, "elapsed_s": result.elapsed_s}
        if result.best_val_loss is not None:
            summary["best_val_loss"] = result.best_val_loss
        self._metrics("run", result.step, summary)
