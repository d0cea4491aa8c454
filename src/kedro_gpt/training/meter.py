"""Throughput and MFU against a matmul peak measured on this machine (and cached per machine).

MFU = achieved model FLOP/s ÷ (measured matmul FLOP/s × processes). The peak is the best of a few
large ``torch.mm`` at the current thread count (fp32 on CPU, bf16 or fp32 on CUDA), not a figure
from a data sheet, so the ratio says how close the loop gets to what this machine's matmuls
really do. It is cached in ``~/.cache/kedro_gpt/matmul_peak.json`` (or ``$KEDRO_GPT_CACHE_DIR``)
under a key of host name, CPU model, thread count, device and dtype. On a CPU shared with other
jobs a measurement is only final once it was taken while the machine was quiet.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import time
from pathlib import Path

import psutil
import torch

CACHE_FILE = "matmul_peak.json"
QUIET_BUSY_PERCENT = 10.0


def cache_dir() -> Path:
    """Where per-machine measurements are kept."""
    env = os.environ.get("KEDRO_GPT_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "kedro_gpt"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_key(device: torch.device, dtype: torch.dtype) -> str:
    """Host, CPU model, thread count, device name and dtype: what the peak depends on."""
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return "|".join(
        [
            socket.gethostname(),
            cpu_model(),
            f"threads={torch.get_num_threads()}",
            dev,
            str(dtype).removeprefix("torch."),
        ]
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_matmul_peak(
    device: torch.device, dtype: torch.dtype, n: int | None = None, repeats: int = 10
) -> float:
    """Best FLOP/s of ``repeats`` timed ``n×n @ n×n`` matmuls (after one warm-up)."""
    n = n or (8192 if device.type == "cuda" else 1024)
    gen = torch.Generator(device=device).manual_seed(0)  # never touch the global RNG streams
    a = torch.randn(n, n, device=device, dtype=dtype, generator=gen)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=gen)
    inner = 10 if device.type == "cuda" else 1
    torch.mm(a, b)
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b)
        _sync(device)
        best = min(best, (time.perf_counter() - start) / inner)
    return 2.0 * n**3 / best


def _others_busy_percent(device: torch.device) -> float:
    """CPU use by other processes just before measuring (0 on CUDA, where it matters little)."""
    if device.type == "cuda":
        return 0.0
    return float(psutil.cpu_percent(interval=0.2))


def matmul_peak(
    device: torch.device,
    dtype: torch.dtype,
    cache: Path | None = None,
    n: int | None = None,
) -> float:
    """The cached matmul peak for this machine, measuring (and caching) it when needed.

    An entry measured while other processes kept the CPUs busy (over ``QUIET_BUSY_PERCENT``) is
    not trusted: it is measured again on the next call, keeping the best figure seen, until a
    measurement on a quiet machine makes it final.
    """
    path = (cache or cache_dir()) / CACHE_FILE
    key = machine_key(device, dtype)
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        table = {}
    table = table if isinstance(table, dict) else {}
    entry = table.get(key)
    entry = entry if isinstance(entry, dict) else {}
    cached = entry.get("flops")
    cached = float(cached) if isinstance(cached, int | float) and cached > 0 else 0.0
    if cached and entry.get("quiet") is True:
        return cached
    busy = _others_busy_percent(device)
    peak = max(measure_matmul_peak(device, dtype, n=n), cached)
    table[key] = {"flops": peak, "quiet": busy < QUIET_BUSY_PERCENT, "busy_percent": busy}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(table, indent=2, sort_keys=True))
    os.replace(tmp, path)
    return peak


class ThroughputMeter:
    """Tokens/s and MFU over the steps since the last :meth:`read`, and over the whole run
    (:meth:`run_mean`); time spent in pauses (evaluation, checkpoints) is left out of both."""

    def __init__(self, flops_per_token: float, peak_flops: float) -> None:
        self.flops_per_token = flops_per_token
        self.peak_flops = peak_flops
        self._start = time.perf_counter()
        self._tokens = 0
        self._paused = 0.0
        self._run_tokens = 0
        self._run_seconds = 0.0

    def add(self, tokens: int) -> None:
        self._tokens += tokens

    def exclude(self, seconds: float) -> None:
        """Leave ``seconds`` (evaluation, checkpointing) out of the current interval."""
        self._paused += seconds

    def _mfu(self, tokens_per_s: float) -> float:
        if self.peak_flops <= 0:
            return 0.0
        return tokens_per_s * self.flops_per_token / self.peak_flops

    def read(self) -> tuple[float, float]:
        """``(tokens_per_s, mfu)`` of the interval, then start a new interval."""
        now = time.perf_counter()
        seconds = max(now - self._start - self._paused, 1e-9)
        tps = self._tokens / seconds
        self._run_tokens += self._tokens
        self._run_seconds += seconds
        self._start, self._tokens, self._paused = now, 0, 0.0
        return tps, self._mfu(tps)

    def run_mean(self) -> tuple[float, float]:
        """``(tokens_per_s, mfu)`` over every step so far: all tokens ÷ all training time."""
        pending = max(time.perf_counter() - self._start - self._paused, 0.0)
        seconds = self._run_seconds + pending
        tps = (self._run_tokens + self._tokens) / seconds if seconds > 0 else 0.0
        return tps, self._mfu(tps)
