"""The callbacks a training node hands the loop: MLflow always, TensorBoard when asked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow

from kedro_gpt.tracking.lineage import log_artifact
from kedro_gpt.tracking.mlflow_callback import MLflowCallback
from kedro_gpt.training.callbacks import TrainCallback

if TYPE_CHECKING:
    from kedro_gpt.training.tensorboard import Sampler


@contextmanager
def run_callbacks(
    stage: str, tensorboard_dir: str | None, sampler: Sampler | None = None
) -> Iterator[list[TrainCallback]]:
    """``[MLflowCallback]``, plus a ``TensorBoardCallback`` writing under
    ``<tensorboard_dir>/<stage>-<MLflow run id or time>`` when ``tensorboard_dir`` is set (with
    ``sampler``'s text at each new best checkpoint); that folder is logged to the MLflow run
    (artifact path ``tensorboard``) when training ends."""
    callbacks: list[TrainCallback] = [MLflowCallback(params_prefix=stage)]
    folder: Path | None = None
    if tensorboard_dir:
        from kedro_gpt.training.tensorboard import TensorBoardCallback

        run = mlflow.active_run()
        name = run.info.run_id if run is not None else time.strftime("%Y%m%dT%H%M%S")
        folder = Path(tensorboard_dir) / f"{stage}-{name}"
        callbacks.append(TensorBoardCallback(folder, sampler))
    yield callbacks
    if folder is not None and folder.exists():
        log_artifact(folder, "tensorboard")
