"""The fine-tuning node on tiny data: each task through the node, and parameter errors."""

from __future__ import annotations

import json

import mlflow
import pytest
import torch
import yaml
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient

from kedro_gpt.config import ConfigError
from kedro_gpt.finetune.data import TaskDataError
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.config import GPTConfig
from kedro_gpt.model.gpt import GPT
from kedro_gpt.pipelines.finetuning.nodes import finetune
from kedro_gpt.tokenizer.config import SentencePieceConfig
from kedro_gpt.tokenizer.train import train_sentencepiece
from tests.conftest import PROJECT_ROOT

FILES = {
    "qa/faq.jsonl": "\n".join(
        json.dumps({"question": f"What is {i}?", "answer": f"{i} is a number."}) for i in range(10)
    ),
    "qa/tqa.csv": "Question,Best Answer\n" + "".join(f"Why {i}?,Because {i}.\n" for i in range(6)),
    "sent/pos.txt": "".join(f"a lovely warm film {i}\n" for i in range(10)),
    "sent/neg.txt": "".join(f"a cold dull film {i}\n" for i in range(10)),
    "pairs/train.tsv": "ref\tkjv\tweb\n"
    + "".join(f"r{i}\tthou art {i}\tyou are {i}\n" for i in range(8)),
    "pairs/dev.tsv": "ref\tkjv\tweb\nr9\tthou art 9\tyou are 9\n",
}


@pytest.fixture(scope="module")
def bundle(shakespeare_text):
    sp = train_sentencepiece([shakespeare_text[:100_000]], SentencePieceConfig(vocab_size=400))
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=sp.get_piece_size(), block_size=32, n_layer=1, n_head=2, n_embd=16
    )
    return ModelBundle(GPT(config), sp, {"source": "pretraining"})


def _params(tmp_path, task: str, **extra) -> dict:
    """The shipped parameters with a tiny budget and the test files."""
    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_finetuning.yml").read_text())
    p = params["finetuning"]
    p["task"] = task
    p["checkpoint_dir"] = str(tmp_path / "ckpt")
    p["training"].update(
        max_steps=3,
        max_minutes=1,
        eval_interval=2,
        log_interval=1,
        progress_bar=False,
        device="cpu",
        batch_size=4,
    )
    p["chat"].update(
        files=["qa/faq.jsonl", "qa/tqa.csv"], generation={"eval_examples": 2, "max_new_tokens": 3}
    )
    p["classification"].update(
        label_files={"negative": "sent/neg.txt", "positive": "sent/pos.txt"}, max_examples=None
    )
    p["text2text"].update(
        train_file="pairs/train.tsv",
        eval_file="pairs/dev.tsv",
        source_column="kjv",
        target_column="web",
        generation={"eval_examples": 1, "max_new_tokens": 3},
    )
    p["continued_pretraining"].update(files=["pairs/train.tsv"], val_fraction=0.5)
    p.update(extra)
    return p


@pytest.mark.parametrize(
    ("task", "metric"),
    [
        ("chat", "finetune_bleu"),
        ("classification", "scratch_accuracy"),
        ("text2text", "copy_baseline_bleu"),
        ("continued_pretraining", "val_loss"),
    ],
)
def test_each_task_runs_through_the_node(bundle, tmp_path, task, metric):
    loaders = {name: (lambda text=text: text) for name, text in FILES.items()}
    model, report, metrics, samples, figure = finetune(bundle, loaders, _params(tmp_path, task))
    assert isinstance(model, ModelBundle) and model.info["task"] == task
    assert report["task"] == task and metrics
    assert metric.removeprefix("finetune_") in metrics
    assert all(set(v) == {"value", "step"} for v in metrics.values())
    assert isinstance(samples, str) and isinstance(figure, Figure)
    assert model.info["base_model"]["source"] == "pretraining"


def test_lora_mode_through_the_node(bundle, tmp_path):
    loaders = {name: (lambda text=text: text) for name, text in FILES.items()}
    params = _params(
        tmp_path,
        "chat",
        mode="lora",
        lora={"rank": 2, "alpha": 4, "dropout": 0.0, "target_modules": ["mlp.c_fc"]},
    )
    model, report, *_ = finetune(bundle, loaders, params)
    assert report["adaptation"]["lora_modules"] == ["transformer.h.0.mlp.c_fc"]
    assert set(dict(model.model.named_parameters())) == set(dict(bundle.model.named_parameters()))


def test_a_typo_in_the_parameters_names_the_key(bundle, tmp_path):
    with pytest.raises(ConfigError, match="parameters 'finetuning' -> tsk"):
        finetune(bundle, {}, {**_params(tmp_path, "chat"), "tsk": "chat"})


def test_a_missing_task_file_is_named(bundle, tmp_path):
    with pytest.raises(TaskDataError, match="qa/faq.jsonl: no such task file"):
        finetune(bundle, {}, _params(tmp_path, "chat"))


def test_a_bad_row_is_named(bundle, tmp_path):
    loaders = {
        **{n: (lambda t=t: t) for n, t in FILES.items()},
        "qa/tqa.csv": lambda: "Question,Answer\nWhy?,Because.\n",
    }
    with pytest.raises(TaskDataError, match=r"qa/tqa\.csv, row 2: missing column"):
        finetune(bundle, loaders, _params(tmp_path, "chat"))


def test_the_finetuned_model_is_registered_with_its_lineage(bundle, tmp_path):
    from kedro_gpt.pipelines.finetuning.nodes import register_finetuned_model

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        mlflow.set_experiment("finetune-registry-test")
        info = {**bundle.info, "base_model": {"catalog_version": "v1", "run_id": "abc"}}
        finetuned = ModelBundle(bundle.model, bundle.tokenizer, info)
        params = _params(tmp_path, "chat")
        with mlflow.start_run():
            out = register_finetuned_model(finetuned, {"metrics": {"bleu": 1.5}}, params)
        assert out["model_uri"] == "models:/kedro-gpt-finetuned/1"
        tags = MlflowClient().get_model_version("kedro-gpt-finetuned", "1").tags
        assert tags["finetune.bleu"] == "1.5" and tags["base_model.run_id"] == "abc"
        # a later fine-tuning run can start from the registered model
        loaders = {name: (lambda text=text: text) for name, text in FILES.items()}
        params["base_model"] = {"mlflow_uri": "models:/kedro-gpt-finetuned/1"}
        with mlflow.start_run() as run:
            model, *_ = finetune(None, loaders, params)
        assert model.info["base_model"]["registered_version"] == "1"
        assert model.info["base_model"]["model_uri"] == "models:/kedro-gpt-finetuned/1"
        run_tags = MlflowClient().get_run(run.info.run_id).data.tags
        assert run_tags["base_model.registered_model"] == "kedro-gpt-finetuned"
        params["registry"] = {"enabled": False}
        assert register_finetuned_model(finetuned, {"metrics": {}}, params) == {"registered": False}
    finally:
        mlflow.set_tracking_uri(None)


def test_base_model_path_starts_from_a_model_folder(bundle, tmp_path):
    folder = tmp_path / "imported"
    folder.mkdir()
    ModelBundle(
        bundle.model, bundle.tokenizer, {"source": "import-hf", "imported_from": "hf"}
    ).save(folder)
    loaders = {name: (lambda text=text: text) for name, text in FILES.items()}
    params = _params(tmp_path, "chat", base_model={"mlflow_uri": None, "path": str(folder)})
    model, *_ = finetune(None, loaders, params)
    lineage = model.info["base_model"]
    assert lineage["source"] == "import-hf" and lineage["imported_from"] == "hf"
    assert lineage["model_path"] == str(folder.resolve())


def test_base_model_path_and_mlflow_uri_together_are_refused(bundle, tmp_path):
    params = _params(tmp_path, "chat", base_model={"mlflow_uri": "models:/m/1", "path": "x"})
    with pytest.raises(ConfigError, match="base_model: Value error, set mlflow_uri or path"):
        finetune(bundle, {}, params)


def test_a_missing_base_model_folder_is_named(bundle, tmp_path):
    params = _params(tmp_path, "chat", base_model={"path": str(tmp_path / "nope")})
    with pytest.raises(FileNotFoundError, match="base model folder .*nope does not exist"):
        finetune(bundle, {}, params)


@pytest.mark.parametrize(
    ("base_model", "pipeline_names", "skipped"),
    [
        ({"path": "data/06_models/gpt2"}, ["finetuning"], True),
        ({"mlflow_uri": "models:/m/1"}, ["finetuning"], True),
        ({"mlflow_uri": None, "path": None}, ["finetuning"], False),
        ({"path": "data/06_models/gpt2"}, ["finetuning", "evaluation"], False),  # another reader
    ],
)
def test_the_catalog_model_is_loaded_only_when_fine_tuning_needs_it(
    tmp_path, base_model, pipeline_names, skipped
):
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.pipeline import Pipeline

    from kedro_gpt.datasets import GPTModelDataset
    from kedro_gpt.hooks import ExternalBaseModelHooks
    from kedro_gpt.pipelines import evaluation, finetuning

    pipelines = {"finetuning": finetuning, "evaluation": evaluation}
    pipeline = sum((pipelines[name].create_pipeline() for name in pipeline_names), Pipeline([]))
    dataset = GPTModelDataset(str(tmp_path / "gpt_model"))
    params = {**_params(tmp_path, "chat"), "base_model": base_model}
    catalog = DataCatalog({"gpt_model": dataset, "params:finetuning": MemoryDataset(params)})
    ExternalBaseModelHooks().before_pipeline_run({}, pipeline, catalog)
    if skipped:
        assert catalog.load("gpt_model") is None
    else:
        assert catalog.get("gpt_model") is dataset
