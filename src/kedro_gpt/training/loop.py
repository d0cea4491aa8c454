"""The one training loop, for pretraining and fine-tuning alike (they differ by batch source).

``train`` wires the components (optimizers, LR schedule, batch source, evaluator, checkpoints,
throughput meter, callbacks, DDP) and runs optimizer steps until a budget is spent. Inside a step
nothing waits for the device: the loss, the gradient norm and a divergence flag stay on the
device and are read (``.item()``) only at log, eval and checkpoint steps; a NaN/inf is therefore
caught before any checkpoint is written and reported as :class:`TrainingDiverged`.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kedro_gpt.training.callbacks import (
    CallbackList,
    LoggingCallback,
    ProgressBarCallback,
    TrainCallback,
)
from kedro_gpt.training.checkpoint import (
    LAST,
    find_checkpoint,
    remove_checkpoints,
    remove_stale_temporaries,
    update_config,
)
from kedro_gpt.training.config import TrainConfig
from kedro_gpt.training.data import BatchSource
from kedro_gpt.training.device import configure_backends, resolve_precision
from kedro_gpt.training.distributed import DistContext
from kedro_gpt.training.evaluate import Evaluator
from kedro_gpt.training.meter import ThroughputMeter, matmul_peak
from kedro_gpt.training.result import TrainResult
from kedro_gpt.training.schedule import budget_progress
from kedro_gpt.training.state import Position, RunState, model_config_of
from kedro_gpt.training.step import DivergenceGuard, StepModel, train_step

logger = logging.getLogger("kedro_gpt.training")


def train(
    model: nn.Module,
    batches: BatchSource,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    evaluator: Evaluator | None = None,
    callbacks: Sequence[TrainCallback] = (),
    resume: bool = False,
    model_config: dict[str, Any] | None = None,
    dist: DistContext | None = None,
) -> TrainResult:
    """Train ``model`` on ``batches`` until the first of the config's budgets is spent.

    ``model`` follows ``kedro_gpt.model.gpt.GPT``'s interface (``forward(idx, targets) ->
    (logits, loss)``; ``param_groups``/``flops_per_token``/``hidden_matrix_params`` are used
    when present). Checkpoints go to ``out_dir/last`` and ``out_dir/best``. ``resume=True``
    continues from ``out_dir/last`` when it exists (and starts fresh otherwise); without it the
    run starts fresh and first deletes the checkpoints of an earlier run there (with a warning).
    Under torchrun pass the :class:`DistContext` and a batch source built for this rank.
    ``config.num_threads`` sets torch's (process-wide) CPU thread count. ``max_epochs`` needs a
    batch source with ``tokens_per_epoch``; ``early_stopping_patience`` needs an evaluator.
    """
    dist = dist or DistContext()
    out_dir = Path(out_dir)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    precision = resolve_precision(config.device, config.dtype, dist.local_rank)
    configure_backends(precision)
    existing = find_checkpoint(out_dir, LAST) if resume else None
    if dist.is_main:
        remove_stale_temporaries(out_dir)
        if not resume:
            remove_checkpoints(out_dir)  # a fresh run must not inherit an old "best"
    dist.barrier()
    # measured (or read from the cache) before seeding; it uses its own generator anyway
    peak = matmul_peak(precision.device, precision.dtype) if dist.is_main else 0.0
    torch.manual_seed(config.seed + dist.rank)
    random.seed(config.seed + dist.rank)

    model.to(precision.device)
    model.train()
    run = RunState(
        model,
        batches,
        config,
        out_dir,
        evaluator,
        CallbackList([]),
        model_config_of(model, model_config),
        dist,
        precision,
    )
    if existing is not None:
        run.restore(existing)
        logger.info("resuming from %s at step %d", existing, run.pos.step)
    if dist.is_main:  # callbacks run on rank 0 only
        bar = [ProgressBarCallback()] if config.progress_bar else []
        run.callbacks = CallbackList([LoggingCallback(), *bar, *callbacks])
    return _train_loop(run, peak)


class _Budget:
    """Wall-clock time and the share of the budget spent (the LR schedule's ``progress``)."""

    def __init__(
        self, config: TrainConfig, dist: DistContext, pos: Position, epoch_tokens: int | None
    ) -> None:
        self.config, self.dist, self.epoch_tokens = config, dist, epoch_tokens
        self.clock0 = time.perf_counter() - pos.elapsed_s
        self.start_elapsed = pos.elapsed_s
        self.start_progress = self.progress(pos, pos.elapsed_s)

    def elapsed(self) -> float:
        seconds = time.perf_counter() - self.clock0
        timed = self.config.max_minutes or self.config.eval_interval_minutes
        if timed and self.dist.is_distributed:
            # every rank stops (and validates) at the same step
            seconds = self.dist.broadcast_float(seconds)
        return seconds

    def progress(self, pos: Position, seconds: float) -> float:
        c = self.config
        epochs = pos.tokens / self.epoch_tokens if self.epoch_tokens else 0.0
        return budget_progress(
            pos.step,
            pos.tokens,
            seconds,
            c.max_steps,
            c.max_tokens,
            c.max_minutes,
            epochs=epochs,
            max_epochs=c.max_epochs,
        )

    def eta_s(self, done: float, seconds: float) -> float:
        """Seconds left at the rate this call has spent the budget so far."""
        spent = done - self.start_progress
        rate = spent / max(seconds - self.start_elapsed, 1e-9)
        return (1.0 - min(done, 1.0)) / rate if rate > 0 else math.inf


class _LossWindow:
    """The summed step losses since the last log (on the device)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.total, self.steps = torch.zeros((), device=self.device), 0

    def add(self, loss: torch.Tensor) -> None:
        self.total += loss.detach()
        self.steps += 1


class _Loop:
    """The components a training loop drives, built once per ``train`` call."""

    def __init__(self, run: RunState, peak: float) -> None:
        config, dist, device = run.config, run.dist, run.precision.device
        self.run, self.config, self.dist = run, config, dist
        self.model = StepModel.wrap(
            run.raw,
            dist,
            device,
            compile=config.compile,
            grad_clip=config.grad_clip,
            grad_accum_steps=config.grad_accum_steps,
        )
        raw = run.raw
        params = self.model.params
        self.num_params = (
            raw.num_params() if hasattr(raw, "num_params") else sum(p.numel() for p in params)
        )
        self.flops_per_token = (
            float(raw.flops_per_token())
            if hasattr(raw, "flops_per_token")
            else 6.0 * self.num_params
        )
        self.peak = peak
        self.meter = ThroughputMeter(self.flops_per_token, peak * dist.world_size)
        self.guard = DivergenceGuard(device)
        self.budget = _Budget(config, dist, run.pos, run.tokens_per_epoch)
        self.window = _LossWindow(device)
        self.grad_norm = torch.zeros((), device=device)
        self.lr_factor = 0.0
        self.eval_every_s = (config.eval_interval_minutes or 0.0) * 60.0
        self.next_eval_s = self.budget.start_elapsed + self.eval_every_s

    def start_info(self) -> dict[str, Any]:
        run, config = self.run, self.config
        block = int(run.model_config.get("block_size", 0))
        return {
            "num_params": self.num_params,
            "flops_per_token": self.flops_per_token,
            "tokens_per_step": config.batch_size
            * config.grad_accum_steps
            * self.dist.world_size
            * block,
            "world_size": self.dist.world_size,
            "device": str(run.precision.device),
            "dtype": run.precision.name,
            "matmul_peak_flops": self.peak,
            "resumed_step": run.pos.step,
            "tokens_per_epoch": run.tokens_per_epoch,
            "progress": self.budget.start_progress,
            "model_config": run.model_config,
            "train_config": config.model_dump(mode="json"),
        }

    def step(self, done: float) -> None:
        """One optimizer step at budget progress ``done``, then its bookkeeping."""
        run = self.run
        self.lr_factor = run.schedule.factor(run.pos.step, done)
        run.optimizers.set_lr_factor(self.lr_factor)
        loss, self.grad_norm, tokens = train_step(
            self.model, run.batches, run.optimizers, run.precision
        )
        run.pos.step += 1
        self.guard.update(loss, self.grad_norm, run.pos.step)
        tokens *= self.dist.world_size
        run.pos.tokens += tokens
        self.meter.add(tokens)
        self.window.add(loss)

    def timed_eval_due(self, seconds: float) -> bool:
        """Whether ``eval_interval_minutes`` has passed since the last timed validation."""
        if not self.eval_every_s or seconds < self.next_eval_s:
            return False
        while self.next_eval_s <= seconds:
            self.next_eval_s += self.eval_every_s
        return True

    def after_step(self, seconds: float) -> None:
        """Log, evaluate and checkpoint at their intervals (the only points that sync);
        ``seconds`` is the elapsed time the step started at (the same on every rank)."""
        config, step = self.config, self.run.pos.step
        log_now = step % config.log_interval == 0
        timed = self.timed_eval_due(seconds)
        eval_now = self.run.evaluator is not None and (step % config.eval_interval == 0 or timed)
        save_now = step % config.checkpoint_interval == 0
        if not (log_now or eval_now or save_now):
            return
        self.guard.check(self.dist)
        self.run.pos.elapsed_s = self.budget.elapsed()
        if log_now:
            self.log()
        if eval_now:
            counts = not self.run.schedule.holds_peak(self.lr_factor)
            self.paused(lambda: self.run.periodic_eval(patience_counts=counts))
        if save_now:
            self.paused(lambda: self.run.save(LAST))

    def log(self) -> None:
        run, dist, window = self.run, self.dist, self.window
        mean_loss = dist.all_reduce_sum(window.total / window.steps) / dist.world_size
        tokens_per_s, mfu = self.meter.read()
        seconds = run.pos.elapsed_s
        done = self.budget.progress(run.pos, seconds)
        metrics = {
            "step": float(run.pos.step),
            "loss": float(mean_loss.item()),
            "lr": self.config.learning_rate * self.lr_factor,
            "grad_norm": float(self.grad_norm.item()),
            "tokens_per_s": tokens_per_s,
            "mfu": mfu,
            "tokens_seen": float(run.pos.tokens),
            "elapsed_s": seconds,
            "progress": min(done, 1.0),
            "eta_s": self.budget.eta_s(done, seconds),
        }
        if run.tokens_per_epoch:
            metrics["epoch"] = run.epochs
        run.history.append(metrics)
        if dist.is_main:
            run.callbacks.on_log(run.pos.step, metrics)
        window.reset()

    def paused(self, action: Any) -> Any:
        """Run ``action`` with its time left out of the throughput figures."""
        t = time.perf_counter()
        out = action()
        self.meter.exclude(time.perf_counter() - t)
        return out

    def finish(self) -> dict[str, float] | None:
        """After the last step: the last checks, evaluations and checkpoint."""
        run, config = self.run, self.config
        self.guard.check(self.dist)
        run.pos.elapsed_s = self.budget.elapsed()
        final_eval = None
        if run.evaluator is not None:
            if run.last_eval_step != run.pos.step and run.pos.step > 0:
                run.periodic_eval()
            if config.final_eval:
                final_eval = run.evaluate(full=True)
        extra = {"final_eval": final_eval} if final_eval else None
        if run.last_saved_step != run.pos.step:
            run.save(LAST, extra)
        elif extra and self.dist.is_main and run.last_path is not None:
            update_config(run.last_path, extra)
        return final_eval


def _train_loop(run: RunState, peak: float) -> TrainResult:
    loop = _Loop(run, peak)
    if run.dist.is_main:
        run.callbacks.on_train_start(loop.start_info())
    stopped_by = "max_steps"
    try:
        if run.config.eval_at_start and run.evaluator is not None and run.pos.step == 0:
            loop.paused(run.periodic_eval)
        while True:
            seconds = loop.budget.elapsed()
            done = loop.budget.progress(run.pos, seconds)
            if done >= 1.0:
                stopped_by = _stopped_by(run.pos, seconds, run.config, run.epochs)
                break
            if run.early_stopped:
                stopped_by = "early_stopping"
                break
            loop.step(done)
            loop.after_step(seconds)
        tokens_per_s, mfu = loop.meter.run_mean()  # before the final evaluation's pause
        final_eval = loop.finish()
    except BaseException:
        for cb in run.callbacks.callbacks:
            if isinstance(cb, ProgressBarCallback):
                cb.close()
        raise
    result = TrainResult(
        step=run.pos.step,
        tokens=run.pos.tokens,
        elapsed_s=run.pos.elapsed_s,
        stopped_by=stopped_by,
        history=run.history,
        evals=run.evals,
        final_eval=final_eval,
        best_val_loss=run.pos.best_val_loss,
        best_path=str(run.best_path) if run.best_path else None,
        last_path=str(run.last_path) if run.last_path else None,
        tokens_per_s=tokens_per_s,
        mfu=mfu,
    )
    if run.dist.is_main:
        run.callbacks.on_train_end(result)
    return result


def _stopped_by(pos: Position, elapsed_s: float, config: TrainConfig, epochs: float) -> str:
    shares = {
        "max_steps": pos.step / config.max_steps if config.max_steps else 0.0,
        "max_tokens": pos.tokens / config.max_tokens if config.max_tokens else 0.0,
        "max_minutes": elapsed_s / (60 * config.max_minutes) if config.max_minutes else 0.0,
        "max_epochs": epochs / config.max_epochs if config.max_epochs else 0.0,
    }
    return max(shares, key=lambda k: shares[k])
