"""Starting models from the MLflow registry, and the lineage tags of a fine-tuning run."""

from __future__ import annotations

import mlflow
import pytest
import torch

from kedro_gpt.tracking.model_source import (
    catalog_model_lineage,
    lineage_tags,
    load_registered_model,
)
from kedro_gpt.tracking.registry import register_model


@pytest.fixture
def tracking(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("finetune-test")
    yield
    if mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def test_registered_model_loads_with_its_lineage(bundle, tracking, tmp_path):
    with mlflow.start_run() as run:
        registration = register_model(bundle, "tiny-gpt")
    loaded = load_registered_model(registration["model_uri"], tmp_path / "dl")
    x = torch.randint(0, bundle.config.vocab_size, (1, 8))
    bundle.model.eval()
    torch.testing.assert_close(loaded.model(x)[0], bundle.model(x)[0])
    assert loaded.info["lineage"] == {
        "model_uri": "models:/tiny-gpt/1",
        "registered_model": "tiny-gpt",
        "registered_version": "1",
        "run_id": run.info.run_id,
    }
    assert lineage_tags(loaded.info["lineage"])["base_model.run_id"] == run.info.run_id


def test_unknown_model_uri_is_a_clear_error(tracking, tmp_path):
    with pytest.raises(ValueError, match="cannot fetch model 'models:/nope/1'"):
        load_registered_model("models:/nope/1", tmp_path / "dl")


def test_catalog_version_is_traced_to_the_pretraining_run(bundle, tracking):
    with mlflow.start_run() as pretrain:
        mlflow.set_tag("lineage.output.gpt_model", "2026-01-01T00.00.00.000Z")
        register_model(bundle, "tiny-gpt")
    with mlflow.start_run():
        mlflow.set_tag("lineage.input.gpt_model", "2026-01-01T00.00.00.000Z")
        lineage = catalog_model_lineage()
    assert lineage == {
        "catalog_dataset": "gpt_model",
        "catalog_version": "2026-01-01T00.00.00.000Z",
        "run_id": pretrain.info.run_id,
        "registered_model": "tiny-gpt",
        "registered_version": "1",
    }
    assert catalog_model_lineage() == {}  # no active run
