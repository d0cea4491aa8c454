"""Metric names and the shape kedro-mlflow's ``MlflowMetricsHistoryDataset`` saves.

Every metric of a run is named ``<group>/<name>`` with ``/`` as the one separator, so the MLflow UI
puts each group in a chart section of its own (a section is the name up to its last ``/``):

- ``train/*``: the training loop, every ``log_interval`` steps
- ``val_sampled/*``: validation during training, on ``eval_batches`` sampled batches
- ``val_full/*``: the training loop's own full validation pass (``final_eval: true``)
- ``eval/val_full/*``: the evaluation stage, every validation token of the saved model
- ``summary/*``: one value per run (steps, tokens, mean throughput, best sampled val loss)
- ``cleaning/*``, ``tokenization/*``, ``finetune/*``, ``comparison/*``: the stages' reports
- ``system/*``: MLflow's own CPU, memory, disk, network and GPU samples
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from kedro.io import DatasetError
from kedro_mlflow.io.metrics import MlflowMetricsHistoryDataset


def metric_history(values: Mapping[str, float], step: int = 0) -> dict[str, dict[str, float]]:
    """Finite numeric ``values`` as one-step metric histories (non-finite values are left out)."""
    return {
        name: {"value": float(v), "step": step}
        for name, v in values.items()
        if isinstance(v, int | float) and math.isfinite(float(v))
    }


def metric_key(group: str, name: str) -> str:
    """``group/name`` with any ``.`` in the name (``train.tokens``) as ``/`` too."""
    return f"{group}/{name.replace('.', '/')}" if group else name.replace(".", "/")


class GroupedMetricsHistoryDataset(MlflowMetricsHistoryDataset):
    """kedro-mlflow's metrics dataset, naming each metric ``<prefix>/<key>`` instead of
    ``<prefix>.<key>`` (see the module docstring)."""

    def _build_args_list_from_metric_item(
        self, key: str, value: Any
    ) -> Iterator[tuple[str, float, int]]:
        name = metric_key(self._prefix or "", key)
        items = [value] if isinstance(value, dict) else value
        if not isinstance(items, list) or not items:
            raise DatasetError(
                f"metric {name!r}: expected {{'value', 'step'}} or a list of them, got {value!r}"
            )
        return ((name, item["value"], item["step"]) for item in items)

    def _is_dataset_metric(self, key: str) -> bool:
        return self._prefix is None or key.startswith(f"{self._prefix}/")
