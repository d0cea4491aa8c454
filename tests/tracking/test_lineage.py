"""The tracking URI of mlflow.yml means the same store wherever Kedro starts (root or notebooks/)."""

from __future__ import annotations

from pathlib import Path

from kedro_gpt.tracking.lineage import project_tracking_uri


def test_a_relative_sqlite_store_is_the_projects(tmp_path: Path) -> None:
    assert project_tracking_uri("sqlite:///mlflow.db", tmp_path) == (
        f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    )
    assert project_tracking_uri("sqlite:///runs/m.db", tmp_path).endswith("/runs/m.db")


def test_other_uris_are_left_as_they_are(tmp_path: Path) -> None:
    for uri in ("sqlite:////srv/mlflow.db", "http://127.0.0.1:5000", "databricks", None, ""):
        assert project_tracking_uri(uri, tmp_path) == uri
