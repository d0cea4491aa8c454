"""What an MLflow run says about itself: a telling name, a description of its metric groups,
readable Kedro tags, and an experiment the MLflow UI opens on model training (not GenAI)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from kedro_gpt.model.presets import PRESETS

_LAYER = re.compile(r"\d\d_")  # Kedro's data layer folders: 01_raw, 02_intermediate, ...
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"  # read by the MLflow 3 UI
EXPERIMENT_KIND = "custom_model_development"  # its "machine learning" kind (vs genai_development)
DESCRIPTION_TAG = "mlflow.note.content"  # the run's description in the UI
SEPARATOR = " · "

logger = logging.getLogger(__name__)

DESCRIPTION = """\
`{name}`: `kedro run --pipelines={pipelines}` (env `{env}`).

Metric groups (one chart section each):
- `train/*`: the training loop every `log_interval` steps; `train/loss` is the mean loss since
  the previous log, `train/tokens_per_s` and `train/mfu` the throughput of that window.
- `val_sampled/*`: validation during training on `eval_batches` randomly sampled batches of the
  validation split, with the weights of that step; `val_sampled/loss` picks the `best` checkpoint.
- `val_full/*`: the training loop's own pass over every validation token (`final_eval: true`).
- `eval/val_full/*`: the evaluation stage: every validation token, once, scored with the saved
  (best) model. This is the figure to compare runs by.
- `summary/*`: one value per run: steps, tokens, seconds, the mean throughput over the whole run
  (`tokens_per_s_mean`, `mfu_mean`) and the best sampled validation loss.
- `cleaning/*`, `tokenization/*`, `finetune/*`, `comparison/*`: the stages' reports.
- `system/*`: CPU, memory, disk, network (and GPU) samples.
"""


def _corpus(sources: Sequence[Any]) -> str | None:
    """The first ingestion source's name (its folder, or its file stem), ``+N`` for the others."""
    names = []
    for source in sources:
        if not isinstance(source, dict):
            continue
        where = str(source.get("path") or source.get("url") or "")
        path = PurePosixPath(where.split("://", 1)[-1].rstrip("/"))
        if path.name:
            # a file is named by its folder (tinyshakespeare/input.txt), unless that is a
            # data layer's own (data/english/01_raw/wiki.txt.gz): then by its name
            folder = path.parent.name
            in_own_folder = path.suffix and folder and not _LAYER.match(folder)
            names.append(folder if in_own_folder else path.name.split(".")[0])
    if not names:
        return None
    return names[0] + (f"+{len(names) - 1}" if len(names) > 1 else "")


def _model(params: dict[str, Any]) -> str | None:
    """The preset's name while its depth and width stand, else the shape (``layer8-embd512``):
    a run of ``cpu-small`` with ``n_layer: 8, n_embd: 512`` is no cpu-small."""
    model = params.get("model") if isinstance(params.get("model"), dict) else {}
    preset = PRESETS.get(str(model.get("preset")), {})
    shape = {k: model.get(k) or preset.get(k) for k in ("n_layer", "n_embd")}
    if preset and all(shape[k] == preset[k] for k in shape):
        return str(model["preset"])
    parts = [f"{k[2:]}{v}" for k, v in shape.items() if v]
    return "-".join(parts) or (str(model["preset"]) if model.get("preset") else None)


def run_name(pipelines: Sequence[str], env: str | None, params: Callable[[str], Any]) -> str:
    """``pretrain · cpu-small · tinyshakespeare+2``: pipeline, model (preset or shape),
    fine-tuning task and corpus, as far as the run's parameters say them; the env when not local.

    ``params(key)`` returns the top-level parameters entry ``key`` (``None`` when absent).
    """
    parts = ["+".join(pipelines) or "__default__"]
    pretraining = params("pretraining")
    finetuning = params("finetuning")
    if isinstance(finetuning, dict) and finetuning.get("task"):
        parts.append(f"{finetuning['task']}-{finetuning.get('mode', 'full')}")
    elif isinstance(pretraining, dict):
        parts.append(_model(pretraining) or "")
    ingestion = params("ingestion")
    if isinstance(ingestion, dict):
        parts.append(_corpus(ingestion.get("sources") or []) or "")
    if env and env not in ("local", "base"):
        parts.append(f"env={env}")
    return SEPARATOR.join(p for p in parts if p)


def runner_name(runner: Any) -> str:
    """``SequentialRunner`` from Kedro's ``str(runner)`` (an object repr) or a class name."""
    text = str(runner)
    match = re.search(r"([A-Za-z_][\w]*) object at 0x", text)
    if match:
        return match.group(1)
    if text in ("", "None"):
        return "SequentialRunner"  # Kedro's default
    return text.rsplit(".", 1)[-1]


def describe_active_run(run_params: dict[str, Any], params: Callable[[str], Any]) -> None:
    """Name the active run (unless the user named it), describe its metric groups, make the
    Kedro tags readable and mark the experiment as model development. No run: nothing."""
    active = mlflow.active_run()
    if active is None:
        return
    client = MlflowClient()
    run_id = active.info.run_id
    pipelines = list(run_params.get("pipeline_names") or ["__default__"])
    runtime = run_params.get("runtime_params") or {}
    current = active.info.run_name or ""
    name = str(runtime.get("run_name") or "")
    if not name and current in ("", "+".join(pipelines)):  # kedro-mlflow's default name
        name = run_name(pipelines, run_params.get("env"), params)
    if name:
        client.set_tag(run_id, "mlflow.runName", name)
        logger.info("MLflow run %r (%s)", name, run_id)
    tags = client.get_run(run_id).data.tags
    if not tags.get(DESCRIPTION_TAG):
        text = DESCRIPTION.format(
            name=name or current, pipelines=",".join(pipelines), env=run_params.get("env")
        )
        client.set_tag(run_id, DESCRIPTION_TAG, text)
    client.set_tag(run_id, "runner", runner_name(run_params.get("runner")))
    if run_params.get("run_id"):
        client.set_tag(run_id, "kedro.session_id", str(run_params["run_id"]))
        if "run_id" in tags:
            client.delete_tag(run_id, "run_id")  # kedro-mlflow's copy of Kedro's session id
    mark_experiment_kind(client, active.info.experiment_id)


def mark_experiment_kind(client: MlflowClient, experiment_id: str) -> None:
    """Make the MLflow UI open this experiment as model training (not its GenAI view)."""
    experiment = client.get_experiment(experiment_id)
    if experiment.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
