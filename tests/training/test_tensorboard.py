"""TensorBoard events from the training loop, read back with TensorBoard's own reader."""

from __future__ import annotations

import pytest

from kedro_gpt.training import train
from kedro_gpt.training.tensorboard import TensorBoardCallback
from tests.training.conftest import tiny_config, tiny_model
from tests.training.test_loop import evaluator, windows

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def test_the_loop_writes_train_and_validation_scalars(splits, out_dir, tmp_path):
    events = tmp_path / "tb" / "pretraining-run"
    result = train(
        tiny_model(),
        windows(splits),
        tiny_config(),
        out_dir,
        evaluator=evaluator(splits),
        callbacks=[TensorBoardCallback(events)],
    )
    reader = event_accumulator.EventAccumulator(str(events))
    reader.Reload()
    tags = set(reader.Tags()["scalars"])
    assert {"train/loss", "train/lr", "train/grad_norm", "train/tokens_per_s"} <= tags
    assert {"val_sampled/loss", "val_full/loss", "summary/steps"} <= tags
    losses = reader.Scalars("train/loss")
    assert [e.step for e in losses] == [5, 10, 15, 20]
    assert losses[-1].value < losses[0].value  # it learned, and the events say so
    assert 10 in [e.step for e in reader.Scalars("val_sampled/loss")]
    assert reader.Scalars("summary/steps")[0].value == result.step == 20
    assert any(tag.startswith("run/info") for tag in reader.Tags()["tensors"])
