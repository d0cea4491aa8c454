"""The terminal progress bar follows the budget that stops the run and closes at 100 %."""

from __future__ import annotations

import re

from kedro_gpt.training import RandomWindows, train
from tests.training.conftest import tiny_config, tiny_model


def _percentages(stderr: str) -> list[int]:
    frames = [f for f in re.split(r"[\r\n]", stderr) if f.strip()]
    return [int(m.group(1)) for f in frames if (m := re.search(r"(\d+)%\|", f))]


def test_a_minutes_budget_moves_the_bar_to_the_end(splits, out_dir, capsys):
    """Many steps allowed, 1.5 s of time: the bar must track the time, not the 100,000 steps."""
    cfg = tiny_config(
        max_steps=100_000,
        max_minutes=1.5 / 60,
        log_interval=1,
        eval_interval=10_000,
        checkpoint_interval=10_000,
        progress_bar=True,
    )
    batches = RandomWindows(list(splits["train"].shards), 16, 4, seed=0)
    result = train(tiny_model(), batches, cfg, out_dir)
    err = capsys.readouterr().err
    assert result.stopped_by == "max_minutes"
    percents = _percentages(err)
    assert percents[-1] == 100, err[-500:]
    assert percents == sorted(percents)  # it never goes back
    assert any(20 <= p < 100 for p in percents), percents  # it moved with the clock
    assert "training (100,000 steps or 0.025 min)" in err
    last = err.rstrip("\n").split("\r")[-1]
    assert f"step={result.step}," in last and err.endswith("\n")  # closed, not left hanging


def test_a_steps_budget_fills_the_bar_step_by_step(splits, out_dir, capsys):
    cfg = tiny_config(max_steps=8, log_interval=2, progress_bar=True)
    batches = RandomWindows(list(splits["train"].shards), 16, 4, seed=0)
    train(tiny_model(), batches, cfg, out_dir)
    percents = _percentages(capsys.readouterr().err)
    assert percents[0] == 0 and percents[-1] == 100
    assert set(percents) <= {0, 25, 50, 75, 100}
