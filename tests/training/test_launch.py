"""Real processes: SIGKILL then resume is bitwise exact; 2 DDP ranks match 1 process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from kedro_gpt.tokenizer.shards import TokenShards
from kedro_gpt.training import TrainCallback, TrainSpec, launch
from kedro_gpt.training.checkpoint import (
    find_checkpoint,
    load_trainer_state,
    load_weights,
    read_config,
)
from kedro_gpt.training.launch import torchrun_command
from kedro_gpt.training.result import RESULT_FILE
from tests.conftest import PROJECT_ROOT
from tests.training.conftest import TINY, tiny_config, tiny_model


def make_spec(splits, out_dir, model=None, **train) -> TrainSpec:
    return TrainSpec.build(
        model={**TINY, **(model or {})},
        train=tiny_config(**train),
        train_data=splits["train"],
        val_data=splits["val"],
        out_dir=out_dir,
    )


def worker(spec_path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # with the test session's peak cache
    env["PYTHONPATH"] = str(PROJECT_ROOT / "src")
    return subprocess.Popen(
        [sys.executable, "-m", "kedro_gpt.training.worker", str(spec_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_torchrun_command_and_spec_round_trip(splits, tmp_path):
    spec = make_spec(splits, tmp_path / "run", nproc_per_node=2)
    again = TrainSpec.read(spec.write(tmp_path / "spec.json"))
    assert again == spec
    assert again.train_data.paths == [str(s.filename) for s in splits["train"].shards]
    cmd = torchrun_command(tmp_path / "spec.json", spec.train)
    assert cmd[1:7] == ["-m", "torch.distributed.run", "--nproc_per_node", "2", "--nnodes", "1"]
    assert "--standalone" in cmd and cmd[-3:] == [
        "-m",
        "kedro_gpt.training.worker",
        str(tmp_path / "spec.json"),
    ]
    multi = tiny_config(nnodes=2, rdzv_endpoint="head:29400")
    cmd = torchrun_command("s.json", multi)
    assert cmd[cmd.index("--rdzv_endpoint") + 1] == "head:29400" and "--standalone" not in cmd


def test_in_memory_shards_are_spilled_to_files(tmp_path):
    data = TokenShards(shards=[np.arange(100, dtype=np.uint16) % 64], meta={"dtype": "uint16"})
    spec = TrainSpec.build(TINY, tiny_config(), data, tmp_path / "run")
    loaded = spec.train_data.load()
    assert np.array_equal(np.asarray(loaded.shards[0]), np.arange(100) % 64)


@pytest.mark.slow
def test_sigkill_then_resume_ends_bitwise_equal(splits, tmp_path):
    """A worker killed after a checkpoint, resumed, ends with the uninterrupted run's weights."""
    settings = dict(
        model={"dropout": 0.1},  # dropout: the RNG streams must resume exactly too
        max_steps=120,
        checkpoint_interval=10,
        eval_interval=50,
        log_interval=20,
    )
    killed = make_spec(splits, tmp_path / "killed", **settings)
    proc = worker(killed.write(tmp_path / "k.json"))
    deadline = time.monotonic() + 120
    while find_checkpoint(killed.out_dir) is None:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    at = read_config(find_checkpoint(killed.out_dir))["step"]
    assert 0 < at < 120 and not (tmp_path / "killed" / RESULT_FILE).exists()

    resumed = killed.model_copy(update={"resume": True})
    proc = worker(resumed.write(tmp_path / "r.json"))
    # meanwhile the uninterrupted run, through the same worker code, in this process
    whole = launch(make_spec(splits, tmp_path / "whole", **settings))
    assert proc.wait(timeout=180) == 0, proc.stderr.read()
    result = json.loads((tmp_path / "killed" / RESULT_FILE).read_text())
    assert result["step"] == 120 and result["history"][0]["step"] > at
    a, b = tiny_model(dropout=0.1), tiny_model(dropout=0.1)
    load_weights(a, whole.last_path)
    load_weights(b, tmp_path / "killed" / "last")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert result["final_eval"] == whole.final_eval


class Recorder(TrainCallback):
    def __init__(self) -> None:
        self.logs: list[int] = []
        self.ended = False

    def on_log(self, step, metrics):
        self.logs.append(step)

    def on_train_end(self, result):
        self.ended = True


@pytest.mark.slow
def test_two_ddp_processes_match_one_process_with_accumulation(splits, tmp_path, monkeypatch):
    """2 ranks × 1 micro-batch and 1 process × 2 micro-batches see the same data."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    common = dict(max_steps=10, log_interval=1, eval_interval=5, checkpoint_interval=5)
    rec = Recorder()
    ddp = launch(
        make_spec(splits, tmp_path / "ddp", nproc_per_node=2, grad_accum_steps=1, **common),
        callbacks=[rec],
    )
    single = launch(make_spec(splits, tmp_path / "one", grad_accum_steps=2, **common))
    assert ddp.step == single.step == 10 and ddp.tokens == single.tokens == 10 * 2 * 4 * 16
    ddp_losses = [h["loss"] for h in ddp.history]
    one_losses = [h["loss"] for h in single.history]
    assert len(ddp_losses) == 10 and ddp_losses[0] > ddp_losses[-1]
    assert np.allclose(ddp_losses, one_losses, atol=1e-4, rtol=0)
    assert np.allclose(
        [e["loss"] for e in ddp.evals], [e["loss"] for e in single.evals], atol=1e-4, rtol=0
    )
    assert ddp.final_eval["tokens"] == single.final_eval["tokens"]
    assert rec.logs == list(range(1, 11)) and rec.ended  # replayed from rank 0's result
    state = load_trainer_state(tmp_path / "ddp" / "last")
    assert len(state["rng"]["ranks"]) == 2  # each rank's dropout RNG, for an exact resume


def test_init_from_starts_from_the_given_weights(splits, tmp_path):
    """Continued pretraining: step 0 scores the saved model, not a fresh init."""
    base = launch(make_spec(splits, tmp_path / "base", max_steps=30, final_eval=False))
    base_loss = base.evals[-1]["loss"]  # its periodic validation at step 30
    settings = dict(max_steps=1, eval_at_start=True, final_eval=False)
    fresh = launch(make_spec(splits, tmp_path / "fresh", **settings))
    spec = make_spec(splits, tmp_path / "cont", **settings)
    cont = launch(spec.model_copy(update={"init_from": base.last_path}))
    assert cont.evals[0]["step"] == 0 and cont.evals[0]["loss"] == base_loss
    assert fresh.evals[0]["loss"] > base_loss + 0.3
    # a resume wins over init_from (which is then not even read)
    again = spec.model_copy(update={"init_from": str(tmp_path / "gone"), "resume": True})
    assert launch(again.model_copy(update={"train": tiny_config(max_steps=2)})).step == 2


def test_init_from_a_model_of_another_shape_names_the_folder_and_key(splits, tmp_path):
    base = launch(make_spec(splits, tmp_path / "base", max_steps=1, final_eval=False))
    wider = make_spec(splits, tmp_path / "wide", model={"n_embd": 64}, max_steps=1)
    with pytest.raises(ValueError, match=r"init_from folder .*base.last.* n_embd \(32 there, 64"):
        launch(wider.model_copy(update={"init_from": base.last_path}))
    with pytest.raises(FileNotFoundError, match="init_from folder .*gone has no model.safetensors"):
        launch(wider.model_copy(update={"init_from": str(tmp_path / "gone")}))
