"""One training process: rebuild the run from a spec and call ``train``.

``python -m kedro_gpt.training.worker spec.json`` is what torchrun starts on every rank; with one
process :func:`run_spec` is called in-process instead. A spec's ``init_from`` folder gives the
starting weights unless the run resumes from its own checkpoint. Rank 0 writes ``train_result.json`` (or
``train_error.json`` when training fails) into the output folder for the launcher to read.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kedro_gpt.training.callbacks import TrainCallback
from kedro_gpt.training.checkpoint import (
    CONFIG_FILE,
    LAST,
    WEIGHTS_FILE,
    find_checkpoint,
    load_weights,
    read_config,
)
from kedro_gpt.training.data import RandomWindows, reading_order
from kedro_gpt.training.distributed import DistContext, destroy_distributed, init_distributed
from kedro_gpt.training.evaluate import ShardEvaluator
from kedro_gpt.training.loop import train
from kedro_gpt.training.result import ERROR_FILE, RESULT_FILE, TrainingDiverged, TrainResult
from kedro_gpt.training.spec import TrainSpec

__all__ = ["ERROR_FILE", "RESULT_FILE", "build_model", "load_init_weights", "main", "run_spec"]

# settings that do not change what the weights compute when loaded into another model
_WEIGHT_FREE_KEYS = {"dropout"}


def build_model(model_config: dict[str, Any]) -> nn.Module:
    """A fresh ``GPT`` from its config dict."""
    from kedro_gpt.model.config import GPTConfig
    from kedro_gpt.model.gpt import GPT

    return GPT(GPTConfig.from_dict(model_config))


def load_init_weights(model: nn.Module, folder: str | os.PathLike[str]) -> None:
    """Load the weights of a model folder or checkpoint (``model.safetensors`` + ``config.json``
    with a ``model`` config) into ``model``, a freshly built ``GPT`` of the same shape.

    Every model setting but ``dropout`` must match; an error names the folder and the keys.
    """
    from kedro_gpt.model.config import GPTConfig

    folder = Path(folder)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"init_from folder {folder} has no {name}")
    saved = read_config(folder).get("model")
    if not isinstance(saved, dict):
        raise ValueError(f"init_from folder {folder}: {CONFIG_FILE} has no 'model' config")
    try:
        theirs = GPTConfig.from_dict(saved).to_dict()
    except (TypeError, ValueError) as err:
        raise ValueError(f"init_from folder {folder}: {err}") from None
    ours = model.config.to_dict()
    diff = [k for k in sorted(ours) if k not in _WEIGHT_FREE_KEYS and theirs[k] != ours[k]]
    if diff:
        detail = ", ".join(f"{k} ({theirs[k]!r} there, {ours[k]!r} here)" for k in diff)
        raise ValueError(f"init_from folder {folder} holds another model shape: {detail}")
    load_weights(model, folder)


def run_spec(
    spec: TrainSpec,
    callbacks: Sequence[TrainCallback] = (),
    dist: DistContext | None = None,
) -> TrainResult:
    """Build model, batch source and evaluator from ``spec`` and train (this process's share)."""
    dist = dist or DistContext()
    cfg = spec.train
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank and every world size
    model = build_model(spec.model)
    resuming = spec.resume and find_checkpoint(spec.out_dir, LAST) is not None
    if spec.init_from and not resuming:
        load_init_weights(model, spec.init_from)
    block_size = int(spec.model["block_size"])
    train_shards = spec.train_data.load()
    on_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    reverse = bool(spec.model.get("reverse", False))
    batches = RandomWindows(
        reading_order(train_shards.shards, reverse),
        block_size,
        cfg.batch_size,
        seed=cfg.seed,
        rank=dist.rank,
        world_size=dist.world_size,
        grad_accum_steps=cfg.grad_accum_steps,
        pin_memory=on_cuda,
    )
    evaluator = None
    if spec.val_data is not None:
        val = spec.val_data.load()
        evaluator = ShardEvaluator(
            reading_order(val.shards, reverse),
            val.meta,
            block_size,
            cfg.batch_size,
            cfg.eval_batches,
            cfg.seed,
        )
    return train(
        model,
        batches,
        cfg,
        spec.out_dir,
        evaluator=evaluator,
        callbacks=callbacks,
        resume=spec.resume,
        model_config=spec.model,
        dist=dist,
    )


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m kedro_gpt.training.worker SPEC.json``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m kedro_gpt.training.worker SPEC.json", file=sys.stderr)  # noqa: T201
        return 2
    spec = TrainSpec.read(args[0])
    device = spec.train.device
    device_type = (
        "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"
    )
    dist = init_distributed(device_type)
    logging.basicConfig(
        level=logging.INFO if dist.is_main else logging.WARNING,
        format=f"[rank {dist.rank}] %(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    out = Path(spec.out_dir)
    try:
        result = run_spec(spec, dist=dist)
    except Exception as err:
        if dist.is_main:
            _write_json(
                out / ERROR_FILE,
                {
                    "type": type(err).__name__,
                    "message": str(err),
                    "step": getattr(err, "step", None)
                    if isinstance(err, TrainingDiverged)
                    else None,
                    "traceback": traceback.format_exc(),
                },
            )
        raise
    if dist.is_main:
        _write_json(out / RESULT_FILE, result.to_dict())
    destroy_distributed(dist)
    return 0


if __name__ == "__main__":
    sys.exit(main())
