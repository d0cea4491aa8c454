"""Device and precision: resolve ``auto``, and the bf16 autocast context (CUDA or CPU)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Precision:
    """Where training runs and in which precision its matmuls are done."""

    device: torch.device
    dtype: torch.dtype  # torch.float32 or torch.bfloat16 (autocast)

    @property
    def name(self) -> str:
        return "bfloat16" if self.dtype == torch.bfloat16 else "float32"

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on the device when the precision is bf16; a no-op for fp32."""
        if self.dtype == torch.bfloat16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


def cpu_has_bf16_matmul() -> bool:
    """True when this CPU multiplies bf16 matrices in hardware (Intel AMX tiles or AVX512-BF16).

    There bf16 matmuls run several times faster than fp32 (964 against ~250 GFLOP/s on the 2
    cores of the development machine, an AMX Xeon); elsewhere they are emulated and far slower.
    """
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # a torch without these probes: assume not
        return False


def resolve_precision(device: str, dtype: str, local_rank: int = 0) -> Precision:
    """Turn the config's ``device``/``dtype`` (possibly ``auto``) into a :class:`Precision`.

    ``auto`` picks CUDA when available and bf16 autocast there; on a CPU it is fp32. ``bfloat16``
    on a CPU is bf16 autocast, allowed where the CPU has bf16 matrix units (AMX or AVX512-BF16,
    :func:`cpu_has_bf16_matmul`): there it trains the 6-layer 384-wide shape 1.6-1.8x faster, but
    small models no faster (the CPU ablation in docs/benchmarks.md), hence not the default.
    Asking for bf16 on a CPU without those units (where it is emulated, many times slower than
    fp32), or for CUDA where there is none, is a ``ValueError``.
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("train config device 'cuda' requested but no CUDA device is available")
        dev = torch.device("cuda", local_rank % torch.cuda.device_count())
    elif device == "cpu":
        dev = torch.device("cpu")
    else:
        raise ValueError(f"train config device must be auto, cpu or cuda, got {device!r}")
    if dtype == "auto":
        use_bf16 = dev.type == "cuda" and torch.cuda.is_bf16_supported()
        dt = torch.bfloat16 if use_bf16 else torch.float32
    elif dtype == "bfloat16":
        if dev.type == "cpu" and not cpu_has_bf16_matmul():
            raise ValueError(
                "train config dtype 'bfloat16' needs a GPU or a CPU with bf16 matrix units (AMX "
                "or AVX512-BF16); this CPU has neither and would emulate it, many times slower "
                "than fp32: use 'float32' or 'auto'"
            )
        dt = torch.bfloat16
    elif dtype == "float32":
        dt = torch.float32
    else:
        raise ValueError(f"train config dtype must be auto, float32 or bfloat16, got {dtype!r}")
    return Precision(device=dev, dtype=dt)


def configure_backends(precision: Precision) -> None:
    """Allow TF32 matmuls on CUDA for the fp32 parts (the standard speed/precision trade)."""
    if precision.device.type == "cuda":
        torch.set_float32_matmul_precision("high")
        torch.cuda.set_device(precision.device)
