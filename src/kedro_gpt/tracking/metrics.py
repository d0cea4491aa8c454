"""The shape kedro-mlflow's ``MlflowMetricsHistoryDataset`` saves: ``{name: {"value", "step"}}``."""

from __future__ import annotations

import math
from collections.abc import Mapping


def metric_history(values: Mapping[str, float], step: int = 0) -> dict[str, dict[str, float]]:
    """Finite numeric ``values`` as one-step metric histories (non-finite values are left out)."""
    return {
        name: {"value": float(v), "step": step}
        for name, v in values.items()
        if isinstance(v, int | float) and math.isfinite(float(v))
    }
