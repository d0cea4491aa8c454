"""Epochs as a budget, early stopping on the periodic validation loss, a validation at step 0."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kedro_gpt.finetune.batches import PaddedBatches
from kedro_gpt.training import TrainCallback, train
from kedro_gpt.training.callbacks import describe_budget
from kedro_gpt.training.checkpoint import find_checkpoint, load_weights, read_config
from kedro_gpt.training.schedule import budget_progress
from tests.training.conftest import tiny_config, tiny_model
from tests.training.test_loop import evaluator, windows

TRAIN_TOKENS = 27_000  # the splits fixture's two training shards


def test_epochs_are_a_budget_and_are_logged(splits, out_dir):
    source = windows(splits)
    assert source.tokens_per_epoch == TRAIN_TOKENS
    cfg = tiny_config(max_steps=None, max_epochs=0.05, log_interval=2)
    result = train(tiny_model(), source, cfg, out_dir, evaluator=evaluator(splits))
    # 4 windows x 16 tokens a step: 0.05 epochs = 1,350 tokens, reached at step 22
    assert (result.step, result.stopped_by) == (22, "max_epochs")
    assert result.history[-1]["epoch"] == pytest.approx(22 * 64 / TRAIN_TOKENS)
    for metrics in result.history:
        assert metrics["epoch"] == pytest.approx(metrics["tokens_seen"] / TRAIN_TOKENS)
        assert metrics["progress"] == pytest.approx(min(metrics["epoch"] / 0.05, 1.0))
    assert read_config(result.last_path)["epoch"] == pytest.approx(22 * 64 / TRAIN_TOKENS)


def test_the_epoch_share_counts_in_the_progress_and_the_bar_names_it():
    assert budget_progress(10, 500, 0.0, 100, None, None, epochs=0.6, max_epochs=2.0) == 0.3
    assert budget_progress(50, 500, 0.0, 100, None, None, epochs=0.6, max_epochs=2.0) == 0.5
    assert describe_budget({"max_epochs": 3}) == "3 epochs"
    assert describe_budget({"max_steps": 10, "max_epochs": 0.5}) == "10 steps or 0.5 epochs"


class _Unsized:
    """A batch source that cannot tell its size."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def next_batch(self):
        return self.inner.next_batch()

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)


def test_an_epoch_budget_needs_a_sized_source_and_patience_needs_validation(splits, out_dir):
    with pytest.raises(ValueError, match="max_epochs needs .*tokens_per_epoch.*_Unsized"):
        train(tiny_model(), _Unsized(windows(splits)), tiny_config(max_epochs=1.0), out_dir)
    with pytest.raises(ValueError, match="early_stopping_patience needs validation data"):
        train(tiny_model(), windows(splits), tiny_config(early_stopping_patience=2), out_dir)


def _rows(lengths: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.ones(n, dtype=np.int64), np.full(n, -100, dtype=np.int64)) for n in lengths]


def test_padded_batches_count_an_epoch_as_the_loop_counts_tokens():
    assert PaddedBatches(_rows([7] * 10), 4, 0, seed=0).tokens_per_epoch == 70
    lengths = list(range(1, 41))  # one row of each width
    source = PaddedBatches(_rows(lengths), 8, 0, seed=0)
    # the expected width of a batch: E[max of 8 uniform draws from 1..40]
    expected = sum(w * ((w / 40) ** 8 - ((w - 1) / 40) ** 8) for w in lengths)
    assert source.tokens_per_epoch == round(40 * expected)
    # what the loop counts (x.numel()) over many epochs' worth of batches, per epoch
    batches_per_epoch, epochs = 40 / 8, 400
    counted = sum(source.next_batch()[0].numel() for _ in range(int(batches_per_epoch * epochs)))
    assert counted / epochs == pytest.approx(source.tokens_per_epoch, rel=0.01)


def test_early_stopping_after_patience_evaluations_keeps_the_best(splits, out_dir):
    # an improvement must be 10 nats: none after the first evaluation ever is one
    cfg = tiny_config(
        max_steps=100, eval_interval=2, early_stopping_patience=3, early_stopping_min_delta=10.0
    )
    result = train(tiny_model(), windows(splits), cfg, out_dir, evaluator=evaluator(splits))
    assert (result.step, result.stopped_by) == (8, "early_stopping")
    periodic = [e for e in result.evals if not e["final"]]
    assert [e["step"] for e in periodic] == [2, 4, 6, 8]
    best = min(e["loss"] for e in periodic)
    assert result.best_val_loss == best and read_config(result.best_path)["val_loss"] == best
    assert read_config(result.last_path)["step"] == 8


def test_improving_validation_loss_keeps_training(splits, out_dir):
    cfg = tiny_config(max_steps=40, eval_interval=4, early_stopping_patience=2)
    result = train(tiny_model(), windows(splits), cfg, out_dir, evaluator=evaluator(splits))
    assert (result.step, result.stopped_by) == (40, "max_steps")


class _Crash(TrainCallback):
    def on_log(self, step, metrics):
        if step == 5:
            raise KeyboardInterrupt


def test_the_patience_count_survives_an_exact_resume(splits, tmp_path):
    cfg = tiny_config(
        max_steps=100,
        log_interval=1,
        eval_interval=2,
        checkpoint_interval=2,
        early_stopping_patience=3,
        early_stopping_min_delta=10.0,
    )
    model = lambda: tiny_model(dropout=0.1)  # noqa: E731
    whole = train(model(), windows(splits), cfg, tmp_path / "a", evaluator=evaluator(splits))
    with pytest.raises(KeyboardInterrupt):
        train(
            model(), windows(splits), cfg, tmp_path / "b", evaluator=evaluator(splits),
            callbacks=[_Crash()],
        )  # fmt: skip
    assert read_config(find_checkpoint(tmp_path / "b"))["step"] == 4  # one evaluation counted
    resumed = train(
        model(), windows(splits), cfg, tmp_path / "b", evaluator=evaluator(splits), resume=True
    )
    assert (whole.step, whole.stopped_by) == (8, "early_stopping")
    assert (resumed.step, resumed.stopped_by) == (8, "early_stopping")
    a, b = tiny_model(dropout=0.1), tiny_model(dropout=0.1)
    load_weights(a, whole.last_path)
    load_weights(b, resumed.last_path)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    again = train(
        model(), windows(splits), cfg, tmp_path / "b", evaluator=evaluator(splits), resume=True
    )
    assert (again.step, again.stopped_by) == (8, "early_stopping")  # a stopped run stays stopped


def test_eval_at_start_scores_the_starting_weights(splits, out_dir):
    cfg = tiny_config(max_steps=3, eval_at_start=True, final_eval=False)
    result = train(tiny_model(), windows(splits), cfg, out_dir, evaluator=evaluator(splits))
    assert [e["step"] for e in result.evals] == [0, 3]
    assert math.isclose(result.evals[0]["loss"], math.log(64), rel_tol=0.05)  # a fresh init
    assert result.evals[0]["loss"] > result.evals[1]["loss"]


def test_wsd_counts_patience_only_once_its_decay_has_begun(splits, out_dir):
    """A plateau while WSD holds its peak learning rate is expected (the decay brings most of
    the gain): with no evaluation ever an improvement, cosine stops at step 8 (above), WSD only
    after three evaluations in its decay (from step 33 of 40)."""
    cfg = tiny_config(
        schedule="wsd",
        max_steps=40,
        eval_interval=2,
        early_stopping_patience=3,
        early_stopping_min_delta=10.0,
    )
    result = train(tiny_model(), windows(splits), cfg, out_dir, evaluator=evaluator(splits))
    assert (result.step, result.stopped_by) == (38, "early_stopping")
