"""How training reports: a small callback interface (MLflow lives in ``tracking/``, not here).

Only rank 0 calls callbacks. ``on_train_start`` info includes ``progress``, the share of the
budget already spent (non-zero on resume). ``on_log`` metrics: ``loss`` (mean train loss since
the last log), ``lr``, ``grad_norm``, ``tokens_per_s``, ``mfu``, ``tokens_seen``, ``elapsed_s``,
``progress``, ``eta_s`` and, when the batch source reports its size, ``epoch`` (passes over the
training data). ``on_eval`` metrics: ``loss``, ``perplexity``, ``bits_per_token`` and,
when the validation meta has them, ``bits_per_byte`` and ``bits_per_char``; ``final`` is 1.0 for
the full pass over every validation token, 0.0 for the periodic pass over ``eval_batches``
sampled batches. ``on_train_end`` gets the result, with the run's mean ``tokens_per_s``/``mfu``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
            f" | {label} {metrics[name]:{spec}}"
            for name, label, spec in (
                ("perplexity", "ppl", ".2f"),
                ("bits_per_byte", "bits_per_byte", ".4f"),
                ("bits_per_char", "bits_per_char", ".4f"),
                ("preference_rate", "preference_rate", ".3f"),  # DPO
            )
            if name in metrics
        )
        logger.info(
            "%s step %d | val loss %.4f%s",
            "final eval" if metrics.get("final") else "eval",
            step,
            metrics["loss"],
            extra,
        )

    def on_checkpoint(self, step: int, path: Path, is_best: bool) -> None:
        logger.info("checkpoint step %d -> %s%s", step, path, " (best)" if is_best else "")


def describe_budget(train_config: dict[str, Any]) -> str:
    """``'2.5 min'``, ``'100,000 steps or 2.5 min'``: the budgets that can stop the run."""
    parts = []
    if train_config.get("max_steps"):
        parts.append(f"{train_config['max_steps']:,} steps")
    if train_config.get("max_tokens"):
        parts.append(f"{_si(train_config['max_tokens'])} tokens")
    if train_config.get("max_minutes"):
        parts.append(f"{train_config['max_minutes']:g} min")
    if train_config.get("max_epochs"):
        parts.append(f"{train_config['max_epochs']:g} epochs")
    return " or ".join(parts)


class ProgressBarCallback(TrainCallback):
    """A tqdm bar over the share of the budget spent, 0-100 %: it follows whichever budget
    (steps, tokens, minutes or epochs) will stop the run, so its ETA is the run's. Step, loss,
    throughput and MFU follow the bar; at the end it fills to 100 % and closes."""

    BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}"

    def __init__(self, file: Any = None) -> None:
        self.file = file
        self.bar: Any = None

    def on_train_start(self, info: dict[str, Any]) -> None:
        budget = describe_budget(info.get("train_config") or {})
        self.bar = _tqdm()(
            total=100,
            initial=_percent(info.get("progress", 0.0)),
            desc=f"training ({budget})" if budget else "training",
            bar_format=self.BAR_FORMAT,
            dynamic_ncols=True,
            file=self.file,
        )

    def on_log(self, step: int, metrics: dict[str, float]) -> None:
        if self.bar is None:
            return
        postfix = {
            "step": step,
            "loss": f"{metrics['loss']:.4f}",
            "tok/s": _si(metrics["tokens_per_s"]),
            "mfu": f"{100.0 * metrics['mfu']:.1f}%",
        }
        self.bar.set_postfix(postfix, refresh=False)
        self._advance(metrics.get("progress", 0.0))

    def on_train_end(self, result: TrainResult) -> None:
        self._advance(1.0)  # training ends when a budget is spent
        self.close()

    def _advance(self, progress: float) -> None:
        if self.bar is not None:
            self.bar.update(_percent(progress) - self.bar.n)

    def close(self) -> None:
        """Close the bar where it stands (an interrupted run keeps its last position)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _tqdm() -> Any:
    """tqdm's notebook widget where Jupyter can draw it (ipywidgets), its text bar elsewhere.

    Imported when a bar starts, not with this module: ``tqdm.auto`` warns in a notebook kernel
    without ipywidgets, and importing the project there should stay quiet.
    """
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm.std import tqdm
    return tqdm


def _percent(progress: float) -> float:
    return round(100.0 * min(max(progress, 0.0), 1.0), 1)
