"""The learning-rate schedule: linear warmup, then cosine or warmup-stable-decay (WSD).

Warmup counts optimizer steps. After it the schedule runs on *progress*, the share of the budget
spent: ``progress = max(step / max_steps, tokens / max_tokens, elapsed / max_minutes,
epochs / max_epochs)`` (each term only when that budget is set). The decay maps the progress left after warmup onto ``[0, 1]``:
``q = (progress - p_w) / (1 - p_w)`` where ``p_w`` is the progress when warmup ended (recorded at
that step and checkpointed). So the decay reaches ``min_lr`` exactly when the first budget runs
out, a wall-clock budget included; with only ``max_steps`` this is nanoGPT's schedule
(``q = (step - warmup) / (max_steps - warmup)``).

- ``cosine``: ``min + (1 - min) · ½(1 + cos πq)``
- ``wsd``: 1 until ``q = 1 - decay_fraction``, then linear down to ``min`` at ``q = 1``.
"""

from __future__ import annotations

import math
from typing import Any


def budget_progress(
    step: int,
    tokens: int,
    elapsed_s: float,
    max_steps: int | None,
    max_tokens: int | None,
    max_minutes: float | None,
    epochs: float = 0.0,
    max_epochs: float | None = None,
) -> float:
    """The share of the training budget spent (the largest of the set budgets' shares);
    ``epochs`` is the number of passes over the training data so far."""
    shares = [0.0]
    if max_steps:
        shares.append(step / max_steps)
    if max_tokens:
        shares.append(tokens / max_tokens)
    if max_minutes:
        shares.append(elapsed_s / (60.0 * max_minutes))
    if max_epochs:
        shares.append(epochs / max_epochs)
    return max(shares)


class LRSchedule:
    """Multiplier of the peak learning rate as a function of step and progress."""

    def __init__(
        self,
        warmup_steps: int,
        kind: str = "cosine",
        min_lr_ratio: float = 0.1,
        decay_fraction: float = 0.2,
    ) -> None:
        if kind not in ("cosine", "wsd"):
            raise ValueError(f"schedule must be 'cosine' or 'wsd', got {kind!r}")
        self.warmup_steps = warmup_steps
        self.kind = kind
        self.min_lr_ratio = min_lr_ratio
        self.decay_fraction = decay_fraction
        self.warmup_end_progress: float | None = 0.0 if warmup_steps == 0 else None

    def factor(self, step: int, progress: float) -> float:
        """LR multiplier for optimizer step ``step`` (0-based) taken at budget ``progress``."""
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        if self.warmup_end_progress is None:
            self.warmup_end_progress = progress
        p_w = self.warmup_end_progress
        q = 1.0 if p_w >= 1.0 else min(max((progress - p_w) / (1.0 - p_w), 0.0), 1.0)
        low = self.min_lr_ratio
        if self.kind == "cosine":
            return low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * q))
        stable_until = 1.0 - self.decay_fraction
        if q <= stable_until:
            return 1.0
        return 1.0 - (1.0 - low) * (q - stable_until) / self.decay_fraction

    def holds_peak(self, factor: float) -> bool:
        """Whether ``factor`` (one of this schedule's) is ``wsd``'s stable phase, where a plateau
        of the validation loss is expected (the decay brings most of the gain). Only there is
        the factor exactly 1: warmup stays below it, the decay falls from it (unless
        ``min_lr_ratio`` is 1: then there is no decay to wait for)."""
        return self.kind == "wsd" and factor == 1.0 and self.min_lr_ratio < 1.0

    def state_dict(self) -> dict[str, Any]:
        return {"warmup_end_progress": self.warmup_end_progress}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.warmup_end_progress = state.get("warmup_end_progress")
