"""Launch a training spec: in-process for one process, through torchrun (DDP) for several.

The same call serves both (the Kedro node calls :func:`launch` either way)::

    python -m torch.distributed.run --nproc_per_node N --nnodes M \\
        (--standalone | --rdzv_backend B --rdzv_endpoint HOST:PORT --rdzv_id ID) \\
        -m kedro_gpt.training.worker OUT_DIR/train_spec.json

With several processes, callbacks given here cannot follow the run live (they live in this
process); they receive the run afterwards, replayed from the result rank 0 wrote: every logged
step, every evaluation, the checkpoints, the end. On several nodes, run ``launch`` on each node
with the same ``rdzv_endpoint``; the result is read from ``out_dir`` (shared, or on rank 0's node).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from kedro_gpt.training.callbacks import CallbackList, TrainCallback
from kedro_gpt.training.config import TrainConfig
from kedro_gpt.training.result import ERROR_FILE, RESULT_FILE, TrainingDiverged, TrainResult
from kedro_gpt.training.spec import TrainSpec

SPEC_FILE = "train_spec.json"


def torchrun_command(spec_path: str | os.PathLike[str], config: TrainConfig) -> list[str]:
    """The ``torch.distributed.run`` command line that starts the workers for ``spec_path``."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(config.nproc_per_node),
        "--nnodes",
        str(config.nnodes),
    ]
    if config.nnodes == 1 and not config.rdzv_endpoint:
        cmd.append("--standalone")
    else:
        run_id = hashlib.sha256(str(Path(spec_path).resolve()).encode()).hexdigest()[:16]
        cmd += [
            "--rdzv_backend",
            config.rdzv_backend,
            "--rdzv_endpoint",
            str(config.rdzv_endpoint),
            "--rdzv_id",
            run_id,
        ]
    return [*cmd, "-m", "kedro_gpt.training.worker", str(spec_path)]


def _worker_env(config: TrainConfig) -> dict[str, str]:
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:
        threads = config.num_threads or max(1, (os.cpu_count() or 1) // config.nproc_per_node)
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def replay(result: TrainResult, callbacks: Sequence[TrainCallback], info: dict) -> None:
    """Feed a finished run's history to ``callbacks`` in step order."""
    cbs = CallbackList(callbacks)
    cbs.on_train_start(info)
    events = [(m["step"], 0, m) for m in result.history] + [(m["step"], 1, m) for m in result.evals]
    for step, kind, metrics in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 0:
            cbs.on_log(int(step), metrics)
        else:
            cbs.on_eval(int(step), metrics)
    if result.best_path:
        cbs.on_checkpoint(result.step, Path(result.best_path), True)
    if result.last_path:
        cbs.on_checkpoint(result.step, Path(result.last_path), False)
    cbs.on_train_end(result)


def launch(spec: TrainSpec, callbacks: Sequence[TrainCallback] = ()) -> TrainResult:
    """Run ``spec``: in this process when it asks for one process, else under torchrun."""
    cfg = spec.train
    if cfg.nproc_per_node * cfg.nnodes == 1:
        from kedro_gpt.training.worker import run_spec  # not at import: `-m ...worker` runs it

        return run_spec(spec, callbacks)
    out = Path(spec.out_dir)
    spec_path = spec.write(out / SPEC_FILE)
    for name in (RESULT_FILE, ERROR_FILE):
        (out / name).unlink(missing_ok=True)
    completed = subprocess.run(torchrun_command(spec_path, cfg), env=_worker_env(cfg), check=False)
    error_path = out / ERROR_FILE
    if completed.returncode != 0:
        if error_path.exists():
            error = json.loads(error_path.read_text())
            if error.get("type") == "TrainingDiverged" and error.get("step") is not None:
                raise TrainingDiverged(int(error["step"]), error["message"])
            raise RuntimeError(f"distributed training failed: {error['type']}: {error['message']}")
        raise RuntimeError(
            f"torchrun exited with status {completed.returncode} (see the worker output above)"
        )
    result_path = out / RESULT_FILE
    if not result_path.exists():
        raise RuntimeError(
            f"training finished but {result_path} is missing (on several nodes the result is "
            "written on the node that held rank 0)"
        )
    result = TrainResult.from_dict(json.loads(result_path.read_text()))
    replay(
        result,
        callbacks,
        {
            "replayed": True,
            "world_size": cfg.nproc_per_node * cfg.nnodes,
            "model_config": spec.model,
            "train_config": cfg.model_dump(mode="json"),
        },
    )
    return result
