"""``kedro run --pipelines=pretrain``, then ``finetune`` (chat) and ``compare`` in a temp project."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from kedro_gpt.model.bundle import ModelBundle
from tests.integration.kedro_project import kedro_run, make_project, mlflow_runs, versions
from tests.integration.test_pretrain_pipeline import TINY

pytestmark = pytest.mark.slow

FINETUNE = {
    "finetuning": {
        "training": {
            "batch_size": 4,
            "max_steps": 8,
            "max_minutes": 2,
            "warmup_steps": 2,
            "eval_interval": 4,
            "log_interval": 2,
            "checkpoint_interval": 4,
            "progress_bar": False,
        },
        "chat": {"generation": {"eval_examples": 3, "max_new_tokens": 8, "samples_logged": 2}},
    }
}


COMPARISON = {
    "comparison": {
        "models": {"latest": "catalog", "finetuned": "models:/kedro-gpt-finetuned/1"},
        "text_sets": {"shakespeare_val": {"tail_fraction": 0.02}},
        "pair_sets": {"bible_dev": {"max_examples": 4}},
        "chat_sets": {
            "truthfulqa": {"files": ["tasks/qa_truthfulqa/TruthfulQA.csv"], "max_examples": 8}
        },
        "generation": {"eval_examples": 2, "max_new_tokens": 4},
        "samples": {"prompts": ["ROMEO:"], "max_new_tokens": 5},
        "promotion": {"thresholds": {"shakespeare_val.bits_per_char": {"max": 20}}},
    }
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_project(
        tmp_path_factory.mktemp("finetune"),
        local_params={
            "parameters_tokenization": {"tokenization": {"sentencepiece": {"vocab_size": 400}}},
            "parameters_pretraining": TINY,
            "parameters_evaluation": {
                "evaluation": {"samples": {"prompts": ["ROMEO:"], "max_new_tokens": 5}}
            },
            "parameters_finetuning": FINETUNE,
            "parameters_comparison": COMPARISON,
        },
    )
    kedro_run(project, "--pipelines=pretrain")
    kedro_run(project, "--pipelines=finetune")
    kedro_run(project, "--pipelines=comparison")
    return project


def _latest(project: Path, artifact: str) -> Path:
    folder = project / artifact
    return folder / versions(project, artifact)[-1] / folder.name


def test_finetuned_model_and_report_are_versioned(project):
    bundle = ModelBundle.load(_latest(project, "data/06_models/finetuned_model"))
    assert bundle.info["task"] == "chat" and bundle.info["step"] == 8
    report = json.loads(_latest(project, "data/08_reporting/finetune_report.json").read_text())
    assert report["examples"]["train"] > 800
    assert {"response_loss", "bleu", "chrf", "base_response_loss"} <= set(report["metrics"])
    assert "<|assistant|>" in _latest(project, "data/08_reporting/finetune_samples.txt").read_text()
    assert _latest(project, "data/08_reporting/finetune_plot.png").stat().st_size > 1000


def test_finetune_run_links_to_the_pretraining_run(project):
    pretrain, finetune, _ = mlflow_runs(project)
    tags = finetune["tags"]
    gpt_version = versions(project, "data/06_models/gpt_model")[-1]
    assert tags["lineage.input.gpt_model"] == gpt_version
    assert tags["base_model.catalog_version"] == gpt_version
    assert tags["base_model.run_id"] == pretrain["run_id"]
    assert tags["base_model.registered_model"] == "kedro-gpt"
    assert tags["base_model.registered_version"] == "1"
    assert tags["finetune.task"] == "chat"
    assert "finetune/response_loss" in finetune["metrics"]
    registration = json.loads(
        _latest(project, "data/08_reporting/finetune_registration.json").read_text()
    )
    assert registration["model_uri"] == "models:/kedro-gpt-finetuned/1"
    assert registration["run_id"] == finetune["run_id"]
    assert "train/loss" in finetune["metrics"]


def test_comparison_promotes_the_pretrained_model_with_a_card(project):
    *_, comparison = mlflow_runs(project)
    assert comparison["tags"]["promotion.alias"] == "champion"
    assert comparison["tags"]["promotion.model"] == "kedro-gpt/1"
    for model in ("latest", "finetuned"):  # side by side
        assert f"comparison/{model}/shakespeare_val/bits_per_char" in comparison["metrics"]
        assert f"comparison/{model}/truthfulqa/response_loss" in comparison["metrics"]
    markdown = _latest(project, "data/08_reporting/comparison_report.md").read_text()
    assert "| shakespeare_val.bits_per_char |" in markdown and "kedro-gpt@champion" in markdown
    card = _latest(project, "data/08_reporting/model_card.md").read_text()
    assert "# Model card: latest" in card and "git commit" in card
    with sqlite3.connect(project / "mlflow.db") as db:
        aliases = db.execute("select alias, version from registered_model_aliases").fetchall()
    assert aliases == [("champion", 1)]
