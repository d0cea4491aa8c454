"""The MLflow callback records a real training run in a real (sqlite) tracking store."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from kedro_gpt.tracking.mlflow_callback import MLflowCallback
from kedro_gpt.training import RandomWindows, ShardEvaluator, train
from tests.training.conftest import tiny_config, tiny_model


@pytest.mark.slow
def test_metrics_params_and_checkpoints_reach_mlflow(splits, tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        mlflow.set_experiment("training-test")
        val = splits["val"]
        with mlflow.start_run() as run:
            result = train(
                tiny_model(),
                RandomWindows(list(splits["train"].shards), 16, 4, seed=0),
                tiny_config(max_steps=10, eval_interval=5, checkpoint_interval=5),
                tmp_path / "run",
                evaluator=ShardEvaluator(list(val.shards), val.meta, 16, 4, 2, seed=0),
                callbacks=[MLflowCallback()],
            )
        client = MlflowClient()
        data = client.get_run(run.info.run_id).data
        losses = client.get_metric_history(run.info.run_id, "train/loss")
        assert [(m.step, m.value) for m in losses] == [
            (int(h["step"]), h["loss"]) for h in result.history
        ]
        assert [m.step for m in client.get_metric_history(run.info.run_id, "val/loss")] == [5, 10]
        assert data.metrics["final_val/bits_per_char"] == result.final_eval["bits_per_char"]
        assert data.params["train.batch_size"] == "4" and data.params["model.n_layer"] == "2"
        assert data.tags["checkpoint.last"] == result.last_path
        assert data.tags["training.stopped_by"] == "max_steps"
    finally:
        mlflow.set_tracking_uri(None)


def test_without_a_run_nothing_is_logged_and_nothing_fails(splits, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's default stores would appear here
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert mlflow.active_run() is None
    result = train(
        tiny_model(),
        RandomWindows(list(splits["train"].shards), 16, 4, seed=0),
        tiny_config(max_steps=5),
        tmp_path / "run",
        callbacks=[MLflowCallback()],
    )
    assert result.step == 5 and mlflow.active_run() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no store, no run created
