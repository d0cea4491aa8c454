"""Device and precision: resolve ``auto``, and the autocast context (bf16 on CUDA only)."""

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
        """bf16 autocast on CUDA; a no-op otherwise (fp32)."""
        if self.device.type == "cuda" and self.dtype == torch.bfloat16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()


def resolve_precision(device: str, dtype: str, local_rank: int = 0) -> Precision:
    """Turn the config's ``device``/``dtype`` (possibly ``auto``) into a :class:`Precision`.

    ``auto`` picks CUDA when available and bf16 there; on CPU it is always fp32, because bf16
    matmuls are far slower than fp32 on CPUs without bf16 units. Asking for bf16 on CPU, or
    for CUDA where there is none, is a ``ValueError``.
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
        if dev.type != "cuda":
            raise ValueError(
                "train config dtype 'bfloat16' is for CUDA only (bf16 is much slower than fp32 "
                "on CPU); use 'float32' or 'auto'"
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
