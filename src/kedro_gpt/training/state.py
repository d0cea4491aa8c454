"""What one ``train`` call carries between steps: position, optimizers, schedule, batches,
checkpoints (save and restore, RNG states included) and the evaluations with the best-model rule."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from kedro_gpt.training.callbacks import CallbackList
from kedro_gpt.training.checkpoint import (
    BEST,
    capture_rng_state,
    find_checkpoint,
    load_trainer_state,
    load_weights,
    read_config,
    restore_rng_state,
    save_checkpoint,
)
from kedro_gpt.training.config import TrainConfig
from kedro_gpt.training.data import BatchSource, tokens_per_epoch
from kedro_gpt.training.device import Precision
from kedro_gpt.training.distributed import DistContext
from kedro_gpt.training.evaluate import Evaluator
from kedro_gpt.training.optim import Optimizers, build_optimizers
from kedro_gpt.training.schedule import LRSchedule

RESUME_ONLY = ("optimizer", "schedule", "data", "rng")  # trainer-state keys only a resume reads
logger = logging.getLogger("kedro_gpt.training")


@dataclass
class Position:
    """Progress counters (checkpointed)."""

    step: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    best_val_loss: float | None = None
    # early stopping: the loss of the last improvement by at least min_delta, evaluations since
    early_stopping_ref: float | None = None
    evals_without_improvement: int = 0


def model_config_of(model: nn.Module, given: dict[str, Any] | None) -> dict[str, Any]:
    if given is not None:
        return dict(given)
    config = getattr(model, "config", None)
    return config.to_dict() if hasattr(config, "to_dict") else {}


class RunState:
    """State and helpers of one ``train`` call (kept out of the step for readability)."""

    def __init__(
        self,
        model: nn.Module,
        batches: BatchSource,
        config: TrainConfig,
        out_dir: Path,
        evaluator: Evaluator | None,
        callbacks: CallbackList,
        model_config: dict[str, Any],
        dist: DistContext,
        precision: Precision,
    ) -> None:
        self.raw = model
        self.batches = batches
        self.config = config
        self.out_dir = out_dir
        self.evaluator = evaluator
        self.callbacks = callbacks
        self.model_config = model_config
        self.dist = dist
        self.precision = precision
        self.tokens_per_epoch = _checked_epoch_size(batches, config, evaluator)
        self.optimizers: Optimizers = build_optimizers(model, config, precision.device)
        self.schedule = LRSchedule(
            config.warmup_steps, config.schedule, config.min_lr_ratio, config.decay_fraction
        )
        self.pos = Position()
        self.history: list[dict[str, float]] = []
        self.evals: list[dict[str, float]] = []
        self.best_path: Path | None = None
        self.last_path: Path | None = None
        self.last_saved_step = -1
        self.last_eval_step = -1

    # -- checkpoints ------------------------------------------------------------------------

    def trainer_state(self) -> dict[str, Any]:
        """What ``restore`` needs to go on exactly where the run stopped."""
        return {
            "step": self.pos.step,
            "tokens": self.pos.tokens,
            "elapsed_s": self.pos.elapsed_s,
            "best_val_loss": self.pos.best_val_loss,
            "early_stopping_ref": self.pos.early_stopping_ref,
            "evals_without_improvement": self.pos.evals_without_improvement,
            "optimizer": self.optimizers.state_dict(),
            "schedule": self.schedule.state_dict(),
            "data": self.batches.state_dict(),
            "rng": {"world_size": self.dist.world_size, "ranks": self.rng_states()},
        }

    def rng_states(self) -> list[dict[str, Any]]:
        return self.dist.all_gather_object(capture_rng_state())

    def save(self, name: str, extra: dict[str, Any] | None = None) -> Path:
        """Write checkpoint ``name`` (all ranks call this; rank 0 writes). ``best/`` is read for
        its weights alone (a run resumes from ``last/``), so it holds the counters but not the
        optimizer, data and RNG states: a third of the bytes with AdamW (a GPU fine-tune of 8 x 512
        spent ~10 of 48 s a member on saves: docs/benchmarks.md, "On a GPU")."""
        state = self.trainer_state()  # a collective: every rank takes part
        if name == BEST:
            state = {k: v for k, v in state.items() if k not in RESUME_ONLY}
        folder = self.out_dir / name
        if self.dist.is_main:
            meta = {
                "model": self.model_config,
                "train": self.config.model_dump(mode="json"),
                "step": self.pos.step,
                "tokens": self.pos.tokens,
                "elapsed_s": self.pos.elapsed_s,
                "best_val_loss": self.pos.best_val_loss,
                **({"epoch": self.epochs} if self.tokens_per_epoch else {}),
                **(extra or {}),
            }
            save_checkpoint(folder, self.raw, meta, state)
            self.callbacks.on_checkpoint(self.pos.step, folder, name == BEST)
        if name == BEST:
            self.best_path = folder
        else:
            self.last_path = folder
            self.last_saved_step = self.pos.step
        return folder

    def restore(self, folder: Path) -> None:
        saved = read_config(folder)
        if self.model_config and saved.get("model") and saved["model"] != self.model_config:
            diff = sorted(
                k
                for k in set(saved["model"]) | set(self.model_config)
                if saved["model"].get(k) != self.model_config.get(k)
            )
            raise ValueError(
                f"cannot resume from {folder}: its model config differs in {', '.join(diff)}"
            )
        load_weights(self.raw, folder)
        state = load_trainer_state(folder)
        self.optimizers.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.batches.load_state_dict(state["data"])
        ranks = state["rng"]["ranks"]
        if len(ranks) == self.dist.world_size:
            restore_rng_state(ranks[self.dist.rank])
        else:
            logger.warning(
                "checkpoint RNG states are for %d process(es), this run has %d: dropout "
                "randomness is reseeded, so the run is not bit-for-bit the same",
                len(ranks),
                self.dist.world_size,
            )
        self.pos = Position(
            step=int(state["step"]),
            tokens=int(state["tokens"]),
            elapsed_s=float(state["elapsed_s"]),
            best_val_loss=state["best_val_loss"],
            early_stopping_ref=state.get("early_stopping_ref"),
            evals_without_improvement=int(state.get("evals_without_improvement", 0)),
        )
        self.last_path = folder
        self.last_saved_step = self.pos.step
        best = find_checkpoint(self.out_dir, BEST)
        self.best_path = best

    @property
    def epochs(self) -> float:
        """Passes over the training data so far (0.0 when the source reports no size)."""
        return self.pos.tokens / self.tokens_per_epoch if self.tokens_per_epoch else 0.0

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(self, full: bool) -> dict[str, float]:
        assert self.evaluator is not None
        metrics = self.evaluator.evaluate(self.raw, self.precision, self.dist, full=full)
        metrics = {**metrics, "step": float(self.pos.step)}
        self.evals.append(metrics)
        if not full:
            self.last_eval_step = self.pos.step
        if self.dist.is_main:
            self.callbacks.on_eval(self.pos.step, metrics)
        return metrics

    def periodic_eval(self, patience_counts: bool = True) -> None:
        """Validate, keep ``best/``, and count towards early stopping (``patience_counts``:
        False while a WSD schedule holds its peak learning rate)."""
        metrics = self.evaluate(full=False)
        best = self.pos.best_val_loss
        loss = metrics["loss"]
        self.track_improvement(loss, patience_counts)
        if math.isfinite(loss) and (best is None or loss < best):
            self.pos.best_val_loss = loss
            self.save(BEST, {"val_loss": loss})

    def track_improvement(self, loss: float, counts: bool = True) -> None:
        """Early stopping's count of validations without a drop of at least ``min_delta``
        (a validation that does not ``count`` can still reset it, never add to it)."""
        pos, delta = self.pos, self.config.early_stopping_min_delta
        ref = pos.early_stopping_ref
        if math.isfinite(loss) and (ref is None or loss < ref - delta):
            pos.early_stopping_ref, pos.evals_without_improvement = loss, 0
        elif counts:
            pos.evals_without_improvement += 1

    @property
    def early_stopped(self) -> bool:
        """Whether ``early_stopping_patience`` validations in a row brought no improvement."""
        patience = self.config.early_stopping_patience
        return patience is not None and self.pos.evals_without_improvement >= patience


def _checked_epoch_size(
    batches: BatchSource, config: TrainConfig, evaluator: Evaluator | None
) -> int | None:
    """The batch source's ``tokens_per_epoch``, after checking the budgets that need one."""
    size = tokens_per_epoch(batches)
    if config.max_epochs is not None and size is None:
        raise ValueError(
            f"max_epochs needs a batch source that reports tokens_per_epoch; "
            f"{type(batches).__name__} does not (set max_steps, max_tokens or max_minutes)"
        )
    if config.early_stopping_patience is not None and evaluator is None:
        raise ValueError("early_stopping_patience needs validation data (an evaluator)")
    return size
