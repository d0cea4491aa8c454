"""The measured matmul peak is cached per machine and reused; MFU arithmetic."""

from __future__ import annotations

import json
import time

import pytest
import torch

from kedro_gpt.training.meter import CACHE_FILE, ThroughputMeter, machine_key, matmul_peak


def test_peak_is_measured_once_then_read_from_the_cache(tmp_path):
    cpu = torch.device("cpu")
    peak = matmul_peak(cpu, torch.float32, cache=tmp_path, n=128)
    table = json.loads((tmp_path / CACHE_FILE).read_text())
    key = machine_key(cpu, torch.float32)
    assert list(table) == [key] and table[key]["flops"] == peak and peak > 1e6
    assert f"threads={torch.get_num_threads()}" in key
    # a quiet entry with a value no measurement gives: reading it proves the cache is used
    table[key] = {"flops": 123.0, "quiet": True}
    (tmp_path / CACHE_FILE).write_text(json.dumps(table))
    assert matmul_peak(cpu, torch.float32, cache=tmp_path, n=128) == 123.0


def test_a_peak_measured_on_a_busy_machine_is_measured_again(tmp_path):
    cpu = torch.device("cpu")
    key = machine_key(cpu, torch.float32)
    (tmp_path / CACHE_FILE).write_text(json.dumps({key: {"flops": 1e15, "quiet": False}}))
    assert matmul_peak(cpu, torch.float32, cache=tmp_path, n=64) == 1e15  # the best one kept
    (tmp_path / CACHE_FILE).write_text(json.dumps({key: {"flops": 1.0, "quiet": False}}))
    assert matmul_peak(cpu, torch.float32, cache=tmp_path, n=64) > 1e6  # measured anew


def test_measuring_leaves_the_global_rng_alone(tmp_path):
    """Training seeds before measuring on a cold cache; the dropout stream must not shift."""
    before = torch.get_rng_state()
    matmul_peak(torch.device("cpu"), torch.float32, cache=tmp_path, n=64)
    assert torch.equal(torch.get_rng_state(), before)


def test_another_thread_count_is_another_entry(tmp_path):
    cpu = torch.device("cpu")
    threads = torch.get_num_threads()
    try:
        matmul_peak(cpu, torch.float32, cache=tmp_path, n=64)
        torch.set_num_threads(1 if threads > 1 else 2)
        matmul_peak(cpu, torch.float32, cache=tmp_path, n=64)
    finally:
        torch.set_num_threads(threads)
    assert len(json.loads((tmp_path / CACHE_FILE).read_text())) == 2


def test_meter_reports_tokens_per_second_and_mfu():
    meter = ThroughputMeter(flops_per_token=1e6, peak_flops=1e9)
    meter.add(1000)
    time.sleep(0.05)
    meter.exclude(0.025)
    tps, mfu = meter.read()
    assert tps == pytest.approx(1000 / 0.025, rel=0.5)
    assert mfu == pytest.approx(tps * 1e6 / 1e9)
    assert meter.read()[0] == 0.0


def test_run_mean_is_every_token_over_all_training_time():
    """A slow last window (the run's final figure) does not stand for the whole run."""
    meter = ThroughputMeter(flops_per_token=1e6, peak_flops=1e9)
    meter.add(1000)
    time.sleep(0.05)
    fast, _ = meter.read()
    meter.add(10)
    time.sleep(0.05)
    slow, _ = meter.read()
    tps, mfu = meter.run_mean()
    assert tps == pytest.approx(1010 / 0.1, rel=0.3)
    assert slow < tps < fast and mfu == pytest.approx(tps * 1e6 / 1e9)
