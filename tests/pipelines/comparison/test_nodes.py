"""The comparison nodes with a real (sqlite) MLflow registry: promotion passes or says why not."""

from __future__ import annotations

import mlflow
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from mlflow.tracking import MlflowClient

from kedro_gpt.config import ConfigError
from kedro_gpt.finetune.data import TaskDataError
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.classifier import GPTClassifier
from kedro_gpt.model.config import GPTConfig
from kedro_gpt.model.gpt import GPT
from kedro_gpt.pipelines.comparison.nodes import compare_models, promote_model, write_report
from kedro_gpt.tokenizer.config import SentencePieceConfig
from kedro_gpt.tokenizer.train import train_sentencepiece
from kedro_gpt.tracking.registry import register_model

HELD_OUT = "First Citizen:\nWe are accounted poor citizens, the patricians good.\n" * 5
FILES = {
    "held/out.txt": lambda: HELD_OUT,
    "qa/qa.jsonl": lambda: '{"question": "Who?", "answer": "Romeo."}\n' * 3,
    "pairs/dev.tsv": lambda: "ref\tsrc\ttgt\nr1\tthou art\tyou are\nr2\tthee\tyou\n",
    "labels/test.csv": lambda: "text,label\ngood,positive\nbad,negative\nfine,positive\n",
}


@pytest.fixture(scope="module")
def bundle(shakespeare_text):
    sp = train_sentencepiece([shakespeare_text[:100_000]], SentencePieceConfig(vocab_size=400))
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=sp.get_piece_size(), block_size=32, n_layer=1, n_head=2, n_embd=16
    )
    gpt = GPT(config).eval()
    head = GPTClassifier(gpt, 2, pad_id=0).head_state()
    info = {"source": "finetuning", "classifier": {"labels": ["negative", "positive"], **head}}
    return ModelBundle(gpt, sp, info)


@pytest.fixture
def registered(bundle, tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("comparison-test")
    with mlflow.start_run():
        register_model(bundle, "tiny-gpt")
    yield "models:/tiny-gpt/1"
    if mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture
def split_documents(tmp_path):
    path = tmp_path / "split.parquet"
    table = pa.table({"split": ["train", "val"], "text": [HELD_OUT, "unused validation text"]})
    pq.write_table(table, path)
    return pq.ParquetFile(path)


def _params(uri: str, threshold: float) -> dict:
    return {
        "models": {"latest": "catalog", "registered": uri},
        "batch_size": 4,
        "device": "cpu",
        "text_sets": {"held": {"file": "held/out.txt", "tail_fraction": 0.5}},
        "chat_sets": {"qa": {"files": ["qa/qa.jsonl"], "max_examples": 2}},
        "pair_sets": {
            "pairs": {"file": "pairs/dev.tsv", "source_column": "src", "target_column": "tgt"}
        },
        "label_sets": {"sentiment": {"file": "labels/test.csv"}},
        "generation": {"eval_examples": 1, "max_new_tokens": 2},
        "samples": {"prompts": ["ROMEO:"], "max_new_tokens": 3},
        "contamination": {"ngram": 4, "warn_above": 0.05},
        "promotion": {
            "model": "registered",
            "thresholds": {"held.bits_per_char": {"max": threshold}},
        },
    }


def test_passing_model_gets_the_champion_alias(bundle, registered, split_documents):
    params = _params(registered, threshold=100.0)
    with mlflow.start_run():
        report, metrics = compare_models(bundle, FILES, split_documents, params)
        promotion, card = promote_model(report, params)
    assert set(report["results"]) == {"latest", "registered"}
    same = report["results"]["latest"]["held.bits_per_char"]
    assert report["results"]["registered"]["held.bits_per_char"] == pytest.approx(same)
    assert "latest.qa.response_loss" in metrics
    latest = report["results"]["latest"]
    assert latest["pairs.copy_baseline_chrf"] > 0 and "pairs.bleu" in latest
    assert 0 <= latest["sentiment.accuracy"] <= 1 and "sentiment.macro_f1" in latest
    # the held-out text is in the training split: the contamination check warns
    assert report["contamination"]["held"]["overlap"] > 0.8 and report["warnings"]
    assert promotion["promoted"] and promotion["registered_version"] == "1"
    version = MlflowClient().get_model_version_by_alias("tiny-gpt", "champion")
    assert str(version.version) == "1" and "Model card: registered" in version.description
    assert "held.bits_per_char" in card
    markdown, _ = write_report(report, promotion)
    assert "is now `tiny-gpt@champion`" in markdown


def test_failing_model_gets_no_alias_and_says_why(bundle, registered, split_documents):
    params = _params(registered, threshold=0.01)
    with mlflow.start_run() as run:
        report, _ = compare_models(bundle, FILES, split_documents, params)
        promotion, _ = promote_model(report, params)
    assert not promotion["promoted"]
    assert promotion["failed"][0].startswith("held.bits_per_char = ")
    assert "above the maximum 0.01" in promotion["failed"][0]
    assert not MlflowClient().get_registered_model("tiny-gpt").aliases
    tags = MlflowClient().get_run(run.info.run_id).data.tags
    assert "above the maximum" in tags["promotion.failed"]
    markdown, _ = write_report(report, promotion)
    assert "was not promoted" in markdown


def test_promotion_candidate_must_be_a_listed_model():
    with pytest.raises(ConfigError, match="promotion.model 'other' is not one of models"):
        promote_model({}, {"promotion": {"model": "other"}})


def test_a_label_set_with_a_missing_column_names_file_and_row(bundle, split_documents):
    params = {**_params("models:/x/1", 1.0), "models": {"latest": "catalog"}}
    params["promotion"] = {"model": "latest"}
    files = {**FILES, "labels/test.csv": lambda: "text,sentiment\ngood,positive\n"}
    with pytest.raises(TaskDataError, match=r"labels/test\.csv, row 2: missing column 'label'"):
        compare_models(bundle, files, split_documents, params)
