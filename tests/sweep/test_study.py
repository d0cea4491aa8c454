"""Studies with real tiny trials: pruning, an ablation table, resuming a killed sweep, and two
workers sharing one SQLite study."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import optuna
import pytest

from kedro_gpt.sweep.config import SweepConfig
from kedro_gpt.sweep.study import (
    best_parameters,
    fail_dead_trials,
    open_storage,
    open_study,
    run_study,
    study_report,
)
from tests.conftest import PROJECT_ROOT
from tests.sweep.tiny import peak_cache, token_splits, trainer

GOOD, BAD = 3e-3, 1e-6  # a learning rate that learns in 30 steps, and one that does not


@pytest.fixture
def workdir(tmp_path):
    peak_cache(tmp_path / "peak")
    return tmp_path


def _config(workdir, **values) -> SweepConfig:
    return SweepConfig.model_validate(
        {
            "space": {"training.learning_rate": {"type": "categorical", "choices": [GOOD, BAD]}},
            "storage": f"sqlite:///{workdir / 'optuna.db'}",
            "pruner": "none",
            "n_trials": 4,
            "heartbeat_seconds": 1,
            **values,
        }
    )


def test_a_trial_behind_the_median_is_pruned_and_says_when(workdir):
    config = _config(workdir, pruner="median", n_trials=3)
    study = open_study(config)
    for rate in (GOOD, GOOD, BAD):
        study.enqueue_trial({"training.learning_rate": rate})
    done = run_study(config, trainer(token_splits(workdir / "tokens"), workdir / "runs"))
    report = study_report(done, config)
    assert [t["state"] for t in report["trials"]] == ["complete", "complete", "pruned"]
    pruned = report["trials"][2]
    assert pruned["last_reported_step"] < 30  # stopped early: its time was saved
    assert report["best"]["overrides"] == {"training.learning_rate": GOOD}
    assert best_parameters(report) == {"pretraining": {"training": {"learning_rate": GOOD}}}


def test_enqueued_points_run_first_and_once(workdir):
    """The study tries the enqueued point before the sampler's own, and running it again (as a
    resumed sweep does) does not queue the point a second time."""
    space = {"training.learning_rate": {"type": "categorical", "choices": [GOOD, BAD, 1e-3]}}
    config = _config(
        workdir,
        space=space,
        sampler="random",
        n_trials=2,
        enqueue=[{"training.learning_rate": BAD}],
    )
    train_trial = trainer(token_splits(workdir / "tokens"), workdir / "runs")
    run_study(config, train_trial)
    more = config.model_copy(update={"n_trials": 3})
    study = run_study(more, train_trial)
    rates = [t.params["training.learning_rate"] for t in study.trials]
    assert rates[0] == BAD
    assert study.trials[0].system_attrs["fixed_params"] == {"training.learning_rate": BAD}
    assert [t.system_attrs.get("fixed_params") for t in study.trials][1:] == [None, None]


def test_an_ablation_reports_what_each_change_did(workdir):
    config = _config(
        workdir,
        mode="ablation",
        base={"training.learning_rate": GOOD},
        ablation=[{"training.learning_rate": BAD}, {"training.weight_decay": 0.0}],
    )
    study = run_study(config, trainer(token_splits(workdir / "tokens"), workdir / "runs"))
    table = {row["change"]: row for row in study_report(study, config)["ablation"]}
    assert set(table) == {"base", "training.learning_rate = 1e-06", "training.weight_decay = 0.0"}
    assert table["base"]["delta_vs_base"] == 0.0
    assert table["training.learning_rate = 1e-06"]["delta_vs_base"] > 0.1  # it did not learn
    assert all(row["steps"] == 30 for row in table.values())
    again = run_study(config, trainer(token_splits(workdir / "tokens"), workdir / "runs"))
    assert len(again.trials) == 3  # resumed: nothing left to run


def _worker(config: SweepConfig, workdir) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sweep.tiny", config.model_dump_json(), str(workdir)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _states(workdir) -> list[str]:
    """The trials' states; none while the worker has not yet created optuna's tables."""
    if not (workdir / "optuna.db").exists():
        return []
    with sqlite3.connect(workdir / "optuna.db") as db:
        try:
            rows = db.execute("select state from trials order by number").fetchall()
        except sqlite3.OperationalError as error:  # the file is there before its schema
            if "no such table" not in str(error):
                raise
            return []
    return [row[0] for row in rows]


def test_a_killed_sweep_resumes_where_it_stopped(workdir):
    config = _config(workdir, sampler="random", n_trials=4)
    (workdir / "tokens").mkdir()
    token_splits(workdir / "tokens")  # before the worker, so it only trains
    first = _worker(config, workdir)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if _states(workdir).count("COMPLETE") >= 1:
            break
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    completed_before = _states(workdir).count("COMPLETE")
    assert 1 <= completed_before < 4
    time.sleep(3)  # past the killed trial's heartbeat grace period
    second = _worker(config, workdir)
    assert second.wait(timeout=300) == 0, second.stderr.read()
    states = _states(workdir)
    assert states.count("COMPLETE") == 4
    assert states.count("RUNNING") == 0  # the killed worker's trial was marked failed, not left
    assert len(states) - states.count("FAIL") == 4


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_failed(workdir):
    """A worker killed between creating a trial and recording its first heartbeat leaves a
    running trial with no heartbeat, which optuna's own stale check never fails."""
    storage = open_storage(_config(workdir))
    study = open_study(_config(workdir), storage)
    orphan = study.ask()  # running, and no heartbeat thread ever started for it
    # younger than the grace period: its worker may still be alive
    assert fail_dead_trials(study, storage) == []
    time.sleep(2.5)  # past the grace period (2 x heartbeat_seconds)
    assert fail_dead_trials(study, storage) == [orphan.number]
    assert study.trials[orphan.number].state == optuna.trial.TrialState.FAIL


def test_two_workers_share_one_study(workdir):
    config = _config(workdir, sampler="random", n_trials=6)
    token_splits(workdir / "tokens")
    open_study(config)  # created once, so the two workers do not race to create it
    workers = [_worker(config, workdir) for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=300) == 0, worker.stderr.read()
    study = optuna.load_study(study_name=config.study_name, storage=config.storage)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert 6 <= len(complete) <= 7  # each worker checks the total after its own trial
    assert len({t.number for t in study.trials}) == len(study.trials)
    assert len({t.user_attrs["worker"] for t in complete}) == 2
    assert json.dumps(study_report(study, config))  # the report of a shared study serialises


def test_the_pruner_can_compare_trials_at_their_kth_validation():
    """With ``by_eval_count`` the reported position is the validation's ordinal, not the step."""
    from kedro_gpt.sweep.study import PruningCallback

    study = optuna.create_study(pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    callback = PruningCallback(trial, by_eval_count=True)
    for step, loss in ((37, 3.0), (81, 2.5), (90, 2.4)):
        callback.on_eval(step, {"loss": loss, "final": 0.0})
    callback.on_eval(90, {"loss": 2.3, "final": 1.0})  # the full final pass is not reported
    study.tell(trial, 2.4)
    assert study.trials[0].intermediate_values == {1: 3.0, 2: 2.5, 3: 2.4}
