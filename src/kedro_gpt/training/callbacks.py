"""How training reports: a small callback interface (MLflow lives in ``tracking/``, not here).

Only rank 0 calls callbacks. ``on_log`` metrics: ``loss`` (mean train loss since the last log),
``lr``, ``grad_norm``, ``tokens_per_s``, ``mfu``, ``tokens_seen``, ``elapsed_s``, ``progress``,
``eta_s``. ``on_eval`` metrics: ``loss``, ``perplexity``, ``bits_per_token`` and, when the
validation meta has them, ``bits_per_byte`` and ``bits_per_char``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from kedro_gpt.training.result import TrainResult

logger = logging.getLogger("kedro_gpt.training")


class TrainCallback:
    """Base class: override the hooks you need; every hook is a no-op here."""

    def on_train_start(self, info: dict[str, Any]) -> None:
        """Once, before the first step: model size, budget, device, configs, resumed step."""

    def on_log(self, step: int, metrics: dict[str, float]) -> None:
        """Every ``log_interval`` steps (after ``step`` optimizer steps)."""

    def on_eval(self, step: int, metrics: dict[str, float]) -> None:
        """After each evaluation; ``metrics['final']`` is 1.0 for the full final pass."""

    def on_checkpoint(self, step: int, path: Path, is_best: bool) -> None:
        """After a checkpoint folder is complete on disk."""

    def on_train_end(self, result: TrainResult) -> None:
        """Once, when training finished normally."""


class CallbackList(TrainCallback):
    """Calls each callback in turn."""

    def __init__(self, callbacks: Sequence[TrainCallback]) -> None:
        self.callbacks = list(callbacks)

    def on_train_start(self, info: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_train_start(info)

    def on_log(self, step: int, metrics: dict[str, float]) -> None:
        for cb in self.callbacks:
            cb.on_log(step, metrics)

    def on_eval(self, step: int, metrics: dict[str, float]) -> None:
        for cb in self.callbacks:
            cb.on_eval(step, metrics)

    def on_checkpoint(self, step: int, path: Path, is_best: bool) -> None:
        for cb in self.callbacks:
            cb.on_checkpoint(step, path, is_best)

    def on_train_end(self, result: TrainResult) -> None:
        for cb in self.callbacks:
            cb.on_train_end(result)


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _si(value: float) -> str:
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value:.0f}"


class LoggingCallback(TrainCallback):
    """One line per log interval, evaluation and checkpoint on the ``kedro_gpt.training`` logger."""

    def on_train_start(self, info: dict[str, Any]) -> None:
        logger.info(
            "training %s parameters on %s (%s, %d process(es)), %s tokens per step%s",
            f"{info.get('num_params', 0):,}",
            info.get("device"),
            info.get("dtype"),
            info.get("world_size", 1),
            f"{info.get('tokens_per_step', 0):,}",
            f", resumed at step {info['resumed_step']}" if info.get("resumed_step") else "",
        )

    def on_log(self, step: int, metrics: dict[str, float]) -> None:
        logger.info(
            "step %d | loss %.4f | lr %.2e | grad %.3f | %s tok/s | MFU %.1f%% | ETA %s",
            step,
            metrics["loss"],
            metrics["lr"],
            metrics["grad_norm"],
            _si(metrics["tokens_per_s"]),
            100.0 * metrics["mfu"],
            format_duration(metrics["eta_s"]),
        )

    def on_eval(self, step: int, metrics: dict[str, float]) -> None:
        extra = "".join(
            f" | {name} {metrics[name]:.4f}"
            for name in ("bits_per_byte", "bits_per_char")
            if name in metrics
        )
        logger.info(
            "%s step %d | val loss %.4f | ppl %.2f%s",
            "final eval" if metrics.get("final") else "eval",
            step,
            metrics["loss"],
            metrics["perplexity"],
            extra,
        )

    def on_checkpoint(self, step: int, path: Path, is_best: bool) -> None:
        logger.info("checkpoint step %d -> %s%s", step, path, " (best)" if is_best else "")


class ProgressBarCallback(TrainCallback):
    """A tqdm bar over optimizer steps (no total without ``max_steps``; the ETA is in the
    postfix either way, from the budget progress)."""

    def __init__(self, total_steps: int | None, start_step: int = 0) -> None:
        self.total_steps = total_steps
        self.start_step = start_step
        self.bar: Any = None

    def on_train_start(self, info: dict[str, Any]) -> None:
        total = self.total_steps
        self.bar = tqdm(total=total, initial=self.start_step, unit="step", dynamic_ncols=True)

    def on_log(self, step: int, metrics: dict[str, float]) -> None:
        if self.bar is None:
            return
        self.bar.set_postfix(
            loss=f"{metrics['loss']:.4f}",
            tok_s=_si(metrics["tokens_per_s"]),
            mfu=f"{100.0 * metrics['mfu']:.1f}%",
            eta=format_duration(metrics["eta_s"]),
            refresh=False,
        )
        self.bar.update(step - self.bar.n)

    def on_train_end(self, result: TrainResult) -> None:
        self.close(result.step)

    def close(self, step: int | None = None) -> None:
        if self.bar is not None:
            if step is not None:
                self.bar.update(step - self.bar.n)
            self.bar.close()
            self.bar = None
