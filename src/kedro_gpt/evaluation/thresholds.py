"""Promotion thresholds: the bars a model must clear, failures as sentences."""

from __future__ import annotations

import math
from collections.abc import Mapping


def check_thresholds(
    metrics: Mapping[str, float], thresholds: Mapping[str, Mapping[str, float]]
) -> list[str]:
    """The thresholds a model fails, as sentences (``{"metric": {"min": x, "max": y}}``)."""
    failed = []
    for name, bounds in thresholds.items():
        value = metrics.get(name)
        if value is None or not math.isfinite(value):
            failed.append(f"{name}: no value was measured")
            continue
        if "min" in bounds and value < bounds["min"]:
            failed.append(f"{name} = {value:.4g} is below the minimum {bounds['min']}")
        if "max" in bounds and value > bounds["max"]:
            failed.append(f"{name} = {value:.4g} is above the maximum {bounds['max']}")
    return failed
