"""benchmarks/transfer.py: techniques are compared on single fits, and its starting-point table
shows an ensemble beside its members' mean."""

from __future__ import annotations

import importlib.util

from tests.benchmarks.scripts import BENCHMARKS


def _transfer():
    spec = importlib.util.spec_from_file_location("transfer", BENCHMARKS / "transfer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_technique_rows_fit_once_and_starting_points_follow_conf_english():
    transfer = _transfer()
    one = transfer._classify(2.0, False, {"layer_lr_decay": 0.385, **transfer.ONE_FIT})
    assert "finetuning.classification.ensemble=1" in one
    assert "finetuning.classification.restarts=1" in one
    english = transfer._english_finetuning()
    row = transfer._classify(5.0, True, {})
    ensemble = english["finetuning.classification.ensemble"]
    assert f"finetuning.classification.ensemble={ensemble}" in row


def test_the_table_shows_the_ensemble_beside_its_members_mean():
    metrics = {
        "accuracy": 0.764,
        "members_mean_accuracy": 0.739,
        "macro_f1": 0.763,
        "scratch_accuracy": 0.66,
        "majority_accuracy": 0.5,
        "tfidf_logreg_accuracy": 0.744,
        "nb_logreg_accuracy": 0.777,
    }
    result = {
        "techniques": {},
        "chosen_technique": "none",
        "classification": {"Wikipedia + reviews": metrics},
        "chat": {},
    }
    row = [line for line in _transfer().table(result).splitlines() if "reviews" in line]
    assert row == [
        "| Wikipedia + reviews | 0.764 | 0.739 | 0.763 | 0.660 | 0.500 | 0.744 | 0.777 |"
    ]
