"""``kedro run --pipelines=finetuning`` from GPT-2's weights: ``kedro-gpt import-hf`` output as
``finetuning.base_model.path``, in a project that never pretrained (no ``gpt_model``)."""

from __future__ import annotations

import pytest

from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.hf import import_hf
from kedro_gpt.tokenizer.hf_tokenizer import HFTokenizer
from tests.integration.kedro_project import kedro_run, make_project, mlflow_runs, versions
from tests.model.hf_gpt2 import make_gpt2_folder

pytestmark = pytest.mark.slow

BASE = "data/06_models/gpt2"
FINETUNE = {
    "finetuning": {
        "base_model": {"path": BASE},
        "training": {
            "batch_size": 4,
            "max_steps": 6,
            "max_minutes": 2,
            "warmup_steps": 2,
            "eval_interval": 3,
            "eval_batches": 2,
            "log_interval": 3,
            "checkpoint_interval": 3,
            "progress_bar": False,
        },
        "chat": {
            "files": ["qa_python_faq/python_faq_qa.jsonl"],
            "generation": {"eval_examples": 2, "max_new_tokens": 4, "samples_logged": 1},
        },
    }
}


def test_finetuning_starts_from_an_imported_gpt2(tmp_path, shakespeare_text):
    project = make_project(tmp_path, local_params={"parameters_finetuning": FINETUNE})
    gpt2 = make_gpt2_folder(shakespeare_text[:20_000], tmp_path / "gpt2", n_positions=128)
    base = import_hf(gpt2, project / BASE)

    kedro_run(project, "--pipelines=finetuning")

    assert not (project / "data/06_models/gpt_model").exists()  # never pretrained
    folder = project / "data/06_models/finetuned_model"
    finetuned = ModelBundle.load(folder / versions(project, str(folder))[-1] / folder.name)
    assert isinstance(finetuned.tokenizer, HFTokenizer)
    assert finetuned.tokenizer.to_str() == base.tokenizer.to_str()
    assert finetuned.config == base.config
    assert finetuned.info["task"] == "chat" and finetuned.info["step"] == 6
    lineage = finetuned.info["base_model"]
    assert lineage["source"] == "import-hf"
    assert lineage["model_path"] == str((project / BASE).resolve())
    assert lineage["imported_from"] == str(gpt2)
    (run,) = mlflow_runs(project)
    assert run["tags"]["base_model.model_path"] == str((project / BASE).resolve())
    assert "lineage.input.gpt_model" not in run["tags"]
    assert run["metrics"]["finetune/response_loss"] < run["metrics"]["finetune/base_response_loss"]
