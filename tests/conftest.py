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


def _project_store_state() -> tuple[object, set[str]]:
    """The project's own MLflow store: mlflow.db's size and time, and every file under mlruns/."""
    db = PROJECT_ROOT / "mlflow.db"
    runs = PROJECT_ROOT / "mlruns"
    stamp = (db.stat().st_size, db.stat().st_mtime_ns) if db.exists() else None
    files = {str(p.relative_to(PROJECT_ROOT)) for p in runs.rglob("*")} if runs.exists() else set()
    return stamp, files


@pytest.fixture(scope="session", autouse=True)
def _project_mlflow_store_untouched():
    """Tests write only to their own temporary stores: the project's mlflow.db and mlruns/ (what
    `make run` and `mlflow ui` use) are the same after the session as before it."""
    db_before, files_before = _project_store_state()
    yield
    db_after, files_after = _project_store_state()
    assert db_after == db_before, "the test session wrote to the project's mlflow.db"
    new = sorted(files_after - files_before)
    assert not new, (
        f"the test session wrote {len(new)} file(s) under the project's mlruns/: {new[:5]}"
    )


@pytest.fixture(autouse=True)
def _isolated_mlflow_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch):
    """MLflow keeps the tracking URI, the active experiment and runs in process globals (and
    ``set_experiment`` exports MLFLOW_EXPERIMENT_ID): reset them after each test so that a test's
    fresh store never inherits an experiment id from another test's store.

    An SQLite store keeps artifacts under ``./mlruns`` of the working directory (the project
    root under pytest) unless an experiment says otherwise; a test's store keeps them in a
    temporary folder instead, so no run leaves orphan artifacts in the project."""
    from mlflow.tracking._tracking_service import utils

    artifacts = tmp_path_factory.mktemp("mlruns")
    monkeypatch.setattr(utils, "DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH", str(artifacts))
    yield
    import mlflow
    from mlflow.tracking import fluent

    while mlflow.active_run() is not None:
        mlflow.end_run()
    fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    mlflow.set_tracking_uri(None)
