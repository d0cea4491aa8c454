"""Where a Kedro project keeps its models, read from its conf/ as ``kedro run`` reads it.

The versioned model datasets of the catalog (``type: …GPTModelDataset``) and their
``filepath``, the MLflow store of ``mlflow.yml`` and the registered name of fine-tuned models
(``finetuning.registry.model_name``) become a :class:`ModelLocations`; nothing is hard-coded.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from kedro_gpt.tracking.model_source import ModelLocations, ModelSourceError

MODEL_DATASET_TYPE = "GPTModelDataset"
# settings.py's CONFIG_LOADER_ARGS (tested equal): importing settings would import every
# pipeline through the hooks, seconds that a command line should not wait.
LOADER_ARGS: dict[str, Any] = {
    "base_env": "base",
    "default_run_env": "local",
    "merge_strategy": {"parameters": "soft", "mlflow": "soft"},
    "config_patterns": {"mlflow": ["mlflow*", "mlflow*/**"]},
}


def model_locations(
    project: str | Path = ".", env: str | None = None, tracking_uri: str | None = None
) -> ModelLocations:
    """The locations of the project at ``project``; outside a project (no ``conf/``) only the
    tracking URI given or ``$MLFLOW_TRACKING_URI``."""
    root = Path(project).resolve()
    tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
    conf = root / "conf"
    if not conf.is_dir():
        return ModelLocations(tracking_uri=tracking_uri)
    try:
        catalog, mlflow_conf, params = _read_conf(conf, env)
    except Exception as err:  # a YAML error, an unknown env: name the folder
        raise ModelSourceError(f"cannot read the project configuration in {conf}: {err}") from None
    datasets = {
        name: root / str(entry["filepath"])
        for name, entry in sorted(catalog.items())
        if isinstance(entry, dict)
        and str(entry.get("type", "")).endswith(MODEL_DATASET_TYPE)
        and entry.get("versioned")
        and "{" not in name
        and "://" not in str(entry.get("filepath", "://"))
    }
    configured = (mlflow_conf.get("server") or {}).get("mlflow_tracking_uri")
    registry = (params.get("finetuning") or {}).get("registry") or {}
    return ModelLocations(
        datasets=datasets,
        tracking_uri=tracking_uri or _absolute(configured, root),
        finetuned_name=registry.get("model_name"),
    )


def _read_conf(conf: Path, env: str | None) -> tuple[dict, dict, dict]:
    from kedro.config import MissingConfigException, OmegaConfigLoader

    def section(name: str) -> dict[str, Any]:
        try:
            return dict(loader[name])
        except (KeyError, MissingConfigException):
            return {}

    with warnings.catch_warnings():  # OmegaConf's deprecation notes about Kedro's resolvers
        warnings.filterwarnings("ignore", "register_new_resolver", UserWarning)
        loader = OmegaConfigLoader(conf_source=str(conf), env=env, **LOADER_ARGS)
        return section("catalog"), section("mlflow"), section("parameters")


def _absolute(uri: str | None, root: Path) -> str | None:
    """``sqlite:///mlflow.db`` and plain paths are relative to the project, as in ``kedro run``."""
    if not uri:
        return None
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_absolute():
        return f"sqlite:///{root / uri.removeprefix('sqlite:///')}"
    if "://" not in uri and not Path(uri).is_absolute():
        return (root / uri).as_uri()
    return uri
