"""What a training run returns (and what ``launch`` reads back from a multi-process run)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

RESULT_FILE = "train_result.json"  # what rank 0 of a worker run leaves in the output folder
ERROR_FILE = "train_error.json"  # ... or this, when training failed


class TrainingDiverged(RuntimeError):
    """The loss or gradient norm became NaN or infinite; ``step`` is the first bad step."""

    def __init__(self, step: int, message: str | None = None) -> None:
        self.step = step
        super().__init__(
            message
            or f"training diverged at step {step}: the loss or gradient norm is NaN or infinite "
            "(lower the learning rate or raise warmup); the last good checkpoint was kept"
        )


@dataclass
class TrainResult:
    """Final position, the logged history, where the checkpoints are, and the run's mean
    throughput (``tokens_per_s``, ``mfu``: all tokens of this call ÷ its training time, evaluation
    and checkpoint pauses left out)."""

    step: int
    tokens: int
    elapsed_s: float
    stopped_by: str
    history: list[dict[str, float]] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    final_eval: dict[str, float] | None = None
    best_val_loss: float | None = None
    best_path: str | None = None
    last_path: str | None = None
    tokens_per_s: float | None = None
    mfu: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        return cls(**data)
