"""The English recipe end to end, scaled down to minutes: slices of the Wikipedia and review
corpora (read from ../shared/data, never bundled), ``--env=english`` with a tiny model, then
pretrain → adapt → finetune_adapted (classification), and ULMFiT's second direction:
backward → adapt_backward → finetune_bidirectional, each a real ``kedro run``."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.tokenizer.files import tokenizer_sha256
from tests.integration.kedro_project import (
    PROJECT_ROOT,
    kedro_run,
    make_project,
    mlflow_runs,
    versions,
)

pytestmark = pytest.mark.slow

SHARED = PROJECT_ROOT.parent / "shared" / "data"
WIKI = SHARED / "pretrain_wikipedia_en" / "wiki_en_2015_AA.txt.gz"
REVIEWS = SHARED / "imdb_unsup" / "imdb_unsup_dedup.txt.gz"

TRAINING = {
    "batch_size": 8,
    "warmup_steps": 2,
    "eval_interval": 5,
    "eval_batches": 2,
    "log_interval": 5,
    "checkpoint_interval": 5,
    "progress_bar": False,
    "max_minutes": 5,
}
TINY = {  # merged into the project's copy of conf/english
    "parameters_tokenization": {"tokenization": {"sentencepiece": {"vocab_size": 800}}},
    "parameters_pretraining": {
        "pretraining": {
            "model": {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 64},
            "training": {**TRAINING, "max_steps": 20, "early_stopping_patience": 2},
        }
    },
    "parameters_evaluation": {"evaluation": {"samples": {"max_new_tokens": 8}}},
    "parameters_adapt": {
        "adapt": {"pretraining": {"training": {**TRAINING, "max_steps": 10, "eval_at_start": True}}}
    },
    "parameters_finetuning": {
        "finetuning": {
            "training": {**TRAINING, "max_steps": 6, "max_minutes": 2},
            "classification": {"max_examples": 300, "head_warmup_steps": 2, "ensemble": 2},
        }
    },
}


FORWARD = ("pretrain", "adapt", "finetune_adapted")
BACKWARD = ("backward", "adapt_backward", "finetune_bidirectional")


def _head(source: Path, target: Path, blocks: int, separator: bytes) -> None:
    """The first ``blocks`` documents of a gzip corpus, as a gzip file."""
    with gzip.open(source, "rb") as f:
        data = f.read(4_000_000)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(gzip.compress(separator.join(data.split(separator)[:blocks]) + b"\n"))


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    if not (WIKI.is_file() and REVIEWS.is_file()):
        pytest.skip(f"the recipe's corpora are not in {SHARED}")
    project = make_project(tmp_path_factory.mktemp("english"))
    env = project / "conf" / "english"
    shutil.copytree(PROJECT_ROOT / "conf" / "english", env)
    for stem, values in TINY.items():
        path = env / f"{stem}.yml"
        path.write_text(yaml.safe_dump(_merge(yaml.safe_load(path.read_text()), values)))
    raw = project / "data" / "english" / "01_raw"
    _head(WIKI, raw / WIKI.name, 120, b"\n\n")
    _head(REVIEWS, raw / REVIEWS.name, 400, b"\n")
    for pipeline in FORWARD + BACKWARD:
        kedro_run(project, "--env=english", f"--pipelines={pipeline}")
    return project


def _latest(project: Path, relative: str) -> Path:
    folder = project / relative
    return folder / versions(project, relative)[-1] / folder.name


def test_the_recipes_artifacts_stay_under_data_english(project):
    english = project / "data" / "english"
    for relative in (
        "06_models/gpt_model",
        "06_models/adapt/gpt_model",
        "06_models/adapt/finetuned_model",
    ):
        assert (english / relative).is_dir(), relative
    assert not (project / "data" / "06_models" / "gpt_model").exists()
    report = json.loads(
        _latest(project, "data/english/08_reporting/ingestion_report.json").read_text()
    )
    assert report["total"]["documents"] == 120  # one document per article


def test_adaptation_continues_the_base_model_with_its_tokenizer(project):
    base = ModelBundle.load(_latest(project, "data/english/06_models/gpt_model"))
    adapted = ModelBundle.load(_latest(project, "data/english/06_models/adapt/gpt_model"))
    assert adapted.info["source"] == "continued_pretraining"
    assert adapted.config.to_dict() == base.config.to_dict()
    assert tokenizer_sha256(adapted.tokenizer) == tokenizer_sha256(base.tokenizer)
    assert adapted.info["base_model"]["step"] == base.info["step"]
    # conf/english folds case (rt-polarity is lower case): one piece sequence for both spellings
    assert base.tokenizer.encode("The Film") == base.tokenizer.encode("the film")
    reviews = json.loads(
        _latest(project, "data/english/08_reporting/adapt/evaluation_report.json").read_text()
    )
    assert reviews["validation"]["bits_per_char"] > 0  # every held-out review token scored once


def _version(project: Path, relative: str, k: int) -> Path:
    folder = project / relative
    return folder / versions(project, relative)[k] / folder.name


def test_the_classifier_reports_every_baseline_on_the_fixed_test_split(project):
    report = json.loads(
        _version(project, "data/english/08_reporting/adapt/finetune_report.json", 0).read_text()
    )
    assert set(report["baselines"]) == {"majority", "tfidf_logreg", "nb_logreg"}
    assert report["examples"]["test"] == 1067  # 10 % of all 10,662 sentences, whatever max_examples
    assert "scratch_baseline" in report
    assert [p["name"] for p in report["adaptation"]["phases"]] == ["head", "all"]
    # an ensemble of two: each member on its own split, both backbones in the saved model
    assert [m["seed"] for m in report["members"]] == [1337, 1338]
    assert len(report["scratch_baseline"]["members"]) == 2
    finetuned = ModelBundle.load(
        _version(project, "data/english/06_models/adapt/finetuned_model", 0)
    )
    assert len(finetuned.backbones) == len(finetuned.info["classifier"]["ensemble"]) + 1 == 2


def test_each_runs_lineage_names_the_model_it_started_from(project):
    pretrain, adapt, finetune, *_ = mlflow_runs(project)
    base_version = versions(project, "data/english/06_models/gpt_model")[-1]
    adapted_version = versions(project, "data/english/06_models/adapt/gpt_model")[-1]
    assert pretrain["tags"]["lineage.output.gpt_model"] == base_version
    assert adapt["tags"]["lineage.input.gpt_model"] == base_version
    assert adapt["tags"]["lineage.output.adapt.gpt_model"] == adapted_version
    assert finetune["tags"]["lineage.input.adapt.gpt_model"] == adapted_version
    assert adapt["tags"]["kedro.env"] == finetune["tags"]["kedro.env"] == "english"


def test_the_backward_models_read_backwards_from_the_forward_tokens(project):
    base = ModelBundle.load(_latest(project, "data/english/06_models/gpt_model"))
    backward = ModelBundle.load(_latest(project, "data/english/06_models/backward/gpt_model"))
    adapted = ModelBundle.load(_latest(project, "data/english/06_models/adapt.backward/gpt_model"))
    assert backward.config.reverse and adapted.config.reverse and not base.config.reverse
    assert backward.config.to_dict() == {**base.config.to_dict(), "reverse": True}
    assert adapted.info["base_model"]["step"] == backward.info["step"]
    shas = {tokenizer_sha256(m.tokenizer) for m in (base, backward, adapted)}
    assert len(shas) == 1  # one tokenizer: the forward model's, never retrained
    # a fresh model's loss is ~ln(800) = 6.7 nats: both directions learned the held-out articles
    for relative in ("evaluation_report.json", "backward/evaluation_report.json"):
        report = json.loads(_latest(project, f"data/english/08_reporting/{relative}").read_text())
        assert report["validation"]["loss"] < 6.0, relative
    assert len(versions(project, "data/english/06_models/gpt_model")) == 1  # forward untouched


def test_the_bidirectional_classifier_averages_both_directions(project):
    report = json.loads(
        _latest(project, "data/english/08_reporting/adapt/finetune_report.json").read_text()
    )
    assert [(m["seed"], m.get("direction", "forward")) for m in report["members"]] == [
        (1337, "forward"),
        (1338, "forward"),
        (1337, "backward"),
        (1338, "backward"),
    ]
    assert set(report["directions"]) == set(report["scratch_baseline"]["directions"])
    assert set(report["directions"]) == {"forward", "backward"}
    assert len(report["scratch_baseline"]["members"]) == 4
    finetuned = ModelBundle.load(_latest(project, "data/english/06_models/adapt/finetuned_model"))
    assert [b.config.reverse for b in finetuned.backbones] == [False, False, True, True]
    _, _, _, backward, adapt_backward, bidirectional = mlflow_runs(project)
    backward_version = versions(project, "data/english/06_models/backward/gpt_model")[-1]
    assert adapt_backward["tags"]["lineage.input.backward.gpt_model"] == backward_version
    adapted = versions(project, "data/english/06_models/adapt.backward/gpt_model")[-1]
    assert bidirectional["tags"]["lineage.input.adapt.backward.gpt_model"] == adapted
