"""A real ``kedro run --pipeline=data`` in a temporary copy of the project."""

from __future__ import annotations

import json

import numpy as np
import pytest
from kedro.io.core import Version

from kedro_gpt.datasets import TokenShardsDataset
from tests.integration.kedro_project import kedro_run, make_project, mlflow_runs, versions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_project(
        tmp_path_factory.mktemp("data"),
        local_params={
            "parameters_tokenization": {"tokenization": {"sentencepiece": {"vocab_size": 512}}}
        },
    )
    kedro_run(project, "--pipeline=data")
    kedro_run(project, "--pipeline=data")
    return project


ARTIFACTS = [
    "data/02_intermediate/documents.parquet",
    "data/03_primary/clean_documents.parquet",
    "data/04_feature/split_documents.parquet",
    "data/06_models/tokenizer.model",
    "data/05_model_input/train_tokens",
    "data/05_model_input/val_tokens",
    "data/08_reporting/ingestion_report.json",
    "data/08_reporting/cleaning_report.json",
    "data/08_reporting/tokenization_report.json",
]


@pytest.mark.parametrize("artifact", ARTIFACTS)
def test_two_runs_leave_two_versions(project, artifact):
    assert len(versions(project, artifact)) == 2


def _latest(project, artifact):
    folder = project / artifact
    return folder / versions(project, artifact)[-1] / folder.name


def test_cleaning_report_adds_up(project):
    report = json.loads(_latest(project, "data/08_reporting/cleaning_report.json").read_text())
    dropped = report["dropped"]
    assert report["documents_in"] == report["documents_kept"] + sum(
        d["documents"] for d in dropped.values()
    )
    assert report["bytes_in"] == report["bytes_kept"] + sum(d["bytes"] for d in dropped.values())
    assert report["documents_kept"] >= 1


def test_validation_tokens_are_nanogpt_split(project, shakespeare_text):
    latest = versions(project, "data/05_model_input/val_tokens")[-1]
    path = str(project / "data/05_model_input/val_tokens")
    val = TokenShardsDataset(path, version=Version(latest, None)).load()
    meta = val.meta
    assert meta["dtype"] == "uint16" and meta["vocab_size"] <= 512
    n = len(shakespeare_text)
    shakespeare = [d for d in meta["documents_index"] if d["source"].endswith("input.txt")]
    assert shakespeare and shakespeare[0]["char_start"] == int(n * 0.9)
    assert meta["num_tokens"] == val.num_tokens > 0
    assert np.all(val.concatenated() < meta["vocab_size"])


def test_mlflow_runs_carry_lineage(project):
    runs = mlflow_runs(project)
    assert len(runs) == 2
    tags = runs[-1]["tags"]
    assert "git_commit" in tags
    assert tags.get("lineage.input.documents")
    assert tags.get("lineage.output.train_tokens")
    metrics = runs[-1]["metrics"]
    assert metrics.get("tokenization/train/tokens", 0) > 0
