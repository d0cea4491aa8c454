"""The one training loop, for pretraining and fine-tuning alike (they differ by batch source).

``train`` wires the components (optimizers, LR schedule, batch source, evaluator, checkpoints,
throughput meter, callbacks, DDP) and runs optimizer steps until a budget is spent. Inside a step
nothing waits for the device: the loss, the gradient norm and a divergence flag stay on the
device and are read (``.item()``) only at log, eval and checkpoint steps; a NaN/inf is therefore
caught before any checkpoint is written and reported as :class:`TrainingDiverged`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from kedro_gpt.training.callbacks import (
    CallbackList,
    LoggingCallback,
    ProgressBarCallback,
    TrainCallback,
)
from kedro_gpt.training.checkpoint import (
    BEST,
    LAST,
    capture_rng_state,
    find_checkpoint,
    load_trainer_state,
    load_weights,
    read_config,
    remove_checkpoints,
    remove_stale_temporaries,
    restore_rng_state,
    save_checkpoint,
    update_config,
)
from kedro_gpt.training.config import TrainConfig
from kedro_gpt.training.data import BatchSource
from kedro_gpt.training.device import Precision, configure_backends, resolve_precision
from kedro_gpt.training.distributed import DistContext
from kedro_gpt.training.evaluate import Evaluator
from kedro_gpt.training.meter import ThroughputMeter, matmul_peak
from kedro_gpt.training.optim import Optimizers, build_optimizers
from kedro_gpt.training.result import TrainingDiverged, TrainResult
from kedro_gpt.training.schedule import LRSchedule, budget_progress

logger = logging.getLogger("kedro_gpt.training")


@dataclass
class _Position:
    """Progress counters (checkpointed)."""

    step: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    best_val_loss: float | None = None


def _model_config(model: nn.Module, given: dict[str, Any] | None) -> dict[str, Any]:
    if given is not None:
        return dict(given)
    config = getattr(model, "config", None)
    return config.to_dict() if hasattr(config, "to_dict") else {}


class _Run:
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
        self.optimizers: Optimizers = build_optimizers(model, config, precision.device)
        self.schedule = LRSchedule(
            config.warmup_steps, config.schedule, config.min_lr_ratio, config.decay_fraction
        )
        self.pos = _Position()
        self.history: list[dict[str, float]] = []
        self.evals: list[dict[str, float]] = []
        self.best_path: Path | None = None
        self.last_path: Path | None = None
        self.last_saved_step = -1
        self.last_eval_step = -1

    # -- checkpoints ------------------------------------------------------------------------

    def trainer_state(self) -> dict[str, Any]:
        return {
            "step": self.pos.step,
            "tokens": self.pos.tokens,
            "elapsed_s": self.pos.elapsed_s,
            "best_val_loss": self.pos.best_val_loss,
            "optimizer": self.optimizers.state_dict(),
            "schedule": self.schedule.state_dict(),
            "data": self.batches.state_dict(),
            "rng": {"world_size": self.dist.world_size, "ranks": self.rng_states()},
        }

    def rng_states(self) -> list[dict[str, Any]]:
        return self.dist.all_gather_object(capture_rng_state())

    def save(self, name: str, extra: dict[str, Any] | None = None) -> Path:
        """Write checkpoint ``name`` (all ranks call this; rank 0 writes)."""
        state = self.trainer_state()  # a collective: every rank takes part
        folder = self.out_dir / name
        if self.dist.is_main:
            meta = {
                "model": self.model_config,
                "train": self.config.model_dump(mode="json"),
                "step": self.pos.step,
                "tokens": self.pos.tokens,
                "elapsed_s": self.pos.elapsed_s,
                "best_val_loss": self.pos.best_val_loss,
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
        self.pos = _Position(
            step=int(state["step"]),
            tokens=int(state["tokens"]),
            elapsed_s=float(state["elapsed_s"]),
            best_val_loss=state["best_val_loss"],
        )
        self.last_path = folder
        self.last_saved_step = self.pos.step
        best = find_checkpoint(self.out_dir, BEST)
        self.best_path = best

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

    def periodic_eval(self) -> None:
        metrics = self.evaluate(full=False)
        best = self.pos.best_val_loss
        if math.isfinite(metrics["loss"]) and (best is None or metrics["loss"] < best):
            self.pos.best_val_loss = metrics["loss"]
            self.save(BEST, {"val_loss": metrics["loss"]})


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
    ``config.num_threads`` sets torch's (process-wide) CPU thread count.
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
    run = _Run(
        model,
        batches,
        config,
        out_dir,
        evaluator,
        CallbackList([]),
        _model_config(model, model_config),
        dist,
        precision,
    )
    if existing is not None:
        run.restore(existing)
        logger.info("resuming from %s at step %d", existing, run.pos.step)
    if dist.is_main:  # callbacks run on rank 0 only
        bar = [ProgressBarCallback(config.max_steps, run.pos.step)] if config.progress_bar else []
        run.callbacks = CallbackList([LoggingCallback(), *bar, *callbacks])
    return _train_loop(run, peak)


def _train_loop(run: _Run, peak: float) -> TrainResult:
    config, dist, device = run.config, run.dist, run.precision.device
    raw = run.raw
    ddp = (
        DistributedDataParallel(raw, device_ids=[device.index] if device.type == "cuda" else None)
        if dist.is_distributed
        else None
    )
    net: nn.Module = ddp if ddp is not None else raw
    if config.compile:
        net = torch.compile(net)  # type: ignore[assignment]
    accum = config.grad_accum_steps
    params = [p for p in raw.parameters() if p.requires_grad]
    max_norm = config.grad_clip if config.grad_clip > 0 else float("inf")
    num_params = raw.num_params() if hasattr(raw, "num_params") else sum(p.numel() for p in params)
    flops_per_token = (
        float(raw.flops_per_token()) if hasattr(raw, "flops_per_token") else 6.0 * num_params
    )
    meter = ThroughputMeter(flops_per_token, peak * dist.world_size)
    block = int(run.model_config.get("block_size", 0))
    if dist.is_main:
        run.callbacks.on_train_start(
            {
                "num_params": num_params,
                "flops_per_token": flops_per_token,
                "tokens_per_step": config.batch_size * accum * dist.world_size * block,
                "world_size": dist.world_size,
                "device": str(device),
                "dtype": run.precision.name,
                "matmul_peak_flops": peak,
                "resumed_step": run.pos.step,
                "model_config": run.model_config,
                "train_config": config.model_dump(mode="json"),
            }
        )

    zero = torch.zeros((), device=device)
    bad = torch.zeros((), dtype=torch.bool, device=device)
    first_bad = torch.full((), -1, dtype=torch.int64, device=device)
    interval_loss, interval_steps = zero.clone(), 0
    grad_norm = zero.clone()
    lr_factor = 0.0
    clock0 = time.perf_counter() - run.pos.elapsed_s
    start_elapsed, start_progress = run.pos.elapsed_s, None

    def elapsed() -> float:
        seconds = time.perf_counter() - clock0
        if config.max_minutes and dist.is_distributed:
            seconds = dist.broadcast_float(seconds)  # every rank stops at the same step
        return seconds

    def progress(seconds: float) -> float:
        return budget_progress(
            run.pos.step,
            run.pos.tokens,
            seconds,
            config.max_steps,
            config.max_tokens,
            config.max_minutes,
        )

    def check_finite() -> None:
        flags = torch.stack([bad.double(), torch.where(bad, -first_bad.double(), -math.inf)]).to(
            device
        )
        dist.all_reduce_max(flags)
        is_bad, neg_step = flags.tolist()
        if is_bad:
            raise TrainingDiverged(int(-neg_step))

    def paused(action: Any) -> Any:
        t = time.perf_counter()
        out = action()
        meter.exclude(time.perf_counter() - t)
        return out

    stopped_by = "max_steps"
    try:
        while True:
            now = elapsed()
            done = progress(now)
            if start_progress is None:
                start_progress = done
            if done >= 1.0:
                stopped_by = _stopped_by(run.pos, now, config)
                break
            lr_factor = run.schedule.factor(run.pos.step, done)
            run.optimizers.set_lr_factor(lr_factor)
            loss_sum = zero.clone()
            step_tokens = 0
            for micro in range(accum):
                x, y = run.batches.next_batch()
                step_tokens += x.numel()
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
                sync = (
                    ddp.no_sync()
                    if ddp is not None and micro < accum - 1
                    else contextlib.nullcontext()
                )
                with sync:
                    with run.precision.autocast():
                        _, loss = net(x, y)
                    (loss / accum).backward()
                loss_sum += loss.detach()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
            step_loss = loss_sum / accum
            now_bad = ~(torch.isfinite(step_loss) & torch.isfinite(grad_norm))
            first_bad = torch.where(now_bad & ~bad, run.pos.step + 1, first_bad)
            bad = bad | now_bad
            run.optimizers.step()
            run.optimizers.zero_grad()
            run.pos.step += 1
            step_tokens *= dist.world_size
            run.pos.tokens += step_tokens
            meter.add(step_tokens)
            interval_loss += step_loss.detach()
            interval_steps += 1

            step = run.pos.step
            log_now = step % config.log_interval == 0
            eval_now = run.evaluator is not None and step % config.eval_interval == 0
            save_now = step % config.checkpoint_interval == 0
            if not (log_now or eval_now or save_now):
                continue
            check_finite()
            run.pos.elapsed_s = elapsed()
            if log_now:
                mean_loss = dist.all_reduce_sum(interval_loss / interval_steps) / dist.world_size
                tokens_per_s, mfu = meter.read()
                done = progress(run.pos.elapsed_s)
                rate = (done - start_progress) / max(run.pos.elapsed_s - start_elapsed, 1e-9)
                metrics = {
                    "step": float(step),
                    "loss": float(mean_loss.item()),
                    "lr": config.learning_rate * lr_factor,
                    "grad_norm": float(grad_norm.item()),
                    "tokens_per_s": tokens_per_s,
                    "mfu": mfu,
                    "tokens_seen": float(run.pos.tokens),
                    "elapsed_s": run.pos.elapsed_s,
                    "progress": min(done, 1.0),
                    "eta_s": (1.0 - min(done, 1.0)) / rate if rate > 0 else math.inf,
                }
                run.history.append(metrics)
                if dist.is_main:
                    run.callbacks.on_log(step, metrics)
                interval_loss, interval_steps = zero.clone(), 0
            if eval_now:
                paused(run.periodic_eval)
            if save_now:
                paused(lambda: run.save(LAST))

        check_finite()
        run.pos.elapsed_s = elapsed()
        final_eval = None
        if run.evaluator is not None:
            if run.last_eval_step != run.pos.step and run.pos.step > 0:
                run.periodic_eval()
            if config.final_eval:
                final_eval = run.evaluate(full=True)
        extra = {"final_eval": final_eval} if final_eval else None
        if run.last_saved_step != run.pos.step:
            run.save(LAST, extra)
        elif extra and dist.is_main and run.last_path is not None:
            update_config(run.last_path, extra)
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
    )
    if dist.is_main:
        run.callbacks.on_train_end(result)
    return result


def _stopped_by(pos: _Position, elapsed_s: float, config: TrainConfig) -> str:
    shares = {
        "max_steps": pos.step / config.max_steps if config.max_steps else 0.0,
        "max_tokens": pos.tokens / config.max_tokens if config.max_tokens else 0.0,
        "max_minutes": elapsed_s / (60 * config.max_minutes) if config.max_minutes else 0.0,
    }
    return max(shares, key=lambda k: shares[k])
