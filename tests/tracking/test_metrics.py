"""Stage metrics reach MLflow as ``<group>/<name>``, one separator, one chart section per group."""

from __future__ import annotations

import mlflow
import pytest
import yaml
from kedro.io import DataCatalog, DatasetError

from kedro_gpt.tracking.metrics import (
    GroupedMetricsHistoryDataset,
    metric_history,
)
from tests.conftest import PROJECT_ROOT


@pytest.fixture
def run(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("metrics-test")
    with mlflow.start_run() as active:
        yield active
    mlflow.set_tracking_uri(None)


def test_grouped_dataset_names_metrics_with_slashes_and_loads_them_back(run):
    dataset = GroupedMetricsHistoryDataset(prefix="tokenization")
    values = metric_history({"vocab_size": 400, "train.tokens": 1000, "val.bits": float("nan")})
    values["val.tokens"] = [{"value": 10.0, "step": 0}, {"value": 12.0, "step": 1}]
    dataset.save(values)
    logged = mlflow.MlflowClient().get_run(run.info.run_id).data.metrics
    assert logged == {
        "tokenization/vocab_size": 400.0,
        "tokenization/train/tokens": 1000.0,
        "tokenization/val/tokens": 12.0,
    }
    assert set(dataset.load()) == set(logged)
    with pytest.raises(DatasetError, match="tokenization/bad"):
        dataset.save({"bad": 3.0})


def test_the_catalogs_metrics_datasets_are_grouped(run):
    conf = {}
    for name in ("catalog.yml", "catalog_finetune.yml", "catalog_comparison.yml"):
        conf.update(yaml.safe_load((PROJECT_ROOT / "conf/base" / name).read_text()))
    metrics = {k: v for k, v in conf.items() if k.endswith("_metrics")}
    assert metrics and all(
        v["type"] == "kedro_gpt.tracking.metrics.GroupedMetricsHistoryDataset"
        for v in metrics.values()
    )
    catalog = DataCatalog.from_config(
        {k: metrics[k] for k in ("evaluation_metrics", "cleaning_metrics")}
    )
    catalog.save("evaluation_metrics", metric_history({"loss": 1.5}))
    catalog.save("cleaning_metrics", metric_history({"dropped.length": 2}))
    logged = mlflow.MlflowClient().get_run(run.info.run_id).data.metrics
    assert logged == {"eval/val_full/loss": 1.5, "cleaning/dropped/length": 2.0}
