"""Checkpoints: ``last/`` and ``best/`` folders, each written whole or not at all.

A checkpoint folder holds

- ``model.safetensors``: the weights (``safetensors.torch.save_model``, so tied weights are
  stored once and restored by :func:`load_weights`);
- ``config.json``: ``{"model": …, "train": …, "step", "tokens", "elapsed_s", "val_loss", …}``;
- ``trainer_state.pt``: optimizer and schedule state, RNG states of every rank, data position
  and progress counters — only tensors, dicts, lists, ints, floats, strings and None, saved with
  ``torch.save`` and read back only with ``torch.load(weights_only=True)``.

A folder is written under a temporary name and swapped in with renames: the previous version is
moved to ``<name>.old`` first and deleted after, so a crash at any moment leaves either the new
folder or the old one complete (:func:`find_checkpoint` falls back to ``.old``).
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import uuid
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import nn

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_FILE = "trainer_state.pt"
LAST = "last"
BEST = "best"
FORMAT_VERSION = 1

logger = logging.getLogger("kedro_gpt.training")


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (WEIGHTS_FILE, CONFIG_FILE, STATE_FILE))


def find_checkpoint(out_dir: str | os.PathLike[str], name: str = LAST) -> Path | None:
    """The complete checkpoint ``out_dir/name`` (or its ``.old`` twin after a crash), or None."""
    for folder in (Path(out_dir) / name, Path(out_dir) / f"{name}.old"):
        if folder.is_dir() and _complete(folder):
            return folder
    return None


def remove_stale_temporaries(out_dir: str | os.PathLike[str]) -> None:
    """Delete half-written checkpoint folders a killed run left behind."""
    for tmp in Path(out_dir).glob(".*.tmp-*"):
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)


def remove_checkpoints(out_dir: str | os.PathLike[str]) -> None:
    """Delete ``last/`` and ``best/`` (and their ``.old`` twins) from ``out_dir``, with a warning."""
    for name in (LAST, BEST):
        for folder in (Path(out_dir) / name, Path(out_dir) / f"{name}.old"):
            if folder.is_dir():
                logger.warning("starting afresh: removing the earlier checkpoint %s", folder)
                shutil.rmtree(folder)


def _swap_in(tmp: Path, final: Path) -> None:
    old = final.with_name(f"{final.name}.old")
    if old.exists() and final.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(
    folder: str | os.PathLike[str],
    model: nn.Module,
    config: dict[str, Any],
    trainer_state: dict[str, Any],
) -> Path:
    """Write weights, ``config.json`` and ``trainer_state.pt`` to ``folder`` atomically."""
    final = Path(folder)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        safetensors.torch.save_model(model, str(tmp / WEIGHTS_FILE))
        (tmp / CONFIG_FILE).write_text(
            json.dumps({"format": FORMAT_VERSION, **config}, indent=2, sort_keys=True)
        )
        torch.save(trainer_state, tmp / STATE_FILE)
        for name in (WEIGHTS_FILE, CONFIG_FILE, STATE_FILE):
            with open(tmp / name, "rb") as handle:
                os.fsync(handle.fileno())
        _swap_in(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def update_config(folder: str | os.PathLike[str], extra: dict[str, Any]) -> None:
    """Add ``extra`` to a checkpoint's ``config.json`` (the file is replaced atomically)."""
    path = Path(folder) / CONFIG_FILE
    merged = {**read_config(folder), **extra}
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(merged, indent=2, sort_keys=True))
    os.replace(tmp, path)


def load_weights(model: nn.Module, folder: str | os.PathLike[str]) -> None:
    """Load ``folder/model.safetensors`` into ``model`` (strict: every tensor must match)."""
    path = Path(folder) / WEIGHTS_FILE
    missing, unexpected = safetensors.torch.load_model(model, str(path), strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{path} does not fit the model: missing {sorted(missing)}, unexpected "
            f"{sorted(unexpected)}"
        )


def read_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint folder."""
    path = Path(folder) / CONFIG_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read checkpoint config {path}: {err}") from None


def load_trainer_state(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """``trainer_state.pt`` read with ``weights_only=True`` (no arbitrary unpickling)."""
    path = Path(folder) / STATE_FILE
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, OSError
        raise ValueError(f"cannot read trainer state {path}: {err}") from None


def capture_rng_state() -> dict[str, Any]:
    """This process's RNG states (torch CPU, CUDA if initialised, python ``random``)."""
    version, internal, gauss = random.getstate()
    cuda = (
        torch.cuda.get_rng_state_all()
        if torch.cuda.is_available() and torch.cuda.is_initialized()
        else []
    )
    return {
        "torch_cpu": torch.get_rng_state(),
        "cuda": cuda,
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch_cpu"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
