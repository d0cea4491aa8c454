"""Where a fine-tuning or evaluation run's starting model came from, in MLflow terms.

``load_registered_model`` fetches a registered pyfunc model (``models:/kedro-gpt/3`` or
``models:/kedro-gpt@champion``) and loads the model folder logged as its ``model`` artifact;
``load_model_folder`` loads a local model folder (``base_model.path``, e.g. an imported GPT-2).
``catalog_model_lineage`` finds the run (and registered version) that produced a model, so a
fine-tuning run can be tagged with what it started from.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from kedro_gpt.model.bundle import ModelBundle


def load_registered_model(uri: str, dst: str | Path | None = None) -> ModelBundle:
    """Download the pyfunc model at ``uri`` and load its ``model`` artifact folder."""
    dst = Path(dst) if dst else Path(tempfile.mkdtemp(prefix="kedro-gpt-model-"))
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst)))
    except MlflowException as err:
        raise ValueError(f"cannot fetch model {uri!r} from MLflow: {err.message}") from None
    folder = local / "artifacts" / "model"
    if not folder.is_dir():
        raise ValueError(f"model {uri!r} has no 'model' artifact folder (not a kedro-gpt model)")
    bundle = ModelBundle.load(folder)
    bundle.info = {**bundle.info, "lineage": {"model_uri": uri, **_uri_lineage(uri)}}
    return bundle


def load_model_folder(path: str | Path) -> ModelBundle:
    """The model folder at ``path`` (e.g. written by ``kedro-gpt import-hf``), its lineage the
    folder and whatever it was imported from."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"base model folder {folder} does not exist")
    bundle = ModelBundle.load(folder)
    lineage = {"model_path": str(folder.resolve())}
    if bundle.info.get("imported_from"):
        lineage["imported_from"] = str(bundle.info["imported_from"])
    bundle.info = {**bundle.info, "lineage": lineage}
    return bundle


def _uri_lineage(uri: str) -> dict[str, str]:
    """Registered name, version and source run of a ``models:/`` URI (empty when unknown)."""
    if not uri.startswith("models:/"):
        return {}
    client = MlflowClient()
    ref = uri.removeprefix("models:/")
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            version = client.get_model_version_by_alias(name, alias)
        else:
            name, number = ref.rsplit("/", 1)
            version = client.get_model_version(name, number)
    except (MlflowException, ValueError):
        return {}
    return {
        "registered_model": version.name,
        "registered_version": str(version.version),
        "run_id": version.run_id or "",
    }


def catalog_model_lineage(dataset: str = "gpt_model") -> dict[str, str]:
    """Lineage of the catalog model the active run read (the lineage hook tags its version):
    the run that wrote that version and the model version registered from that run."""
    active = mlflow.active_run()
    if active is None:
        return {}
    client = MlflowClient()
    version = client.get_run(active.info.run_id).data.tags.get(f"lineage.input.{dataset}")
    if not version:
        return {}
    out = {"catalog_dataset": dataset, "catalog_version": version}
    runs = client.search_runs(
        [active.info.experiment_id],
        filter_string=f"tags.`lineage.output.{dataset}` = '{version}'",
        max_results=1,
    )
    if runs:
        out["run_id"] = runs[0].info.run_id
        try:
            versions = client.search_model_versions(f"run_id = '{out['run_id']}'")
        except MlflowException:
            versions = []
        if versions:
            out["registered_model"] = versions[0].name
            out["registered_version"] = str(versions[0].version)
    return out


def lineage_tags(lineage: dict[str, Any], prefix: str = "base_model") -> dict[str, str]:
    """``{prefix}.<key>`` tags for a lineage dict."""
    return {f"{prefix}.{k}": str(v) for k, v in lineage.items() if v not in (None, "")}
