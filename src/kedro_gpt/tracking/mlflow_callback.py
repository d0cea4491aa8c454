"""The training callback that records a run in MLflow (training/ itself never imports MLflow).

Metrics (see :mod:`kedro_gpt.tracking.metrics` for every group): ``train/<name>`` at every log
step; ``val_sampled/<name>`` at every periodic evaluation (``eval_batches`` sampled validation
batches, the figure that picks the ``best`` checkpoint); ``val_full/<name>`` for the full pass over
every validation token when ``final_eval`` is on; at the end ``summary/<name>``: steps, tokens,
elapsed seconds, the run's mean ``tokens_per_s`` and ``mfu`` (all tokens over all training time,
not the last window) and the best sampled validation loss.

Params: the resolved training and model configuration, ``<params_prefix>.training.<field>`` and
``<params_prefix>.model.<field>``, each logged once: a key kedro-mlflow already logged from the
node's parameters (``pretraining.training.batch_size``) is left as it is, so the run holds what
the user set and, beside it, the defaults and preset values that training used. What the run
resolved, under ``<params_prefix>.run.``: ``num_params``, ``world_size``, ``device``, ``dtype``
(``auto`` made concrete) and ``matmul_peak_flops`` (the MFU denominator). Tags
``checkpoint.last``/``checkpoint.best`` with the folders and ``training.stopped_by``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from kedro_gpt.tracking.metrics import metric_key
from kedro_gpt.training.callbacks import TrainCallback
from kedro_gpt.training.result import TrainResult

logger = logging.getLogger(__name__)

TRAIN_METRICS = ("loss", "lr", "grad_norm", "tokens_per_s", "mfu", "tokens_seen", "elapsed_s")
RUN_PARAMS = ("num_params", "world_size", "device", "dtype", "matmul_peak_flops")
MAX_PARAM = 6000


def _finite(values: Mapping[str, Any], names: Iterable[str] | None = None) -> dict[str, float]:
    keep = set(names) if names is not None else None
    return {
        k: float(v)
        for k, v in values.items()
        if (keep is None or k in keep) and isinstance(v, int | float) and math.isfinite(float(v))
    }


class MLflowCallback(TrainCallback):
    """Log to the MLflow run ``run_id``, or to the active run when none is given.

    ``params_prefix`` is the parameters key the node read (``"pretraining"``, ``"finetuning"``),
    so the resolved configuration lands beside what kedro-mlflow logged from it. Without a run
    the callback does nothing (and says so once): training never fails for want of a tracking
    server.
    """

    def __init__(
        self,
        run_id: str | None = None,
        client: MlflowClient | None = None,
        params_prefix: str = "",
    ) -> None:
        self.run_id = run_id
        self.client = client
        self.params_prefix = params_prefix

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

    def _metrics(self, group: str, step: int, values: dict[str, float]) -> None:
        if not values or not self._ready():
            return
        now = int(time.time() * 1000)
        batch = [Metric(metric_key(group, k), v, now, step) for k, v in values.items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def _param_key(self, section: str, field: str) -> str:
        return ".".join(p for p in (self.params_prefix, section, field) if p)

    def on_train_start(self, info: dict[str, Any]) -> None:
        if not self._ready():
            return
        params = {
            self._param_key("training", k): v for k, v in (info.get("train_config") or {}).items()
        }
        model = info.get("model_config") or {}
        params.update({self._param_key("model", k): v for k, v in model.items()})
        params.update({self._param_key("run", k): info[k] for k in RUN_PARAMS if k in info})
        existing = self.client.get_run(self.run_id).data.params
        # what kedro-mlflow logged from the node's parameters stays; a resumed run keeps its own
        fresh = [Param(k, str(v)[:MAX_PARAM]) for k, v in params.items() if k not in existing]
        try:
            for start in range(0, len(fresh), 100):  # MLflow takes 100 params per batch
                self.client.log_batch(self.run_id, params=fresh[start : start + 100])
        except MlflowException as err:
            logger.warning("could not log training params to MLflow: %s", err)

    def on_log(self, step: int, metrics: dict[str, float]) -> None:
        self._metrics("train", step, _finite(metrics, TRAIN_METRICS))

    def on_eval(self, step: int, metrics: dict[str, float]) -> None:
        group = "val_full" if metrics.get("final") else "val_sampled"
        values = {k: v for k, v in metrics.items() if k not in {"final", "step"}}
        self._metrics(group, step, _finite(values))

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
        summary = {
            "steps": result.step,
            "tokens": result.tokens,
            "elapsed_s": result.elapsed_s,
            "tokens_per_s_mean": result.tokens_per_s,
            "mfu_mean": result.mfu,
            "best_val_loss_sampled": result.best_val_loss,
        }
        self._metrics(
            "summary", result.step, _finite({k: v for k, v in summary.items() if v is not None})
        )
