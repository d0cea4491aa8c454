"""A run says what it was: its name, its metric groups, readable Kedro tags, a training UI."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from kedro.config import OmegaConfigLoader
from kedro.runner import SequentialRunner
from mlflow.tracking import MlflowClient

from kedro_gpt.settings import CONFIG_LOADER_ARGS
from kedro_gpt.tracking.run_info import (
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    describe_active_run,
    run_name,
    runner_name,
)

CONF = Path(__file__).resolve().parents[2] / "conf"


def shipped_params(env: str, *keys: str):
    """The shipped parameters the run's nodes read (``keys``), as the hook looks them up."""
    params = OmegaConfigLoader(str(CONF), env=env, **CONFIG_LOADER_ARGS)["parameters"]
    return lambda key: params.get(key) if key in keys else None


PRETRAIN = ("ingestion", "cleaning", "tokenization", "pretraining", "evaluation")


def test_names_say_pipeline_model_and_corpus_of_the_shipped_configuration():
    assert run_name(["pretrain"], "local", shipped_params("base", *PRETRAIN)) == (
        "pretrain · cpu-small · tinyshakespeare+2"
    )
    assert run_name(["pretrain"], "gpu", shipped_params("gpu", *PRETRAIN)) == (
        "pretrain · gpt2 · tinyshakespeare+2 · env=gpu"
    )
    finetune = run_name(["finetune"], "local", shipped_params("base", "finetuning"))
    assert finetune == "finetune · chat-full"
    shape = {"pretraining": {"model": {"preset": None, "n_layer": 2, "n_embd": 32}}}
    assert run_name(["pretraining"], None, shape.get) == "pretraining · layer2-embd32"


def test_a_preset_resized_is_named_by_its_shape():
    """conf/english widens cpu-small to 192; a run named cpu-small would hide it."""
    english = run_name(["pretraining"], "english", shipped_params("english", *PRETRAIN))
    assert english == "pretraining · layer4-embd192 · wiki_en_2015_AA · env=english"
    deeper = {"pretraining": {"model": {"preset": "gpt2", "n_layer": 8}}}
    assert run_name(["pretraining"], None, deeper.get) == "pretraining · layer8-embd768"
    same = {"pretraining": {"model": {"preset": "gpt2", "n_layer": 12, "block_size": 256}}}
    assert run_name(["pretraining"], None, same.get) == "pretraining · gpt2"


def test_runner_tag_is_the_class_name():
    assert runner_name(str(SequentialRunner())) == "SequentialRunner"
    assert runner_name("kedro.runner.ParallelRunner") == "ParallelRunner"
    assert runner_name(None) == "SequentialRunner"


@pytest.fixture
def client(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("run-info-test")
    yield MlflowClient()
    mlflow.set_tracking_uri(None)


def _kedro_run_params(**extra):
    # what kedro-mlflow copies into tags from Kedro's run_params (runner as Kedro passes it)
    return {
        "run_id": "2026-12-02T06.00.00.000Z",
        "env": "local",
        "pipeline_names": ["pretrain"],
        "runner": str(SequentialRunner()),
        **extra,
    }


def test_the_active_run_is_named_described_and_tagged(client):
    run_params = _kedro_run_params()
    with mlflow.start_run(run_name="pretrain") as run:  # kedro-mlflow's name: the pipeline
        mlflow.set_tags({k: v for k, v in run_params.items() if v})
        describe_active_run(run_params, shipped_params("base", *PRETRAIN))
    got = client.get_run(run.info.run_id)
    assert got.info.run_name == "pretrain · cpu-small · tinyshakespeare+2"
    tags = got.data.tags
    assert "`val_sampled/*`" in tags["mlflow.note.content"]
    assert "`eval/val_full/*`" in tags["mlflow.note.content"]
    assert tags["runner"] == "SequentialRunner"
    assert tags["kedro.session_id"] == run_params["run_id"] and "run_id" not in tags
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND


def test_a_name_the_user_gave_is_kept(client):
    with mlflow.start_run(run_name="my-label") as run:  # tracking.run.name in mlflow.yml
        describe_active_run(_kedro_run_params(), shipped_params("base", *PRETRAIN))
    assert client.get_run(run.info.run_id).info.run_name == "my-label"
    params = _kedro_run_params(runtime_params={"run_name": "from --params"})
    with mlflow.start_run(run_name="pretrain") as run:
        describe_active_run(params, shipped_params("base", *PRETRAIN))
    assert client.get_run(run.info.run_id).info.run_name == "from --params"
