"""The training loop in-process: budgets, callbacks, evaluation, resume, divergence, Muon."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kedro_gpt.model.config import GPTConfig
from kedro_gpt.model.gpt import GPT
from kedro_gpt.training import (
    RandomWindows,
    ShardEvaluator,
    TrainCallback,
    TrainingDiverged,
    train,
)
from kedro_gpt.training.checkpoint import (
    find_checkpoint,
    load_trainer_state,
    load_weights,
    read_config,
)
from kedro_gpt.training.device import resolve_precision
from kedro_gpt.training.distributed import DistContext
from tests.training.conftest import TINY, tiny_config, tiny_model


class Recorder(TrainCallback):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_train_start(self, info):
        self.events.append(("start", info))

    def on_log(self, step, metrics):
        self.events.append(("log", step, metrics))

    def on_eval(self, step, metrics):
        self.events.append(("eval", step, metrics))

    def on_checkpoint(self, step, path, is_best):
        self.events.append(("checkpoint", step, path.name, is_best))

    def on_train_end(self, result):
        self.events.append(("end", result))


def windows(splits, seed: int = 0, batch_size: int = 4, **kw) -> RandomWindows:
    return RandomWindows(list(splits["train"].shards), 16, batch_size, seed=seed, **kw)


def evaluator(splits, block_size: int = 16) -> ShardEvaluator:
    val = splits["val"]
    return ShardEvaluator(list(val.shards), val.meta, block_size, 4, 2, seed=0)


def test_training_lowers_the_loss_and_reports_through_callbacks(splits, out_dir):
    rec = Recorder()
    result = train(
        tiny_model(),
        windows(splits),
        tiny_config(max_steps=30, learning_rate=1e-2),
        out_dir,
        evaluator=evaluator(splits),
        callbacks=[rec],
    )
    kinds = [e[0] for e in rec.events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert rec.events[0][1]["num_params"] > 0 and rec.events[0][1]["matmul_peak_flops"] > 0
    logs = [e for e in rec.events if e[0] == "log"]
    assert [e[1] for e in logs] == [5, 10, 15, 20, 25, 30]
    assert set(logs[0][2]) >= {
        "loss",
        "lr",
        "grad_norm",
        "tokens_per_s",
        "mfu",
        "tokens_seen",
        "elapsed_s",
        "eta_s",
    }
    assert logs[-1][2]["loss"] < logs[0][2]["loss"] - 0.3
    assert logs[-1][2]["tokens_seen"] == 30 * 4 * 16 and 0 < logs[-1][2]["mfu"] < 1
    assert result.step == 30 and result.tokens == 30 * 4 * 16 and result.stopped_by == "max_steps"
    assert result.history == [e[2] for e in logs]
    # the run's mean throughput: every token over the training time (evaluation pauses left out)
    assert result.tokens_per_s > result.tokens / result.elapsed_s and 0 < result.mfu < 1
    # periodic evals at 10, 20, 30, then the full pass; best kept, last written at the end
    evals = [(e[1], e[2]["final"]) for e in rec.events if e[0] == "eval"]
    assert evals == [(10, 0.0), (20, 0.0), (30, 0.0), (30, 1.0)]
    assert ("checkpoint", 30, "last", False) in rec.events
    assert result.best_path and result.last_path
    best = read_config(result.best_path)
    assert best["val_loss"] == result.best_val_loss == min(m["loss"] for m in result.evals[:3])
    final = read_config(result.last_path)
    assert final["step"] == 30 and final["final_eval"]["loss"] == result.final_eval["loss"]
    assert final["model"] == {**GPTConfig(**TINY).to_dict()}
    # best/ is read for its weights: no optimizer, data or RNG state (last/ resumes with them)
    best_state = load_trainer_state(result.best_path)
    assert "optimizer" not in best_state and best_state["step"] in (10, 20, 30)
    assert {"optimizer", "schedule", "data", "rng"} <= set(load_trainer_state(result.last_path))
    val = splits["val"]
    assert result.final_eval["tokens"] == val.num_tokens - len(val.shards)


def test_final_eval_scores_every_token_exactly(splits):
    """With blocks as long as each shard, the pass equals one direct forward per shard."""
    model = tiny_model(block_size=64).eval()
    shards = [np.arange(60, dtype=np.uint16) % 64, (np.arange(23, dtype=np.uint16) * 7) % 64]
    meta = {"text_chars": 100, "text_bytes": 120}
    ev = ShardEvaluator(shards, meta, 64, 1, 1, seed=0)
    metrics = ev.evaluate(model, resolve_precision("cpu", "auto"), DistContext(), full=True)
    nats = 0.0
    with torch.no_grad():
        for s in shards:
            t = torch.from_numpy(s.astype(np.int64))[None]
            logits, _ = model(t[:, :-1])
            nats += F.cross_entropy(logits[0], t[0, 1:], reduction="sum").item()
    assert metrics["tokens"] == 59 + 22
    assert metrics["loss"] == pytest.approx(nats / 81, rel=1e-6)
    assert metrics["bits_per_char"] == pytest.approx(nats / math.log(2) / 100, rel=1e-6)
    assert metrics["bits_per_byte"] == pytest.approx(nats / math.log(2) / 120, rel=1e-6)
    # the same tokens in blocks of 16 (partial last blocks) give the same figures
    small = ShardEvaluator(shards, meta, 16, 3, 1, seed=0)
    again = small.evaluate(model, resolve_precision("cpu", "auto"), DistContext(), full=True)
    assert again["tokens"] == 81


def test_a_split_shorter_than_a_window_is_scored_in_full():
    model = tiny_model()
    ev = ShardEvaluator([np.arange(10, dtype=np.uint16)], {"text_chars": 10}, 16, 4, 2, seed=0)
    metrics = ev.evaluate(model, resolve_precision("cpu", "auto"), DistContext(), full=False)
    assert metrics["tokens"] == 9 and metrics["final"] == 0.0 and "bits_per_char" in metrics


def test_stops_by_tokens(splits, out_dir):
    result = train(
        tiny_model(), windows(splits), tiny_config(max_steps=None, max_tokens=200), out_dir
    )
    assert (result.step, result.tokens, result.stopped_by) == (4, 256, "max_tokens")


def test_wall_clock_budget_ends_the_decay_at_the_budget(splits, out_dir):
    cfg = tiny_config(
        max_steps=None,
        max_minutes=1.0 / 60,
        log_interval=1,
        warmup_steps=1,
        min_lr_ratio=0.1,
        checkpoint_interval=10_000,
    )
    result = train(tiny_model(), windows(splits), cfg, out_dir)
    assert result.stopped_by == "max_minutes" and result.elapsed_s >= 1.0
    lrs = [h["lr"] for h in result.history]
    assert lrs[1] > 0.95 * cfg.learning_rate  # the decay starts where warmup ended ...
    assert all(a >= b for a, b in zip(lrs[1:], lrs[2:], strict=False))
    assert lrs[-1] < 0.2 * cfg.learning_rate  # ... and is (nearly) done when time is up
    assert result.history[-1]["progress"] > 0.8


class _Crash(TrainCallback):
    def on_log(self, step, metrics):
        if step == 12:
            raise KeyboardInterrupt


def test_resume_is_bitwise_equal_to_an_uninterrupted_run(splits, tmp_path):
    cfg = tiny_config(max_steps=20, log_interval=4, eval_interval=8, checkpoint_interval=5)
    whole = train(
        tiny_model(dropout=0.1), windows(splits), cfg, tmp_path / "a", evaluator=evaluator(splits)
    )
    with pytest.raises(KeyboardInterrupt):
        train(
            tiny_model(dropout=0.1),
            windows(splits),
            cfg,
            tmp_path / "b",
            evaluator=evaluator(splits),
            callbacks=[_Crash()],
        )
    assert read_config(find_checkpoint(tmp_path / "b"))["step"] == 10
    resumed = train(
        tiny_model(
            seed=99, dropout=0.1
        ),  # other initial weights: all must come from the checkpoint
        windows(splits, seed=0),
        cfg,
        tmp_path / "b",
        evaluator=evaluator(splits),
        resume=True,
    )
    assert resumed.step == 20 and resumed.history[0]["step"] == 12
    assert resumed.best_val_loss == whole.best_val_loss
    a, b = tiny_model(dropout=0.1), tiny_model(dropout=0.1)
    load_weights(a, whole.last_path)
    load_weights(b, resumed.last_path)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name


class Exploding(GPT):
    """Returns an infinite loss from training call ``at`` on."""

    def __init__(self, config: GPTConfig, at: int) -> None:
        super().__init__(config)
        self.at, self.calls = at, 0

    def forward(self, idx, targets=None):
        logits, loss = super().forward(idx, targets)
        if self.training and targets is not None:
            self.calls += 1
            if self.calls >= self.at:
                loss = loss * float("inf")
        return logits, loss


def test_divergence_stops_before_a_bad_checkpoint(splits, out_dir):
    torch.manual_seed(0)
    model = Exploding(GPTConfig(**TINY), at=13)
    cfg = tiny_config(max_steps=40, log_interval=50, eval_interval=50, checkpoint_interval=5)
    with pytest.raises(TrainingDiverged, match="step 13") as err:
        train(model, windows(splits), cfg, out_dir)
    assert err.value.step == 13
    last = find_checkpoint(out_dir)
    assert read_config(last)["step"] == 10
    good = tiny_model()
    load_weights(good, last)
    assert all(torch.isfinite(p).all() for p in good.parameters())


def test_muon_and_masked_batches_train(splits, out_dir):
    """Muon for the hidden matrices; a loss mask (y = -100) goes through the same loop."""

    class Masked:
        def __init__(self, inner):
            self.inner = inner

        def next_batch(self):
            x, y = self.inner.next_batch()
            y[:, : y.shape[1] // 2] = -100  # score the second half only
            return x, y

        def state_dict(self):
            return self.inner.state_dict()

        def load_state_dict(self, state):
            self.inner.load_state_dict(state)

    cfg = tiny_config(optimizer="muon", max_steps=20, learning_rate=1e-2, muon_lr=0.02)
    result = train(tiny_model(), Masked(windows(splits)), cfg, out_dir)
    losses = [h["loss"] for h in result.history]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]


def test_an_absurd_learning_rate_is_reported_as_divergence(splits, out_dir):
    cfg = tiny_config(learning_rate=1e6, warmup_steps=0, max_steps=50, log_interval=10)
    with pytest.raises(TrainingDiverged, match=r"diverged at step \d+"):
        train(tiny_model(), windows(splits), cfg, out_dir)
    assert find_checkpoint(out_dir) is None  # nothing written from a diverged model


def test_a_fresh_run_replaces_an_earlier_runs_checkpoints(splits, out_dir):
    cfg = tiny_config(max_steps=10)
    first = train(tiny_model(), windows(splits), cfg, out_dir, evaluator=evaluator(splits))
    assert read_config(first.best_path)["step"] == 10
    again = train(tiny_model(), windows(splits), tiny_config(max_steps=4), out_dir)
    assert again.step == 4
    assert read_config(find_checkpoint(out_dir))["step"] == 4
    assert find_checkpoint(out_dir, "best") is None  # no "best" left over from the other run


def test_timed_evaluations_fall_at_the_same_shares_of_a_time_budget(splits, out_dir):
    """``eval_interval_minutes``: validations every 0.6 s of a 3 s budget, whatever the step."""
    rec = Recorder()
    train(
        tiny_model(),
        windows(splits),
        tiny_config(
            max_steps=None,
            max_minutes=0.05,
            eval_interval=10**6,
            eval_interval_minutes=0.01,
            checkpoint_interval=10**6,
        ),
        out_dir,
        evaluator=evaluator(splits),
        callbacks=[rec],
    )
    periodic = [e for e in rec.events if e[0] == "eval" and not e[2]["final"]]
    logs = {e[1]: e[2]["elapsed_s"] for e in rec.events if e[0] == "log"}
    # four timed ones (0.6, 1.2, 1.8, 2.4 s) and the one after the last step
    assert 4 <= len(periodic) <= 6, [e[1] for e in periodic]
    steps = [e[1] for e in periodic]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert max(logs.values()) <= 3.5
