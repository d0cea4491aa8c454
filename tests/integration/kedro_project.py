"""A throwaway copy of the project for real ``kedro run`` calls in tests."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KEDRO = Path(sys.executable).with_name("kedro")


def make_project(tmp: Path, local_params: dict[str, dict] | None = None, raw: bool = True) -> Path:
    """Copy pyproject, conf/base and (optionally) the bundled raw data into ``tmp``.

    ``local_params`` maps a file stem to the parameters written to ``conf/local/<stem>.yml``,
    which override ``conf/base`` the way a user's local settings would.
    """
    project = tmp / "project"
    project.mkdir()
    (
        project / "src"
    ).mkdir()  # kedro run expects the source folder; the package itself is installed
    shutil.copy(PROJECT_ROOT / "pyproject.toml", project)
    shutil.copytree(PROJECT_ROOT / "conf" / "base", project / "conf" / "base")
    shutil.copy(PROJECT_ROOT / "conf" / "logging.yml", project / "conf")
    (project / "conf" / "local").mkdir()
    for stem, params in (local_params or {}).items():
        (project / "conf" / "local" / f"{stem}.yml").write_text(yaml.safe_dump(params))
    if raw:
        shutil.copytree(PROJECT_ROOT / "data" / "01_raw", project / "data" / "01_raw")
    else:
        (project / "data" / "01_raw").mkdir(parents=True)
    return project


def kedro_run(
    project: Path, *args: str, timeout: int = 600, check: bool = True
) -> subprocess.CompletedProcess:
    """Run the real ``kedro run`` in ``project``; on failure, the output is in the assertion message."""
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "PYTHONUNBUFFERED": "1",
        # a tiny run can end within MLflow's 5 s: sample every second so system/* gets a value
        "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "1",
    }
    proc = subprocess.run(
        [str(KEDRO), "run", *args],
        check=False,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, (
            f"kedro run {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def versions(project: Path, relative: str) -> list[str]:
    """The version folders of a versioned dataset, oldest first."""
    folder = project / relative
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def mlflow_runs(project: Path) -> list[dict]:
    """Runs in the project's MLflow SQLite store, with their tags and latest metrics."""
    with sqlite3.connect(project / "mlflow.db") as db:
        runs = [r[0] for r in db.execute("select run_uuid from runs order by start_time")]
        out = []
        for run in runs:
            tags = dict(
                db.execute("select key, value from tags where run_uuid=?", (run,)).fetchall()
            )
            metrics = dict(
                db.execute(
                    "select key, value from latest_metrics where run_uuid=?", (run,)
                ).fetchall()
            )
            params = dict(
                db.execute("select key, value from params where run_uuid=?", (run,)).fetchall()
            )
            out.append({"run_id": run, "tags": tags, "metrics": metrics, "params": params})
        return out
