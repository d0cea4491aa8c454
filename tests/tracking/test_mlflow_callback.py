"""The MLflow callback records a real training run in a real (sqlite) tracking store."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from kedro_gpt.tracking.mlflow_callback import MLflowCallback
from kedro_gpt.training import RandomWindows, ShardEvaluator, TrainConfig, train
from tests.training.conftest import tiny_config, tiny_model


def _train(splits, tmp_path, callback: MLflowCallback, **config):
    val = splits["val"]
    return train(
        tiny_model(),
        RandomWindows(list(splits["train"].shards), 16, 4, seed=0),
        tiny_config(max_steps=10, eval_interval=5, checkpoint_interval=5, **config),
        tmp_path / "run",
        evaluator=ShardEvaluator(list(val.shards), val.meta, 16, 4, 2, seed=0),
        callbacks=[callback],
    )


@pytest.fixture
def store(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("training-test")
    yield MlflowClient()
    mlflow.set_tracking_uri(None)


@pytest.mark.slow
def test_metrics_are_grouped_and_named_for_what_they_measure(splits, tmp_path, store):
    with mlflow.start_run() as run:
        result = _train(splits, tmp_path, MLflowCallback(), final_eval=True)
    run_id = run.info.run_id
    data = store.get_run(run_id).data
    losses = store.get_metric_history(run_id, "train/loss")
    assert [(m.step, m.value) for m in losses] == [
        (int(h["step"]), h["loss"]) for h in result.history
    ]
    assert [m.step for m in store.get_metric_history(run_id, "val_sampled/loss")] == [5, 10]
    assert data.metrics["val_full/bits_per_char"] == result.final_eval["bits_per_char"]
    assert all("/" in k and "." not in k for k in data.metrics), sorted(data.metrics)
    # the run's mean throughput, not the last window's
    assert data.metrics["summary/tokens_per_s_mean"] == pytest.approx(result.tokens_per_s)
    assert data.metrics["summary/mfu_mean"] == pytest.approx(result.mfu)
    assert data.metrics["summary/best_val_loss_sampled"] == result.best_val_loss
    assert (
        float(data.params["run.matmul_peak_flops"]) > 0
        and "system/matmul_peak_flops" not in data.metrics
    )
    assert data.tags["checkpoint.last"] == result.last_path
    assert data.tags["training.stopped_by"] == "max_steps"


@pytest.mark.slow
def test_each_parameter_is_logged_once_beside_what_kedro_mlflow_logged(splits, tmp_path, store):
    with mlflow.start_run() as run:
        # what kedro-mlflow logs from the node's `params:pretraining` before the node runs
        mlflow.log_params({"pretraining.training.batch_size": 4, "pretraining.model.preset": "x"})
        _train(splits, tmp_path, MLflowCallback(params_prefix="pretraining"))
    params = store.get_run(run.info.run_id).data.params
    for field in TrainConfig.model_fields:
        assert [k for k in params if k.endswith(f"training.{field}")] == [
            f"pretraining.training.{field}"
        ], field
    assert params["pretraining.training.batch_size"] == "4"
    assert params["pretraining.training.beta1"] == "0.9"  # a default, logged by the callback
    assert params["pretraining.model.n_layer"] == "2"  # resolved, not in the user's parameters
    assert params["pretraining.run.device"] == "cpu"  # what `device: auto` resolved to
    assert not [k for k in params if k.startswith(("train.", "model."))]


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
