"""Model references resolved to models: MLflow URIs (with what to do when an alias is not there
yet), catalog versions, folders; the chat model; and the lineage tags of a fine-tuning run."""

# ruff: noqa: F811 - the bundle fixture, imported below, is every test's parameter

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import pytest
import torch

from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.tracking.model_source import (
    ModelLocations,
    ModelSourceError,
    catalog_model_lineage,
    describe,
    find_chat_model,
    lineage_tags,
    load_model,
    load_registered_model,
)
from kedro_gpt.tracking.registry import register_model
from tests.bundle_fixtures import bundle, sp  # noqa: F401 - fixtures (bundle is a parameter below)


@pytest.fixture
def tracking(tmp_path) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("model-source-test")
    yield uri
    if mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def _register(bundle: ModelBundle, name: str, tags: dict | None = None) -> dict:
    with mlflow.start_run():
        return register_model(bundle, name, tags)


def _same_model(a: ModelBundle, b: ModelBundle) -> None:
    x = torch.randint(0, a.config.vocab_size, (1, 8))
    a.model.eval()
    b.model.eval()
    torch.testing.assert_close(a.model(x)[0], b.model(x)[0])


def test_registered_model_loads_with_its_lineage(bundle, tracking, tmp_path):
    with mlflow.start_run() as run:
        registration = register_model(bundle, "tiny-gpt")
    loaded = load_registered_model(registration["model_uri"], tmp_path / "dl")
    _same_model(loaded, bundle)
    assert loaded.info["lineage"] == {
        "model_uri": "models:/tiny-gpt/1",
        "registered_model": "tiny-gpt",
        "registered_version": "1",
        "run_id": run.info.run_id,
    }
    assert lineage_tags(loaded.info["lineage"])["base_model.run_id"] == run.info.run_id
    assert describe(loaded) == "models:/tiny-gpt/1 (pretrained, not fine-tuned for chat)"


def test_a_registered_model_leaves_no_download_behind(bundle, tracking, tmp_path, monkeypatch):
    _register(bundle, "tiny-gpt")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # where tempfile puts its folders
    other = ModelLocations(tracking_uri=tracking)
    mlflow.set_tracking_uri(None)  # the tracking URI comes from the locations only
    loaded = load_model("models:/tiny-gpt/1", other)
    _same_model(loaded, bundle)
    assert list(temp.iterdir()) == []


def test_an_alias_that_does_not_exist_yet_says_how_it_comes_to_exist(bundle, tracking):
    _register(bundle, "kedro-gpt")
    _register(bundle, "kedro-gpt")
    with pytest.raises(ModelSourceError) as err:
        load_model("models:/kedro-gpt@champion", ModelLocations(tracking_uri=tracking))
    message = str(err.value)
    assert "has no alias 'champion' yet" in message
    assert "kedro run --pipelines=compare" in message and "models:/kedro-gpt/2" in message
    mlflow.MlflowClient().set_registered_model_alias("kedro-gpt", "champion", "1")
    assert load_model("models:/kedro-gpt@champion").info["lineage"]["registered_version"] == "1"


def test_unknown_models_and_versions_are_clear_errors(bundle, tracking, tmp_path):
    with pytest.raises(ValueError, match="cannot fetch model 'models:/nope/1'.*no registered"):
        load_registered_model("models:/nope/1", tmp_path / "dl")
    _register(bundle, "tiny-gpt")
    with pytest.raises(ModelSourceError, match="has versions 1; the latest is models:/tiny-gpt/1"):
        load_registered_model("models:/tiny-gpt/7")
    missing_store = ModelLocations(tracking_uri=f"sqlite:///{tmp_path / 'none.db'}")
    with pytest.raises(ModelSourceError, match="there is no MLflow store at"):
        load_model("models:/tiny-gpt/1", missing_store)
    assert not (tmp_path / "none.db").exists()  # asking did not create one


def _save_version(root: Path, dataset: str, version: str, bundle: ModelBundle, **info) -> Path:
    folder = root / dataset / version / dataset
    folder.mkdir(parents=True)
    ModelBundle(bundle.model, bundle.tokenizer, {**bundle.info, **info}).save(folder)
    return folder


def test_catalog_references_resolve_to_versions(bundle, tmp_path):
    locations = ModelLocations(datasets={d: tmp_path / d for d in ("gpt_model", "finetuned_model")})
    _save_version(tmp_path, "gpt_model", "2026-01-01T00.00.00.000Z", bundle)
    newest = _save_version(tmp_path, "gpt_model", "2026-02-01T00.00.00.000Z", bundle)
    tuned = _save_version(tmp_path, "finetuned_model", "2026-03-01T00.00.00.000Z", bundle)
    assert load_model(None, locations).info["loaded_from"]["path"] == str(newest)
    assert load_model("finetuned_model", locations).info["loaded_from"]["path"] == str(tuned)
    by_version = load_model("2026-03-01T00.00.00.000Z", locations)
    assert by_version.info["loaded_from"]["name"] == "finetuned_model"
    one = load_model("gpt_model:2026-01-01T00.00.00.000Z", locations)
    assert describe(one).startswith("gpt_model version 2026-01-01T00.00.00.000Z")
    version_folder = load_model(str(tuned.parent), locations)  # Kedro's <version>/<name>
    assert version_folder.info["loaded_from"]["path"] == str(tuned)
    with pytest.raises(ModelSourceError, match="not found.*gpt_model"):
        load_model("2027-01-01T00.00.00.000Z", locations)
    with pytest.raises(ModelSourceError, match="no trained model under"):
        load_model(None, ModelLocations(datasets={"gpt_model": tmp_path / "empty"}))


def test_the_chat_model_is_the_newest_chat_tuned_version_then_the_registry(
    bundle, tracking, tmp_path
):
    locations = ModelLocations(
        datasets={d: tmp_path / d for d in ("gpt_model", "finetuned_model")},
        tracking_uri=tracking,
        finetuned_name="tiny-finetuned",
    )
    _save_version(tmp_path, "gpt_model", "2026-05-01T00.00.00.000Z", bundle)
    assert find_chat_model(locations) is None
    _register(bundle, "tiny-finetuned", {"finetune.task": "classification"})
    _register(bundle, "tiny-finetuned", {"finetune.task": "chat"})
    _register(bundle, "tiny-finetuned", {"finetune.task": "text2text"})
    assert find_chat_model(locations) == "models:/tiny-finetuned/2"
    for version, task in [
        ("2026-01-01", "chat"),
        ("2026-02-01", "chat"),
        ("2026-03-01", "text2text"),
    ]:
        _save_version(tmp_path, "finetuned_model", f"{version}T00.00.00.000Z", bundle, task=task)
    reference = find_chat_model(locations)
    assert reference == "finetuned_model:2026-02-01T00.00.00.000Z"
    assert describe(load_model(reference, locations)).endswith("(fine-tuned for chat)")


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
