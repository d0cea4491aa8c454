"""Shared fixtures: the project root and the bundled corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TINY_SHAKESPEARE = PROJECT_ROOT / "data" / "01_raw" / "tinyshakespeare" / "input.txt"

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def shakespeare_text() -> str:
    return TINY_SHAKESPEARE.read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _isolated_mlflow_state():
    """MLflow keeps the tracking URI, the active experiment and runs in process globals (and
    ``set_experiment`` exports MLFLOW_EXPERIMENT_ID): reset them after each test so that a test's
    fresh store never inherits an experiment id from another test's store."""
    yield
    import mlflow
    from mlflow.tracking import fluent

    while mlflow.active_run() is not None:
        mlflow.end_run()
    fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    mlflow.set_tracking_uri(None)
