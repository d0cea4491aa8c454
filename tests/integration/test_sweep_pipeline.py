"""A real ``kedro run --pipelines=sweep``: trials as nested MLflow runs under the sweep's run,
the report, the best parameters, Optuna's plots, TensorBoard events per trial; then an ablation."""

from __future__ import annotations

import json
import sqlite3

import pytest
import yaml

from tests.integration.kedro_project import kedro_run, make_project, mlflow_runs, versions

pytestmark = pytest.mark.slow

TINY_MODEL = {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 64}
SWEEP = {
    "space": {"training.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}},
    "base": {"training.max_steps": 20, "training.eval_interval": 5, "training.max_minutes": None},
    "n_trials": 3,
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_project(
        tmp_path_factory.mktemp("sweep"),
        local_params={
            "parameters_tokenization": {"tokenization": {"sentencepiece": {"vocab_size": 512}}},
            "parameters_pretraining": {
                "pretraining": {
                    "model": TINY_MODEL,
                    "training": {"batch_size": 4, "progress_bar": False, "log_interval": 5},
                    "tensorboard_dir": "data/07_model_output/tensorboard",
                }
            },
            "parameters_sweep": {"sweep": SWEEP},
        },
    )
    kedro_run(project, "--pipelines=sweep")
    return project


def _latest(project, relative):
    folder = project / relative
    return folder / versions(project, relative)[-1] / folder.name


def test_each_trial_is_a_nested_run_under_the_sweep(project):
    runs = mlflow_runs(project)
    parents = [r for r in runs if "sweep" in r["tags"].get("kedro.pipeline", "")]
    assert len(parents) == 1
    trials = [r for r in runs if r["tags"].get("mlflow.parentRunId") == parents[0]["run_id"]]
    assert len(trials) == 3
    latest = parents[0]["metrics"]  # the study's history on the sweep's own run
    assert {"sweep/trial_value", "sweep/best_value", "sweep/trial_seconds"} <= set(latest)
    with sqlite3.connect(project / "mlflow.db") as db:
        steps = db.execute(
            "select step from metrics where run_uuid=? and key='sweep/trial_value' order by step",
            (parents[0]["run_id"],),
        ).fetchall()
    assert [s[0] for s in steps] == [0, 1, 2]
    for trial in trials:
        assert trial["tags"]["sweep.state"] in {"complete", "pruned"}
        assert "trial.training.learning_rate" in trial["params"]
        assert "val_sampled/loss" in trial["metrics"]


def test_the_report_best_parameters_and_plots(project):
    report = json.loads(_latest(project, "data/08_reporting/sweep_report.json").read_text())
    assert len(report["trials"]) == 3
    assert report["best"]["value"] == min(
        t["value"] for t in report["trials"] if t["state"] == "complete"
    )
    best = yaml.safe_load(
        _latest(project, "data/08_reporting/sweep_best_parameters.yml").read_text()
    )
    assert (
        best["pretraining"]["training"]["learning_rate"]
        == report["best"]["overrides"]["training.learning_rate"]
    )
    plots = _latest(project, "data/08_reporting/sweep_plots")
    assert (plots / "optimization_history.png").stat().st_size > 0


def test_every_trial_writes_tensorboard_events(project):
    folders = sorted((project / "data/07_model_output/tensorboard").iterdir())
    assert [f.name for f in folders] == [f"sweep-pretraining-trial-{n:04d}" for n in range(3)]
    assert all(any(f.glob("events.out.tfevents.*")) for f in folders)


def test_an_unknown_key_fails_before_any_trial(project):
    proc = kedro_run(
        project,
        "--pipelines=tuning",
        "--params=sweep.study_name=typo,sweep.base.training.learnin_rate=0.1",
        check=False,
    )
    assert proc.returncode != 0
    assert "training.learnin_rate" in proc.stdout + proc.stderr
    assert not (project / "data/06_models/checkpoints/sweep/typo").exists()


def test_an_ablation_run_writes_its_table(project):
    kedro_run(
        project,
        "--pipelines=tuning",
        "--params=sweep.mode=ablation,sweep.study_name=ablation",
    )
    table = _latest(project, "data/08_reporting/sweep_ablation.md").read_text()
    assert "| base |" in table and "model.rope = False" in table
