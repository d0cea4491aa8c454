"""Model locations come from the project's conf/, read as `kedro run` reads it."""

from __future__ import annotations

from pathlib import Path

from kedro_gpt import settings
from kedro_gpt.serving.project import LOADER_ARGS, model_locations

CATALOG = """
gpt_model:
  type: kedro_gpt.datasets.GPTModelDataset
  filepath: elsewhere/pretrained
  versioned: true
my_finetune:
  type: kedro_gpt.datasets.GPTModelDataset
  filepath: elsewhere/tuned
  versioned: true
unversioned:
  type: kedro_gpt.datasets.GPTModelDataset
  filepath: elsewhere/once
tokenizer:
  type: kedro_gpt.datasets.SentencePieceModelDataset
  filepath: elsewhere/tokenizer.model
  versioned: true
"""


def _project(root: Path) -> Path:
    for env in ("base", "local", "gpu"):
        (root / "conf" / env).mkdir(parents=True)
    (root / "conf" / "base" / "catalog.yml").write_text(CATALOG)
    (root / "conf" / "base" / "mlflow.yml").write_text(
        "server:\n  mlflow_tracking_uri: sqlite:///mlflow.db\n"
    )
    (root / "conf" / "base" / "parameters_finetuning.yml").write_text(
        "finetuning:\n  registry:\n    model_name: my-chat\n"
    )
    (root / "conf" / "gpu" / "catalog.yml").write_text(
        "gpt_model:\n  type: kedro_gpt.datasets.GPTModelDataset\n"
        "  filepath: big/pretrained\n  versioned: true\n"
    )
    return root


def test_the_catalog_says_where_model_versions_live(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = _project(tmp_path)
    locations = model_locations(root)
    assert locations.datasets == {
        "gpt_model": root / "elsewhere" / "pretrained",
        "my_finetune": root / "elsewhere" / "tuned",
    }
    assert locations.tracking_uri == f"sqlite:///{root / 'mlflow.db'}"  # relative to the project
    assert locations.finetuned_name == "my-chat"
    assert model_locations(root, env="gpu").datasets["gpt_model"] == root / "big" / "pretrained"
    given = model_locations(root, tracking_uri="http://mlflow:5000")
    assert given.tracking_uri == "http://mlflow:5000"


def test_outside_a_project_only_the_tracking_uri_is_known(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////data/mlflow.db")
    locations = model_locations(tmp_path)
    assert locations.datasets == {} and locations.tracking_uri == "sqlite:////data/mlflow.db"


def test_the_loader_reads_conf_as_the_project_settings_do():
    assert settings.CONFIG_LOADER_ARGS == LOADER_ARGS
