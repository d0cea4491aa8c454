"""A real ``kedro run`` of several nodes: what the terminal and the MLflow run show."""

from __future__ import annotations

import pytest

from tests.integration.kedro_project import kedro_run, make_project, mlflow_runs

pytestmark = pytest.mark.slow


def test_a_run_is_named_quiet_and_monitored_once(tmp_path):
    project = make_project(
        tmp_path,
        local_params={
            "parameters_ingestion": {
                "ingestion": {"sources": [{"path": "data/01_raw/tinyshakespeare/input.txt"}]}
            },
            "parameters_tokenization": {"tokenization": {"sentencepiece": {"vocab_size": 400}}},
        },
    )
    proc = kedro_run(project, "--pipelines=data")
    output = proc.stdout + proc.stderr
    # one system-metrics monitor for the run, not one per node
    assert output.count("Started monitoring system metrics") == 1, output[-3000:]
    assert "WARNING" not in output and "Warning:" not in output, output[-3000:]
    (run,) = mlflow_runs(project)
    assert run["tags"]["mlflow.runName"] == "data · tinyshakespeare"
    assert (
        "tokenization/train/tokens" in run["metrics"]
        and "cleaning/documents_kept" in run["metrics"]
    )
    assert all("." not in key for key in run["metrics"]), sorted(run["metrics"])
