"""Log a trained model to the active MLflow run as a pyfunc model and register it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlflow

from kedro_gpt import __version__
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.tracking.pyfunc_model import GPTTextGenerator

REQUIREMENTS = ["torch", "sentencepiece", "safetensors", "pandas", f"kedro_gpt=={__version__}"]


def register_model(
    bundle: ModelBundle, name: str, tags: dict[str, str] | None = None
) -> dict[str, Any]:
    """Log ``bundle`` as a pyfunc model in the active run and register it as ``name``.

    Returns the model URI, registered version and run id. Requires an active MLflow run
    (kedro-mlflow opens one for every ``kedro run``).
    """
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError(
            "no active MLflow run: registration needs kedro-mlflow (or mlflow.start_run())"
        )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        folder.mkdir()
        bundle.save(folder)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=GPTTextGenerator(),
            artifacts={"model": str(folder)},
            pip_requirements=REQUIREMENTS,
            registered_model_name=name,
            input_example=(["ROMEO:"], {"max_new_tokens": 20}),
        )
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    for key, value in (tags or {}).items():
        client.set_model_version_tag(name, version, key, str(value))
    return {
        "name": name,
        "version": version,
        "model_uri": f"models:/{name}/{version}",
        "run_id": run.info.run_id,
        "artifact_uri": info.model_uri,
    }
