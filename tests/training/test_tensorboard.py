"""TensorBoard events from the training loop, read back with TensorBoard's own reader."""

from __future__ import annotations

import pytest

from kedro_gpt.training import train
from kedro_gpt.training.tensorboard import TensorBoardCallback, checkpoint_sampler
from tests.training.conftest import char_tokens, tiny_config, tiny_model
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


class FoldedBytes:
    """The tiny models' encoding (``char_tokens``) with a decoder: ids as letters."""

    def encode(self, text: str) -> list[int]:
        return char_tokens(text).tolist()

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(ord("0") + i) for i in ids)


def test_each_new_best_checkpoint_writes_a_text_sample(splits, out_dir, tmp_path):
    events = tmp_path / "tb" / "pretraining-run"
    sampler = checkpoint_sampler(FoldedBytes(), "ROMEO:", max_new_tokens=12)
    train(
        tiny_model(),
        windows(splits),
        tiny_config(),
        out_dir,
        evaluator=evaluator(splits),
        callbacks=[TensorBoardCallback(events, sampler)],
    )
    reader = event_accumulator.EventAccumulator(str(events))
    reader.Reload()
    samples = reader.Tensors("samples/best/text_summary")
    assert [e.step for e in samples] == [10, 20]  # the evaluations that improved
    texts = [e.tensor_proto.string_val[0].decode() for e in samples]
    assert all(t.startswith("```\nROMEO:") and len(t) == len("```\nROMEO:") + 12 + 4 for t in texts)
    assert texts[0] != texts[1]  # the same seed: only the weights differ
