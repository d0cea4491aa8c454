"""The LR schedule: warmup, cosine (nanoGPT's on steps), WSD, and budgets by time or tokens."""

from __future__ import annotations

import math

import pytest

from kedro_gpt.training.schedule import LRSchedule, budget_progress


def nanogpt_lr(it: int, lr: float, min_lr: float, warmup: int, decay_iters: int) -> float:
    """nanoGPT's get_lr, for comparison."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    ratio = (it - warmup) / (decay_iters - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def test_cosine_on_steps_is_nanogpts():
    sched = LRSchedule(warmup_steps=10, kind="cosine", min_lr_ratio=0.1)
    for step in range(100):
        progress = budget_progress(step, 0, 0.0, 100, None, None)
        assert sched.factor(step, progress) == pytest.approx(
            nanogpt_lr(step, 1.0, 0.1, 10, 100), abs=1e-12
        )
    assert sched.factor(100, 1.0) == pytest.approx(0.1)


def test_wsd_is_flat_then_linear_to_min():
    sched = LRSchedule(warmup_steps=0, kind="wsd", min_lr_ratio=0.0, decay_fraction=0.25)
    assert [sched.factor(s, s / 100) for s in (0, 50, 75)] == [1.0, 1.0, 1.0]
    assert sched.factor(0, 0.875) == pytest.approx(0.5)
    assert sched.factor(0, 1.0) == pytest.approx(0.0)


def test_time_budget_decay_completes_at_the_budget():
    """With a wall-clock budget the decay starts where warmup ended and ends at the budget."""
    sched = LRSchedule(warmup_steps=3, kind="cosine", min_lr_ratio=0.2)
    minutes = 2.0
    elapsed = [0.0, 1.0, 2.0, 3.0]  # seconds at steps 0..3: warmup ends at 3 s
    factors = [
        sched.factor(s, budget_progress(s, 0, t, None, None, minutes))
        for s, t in enumerate(elapsed)
    ]
    assert factors[:3] == [0.25, 0.5, 0.75] and factors[3] == 1.0
    assert sched.warmup_end_progress == pytest.approx(3.0 / 120.0)
    half = 3.0 + (120.0 - 3.0) / 2  # halfway through the post-warmup budget
    assert sched.factor(50, budget_progress(50, 0, half, None, None, minutes)) == pytest.approx(0.6)
    assert sched.factor(99, budget_progress(99, 0, 120.0, None, None, minutes)) == pytest.approx(
        0.2
    )


def test_progress_is_the_largest_share_and_state_round_trips():
    assert budget_progress(10, 500, 30.0, 100, 1000, 1.0) == 0.5
    assert budget_progress(10, 0, 0.0, None, 1000, None) == 0.0
    sched = LRSchedule(warmup_steps=2)
    sched.factor(5, 0.3)
    again = LRSchedule(warmup_steps=2)
    again.load_state_dict(sched.state_dict())
    assert again.factor(9, 0.7) == sched.factor(9, 0.7)


def test_only_wsd_with_a_decay_holds_its_peak():
    wsd = LRSchedule(2, "wsd", min_lr_ratio=0.1)
    factors = [wsd.factor(step, step / 100) for step in range(100)]
    held = [step for step, f in enumerate(factors) if wsd.holds_peak(f)]
    assert held == list(range(2, held[-1] + 1)) and 79 <= held[-1] <= 81  # after warmup, to ~80 %
    assert not LRSchedule(2, "wsd", min_lr_ratio=1.0).holds_peak(1.0)  # no decay to wait for
    assert not LRSchedule(2, "cosine").holds_peak(1.0)
