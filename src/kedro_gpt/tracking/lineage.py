"""Lineage tags: which version of every catalog dataset a run read and wrote, and the git commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import mlflow
import mlflow.system_metrics
from mlflow.environment_variables import MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL

MAX_TAG = 5000


def git_commit(project_path: Path | str = ".") -> str:
    """The current commit, with ``-dirty`` when the work tree has changes; ``unknown`` outside git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=project_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def tag_run(tags: dict[str, str]) -> None:
    """Set tags on the active MLflow run; does nothing when no run is active."""
    if mlflow.active_run() is None:
        return
    mlflow.set_tags({k: str(v)[:MAX_TAG] for k, v in tags.items()})


def tag_dataset_version(direction: str, dataset_name: str, version: str | None) -> None:
    """Tag ``lineage.<direction>.<dataset>`` with the version read or written (``direction``: input/output)."""
    if version:
        tag_run({f"lineage.{direction}.{dataset_name}": version})


def log_artifact(path: str | Path, artifact_path: str | None) -> None:
    """Log a file or folder to the active MLflow run; does nothing when no run is active."""
    if mlflow.active_run() is None:
        return
    path = Path(path)
    if path.is_dir():
        mlflow.log_artifacts(
            str(path), artifact_path=f"{artifact_path}/{path.name}" if artifact_path else path.name
        )
    elif path.exists():
        mlflow.log_artifact(str(path), artifact_path=artifact_path)


def project_tracking_uri(uri: str | None, project_path: Path | str) -> str | None:
    """``sqlite:///mlflow.db`` made absolute against the project root (MLflow would read it
    against the working directory: a notebook in ``notebooks/`` would get a store of its own)."""
    prefix = "sqlite:///"
    if not uri or not uri.startswith(prefix) or uri.startswith(prefix + "/"):
        return uri
    path = uri.removeprefix(prefix)
    if path == ":memory:" or Path(path).is_absolute():
        return uri
    return f"{prefix}{(Path(project_path) / path).resolve()}"


def enable_system_metrics(sampling_interval_s: float = 5.0) -> None:
    """Log CPU, memory, disk, network (psutil) and GPU (where present) as ``system/*`` metrics
    of every MLflow run started from now on, every ``sampling_interval_s`` seconds unless
    MLflow's own ``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` says otherwise."""
    if MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL.get() is None:
        mlflow.system_metrics.set_system_metrics_sampling_interval(sampling_interval_s)
    mlflow.system_metrics.set_system_metrics_samples_before_logging(1)
    mlflow.enable_system_metrics_logging()
