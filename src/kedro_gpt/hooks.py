"""Project hooks: check every stage's parameters before the first node; read back what a run
wrote at that run's own version; record the lineage of every run in MLflow and log marked datasets
as artifacts; skip loading the catalog model when fine-tuning starts from a model named elsewhere."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, MemoryDataset
from kedro.io.core import Version

from kedro_gpt.pipelines.finetuning.pipeline import BASE_MODEL_READER
from kedro_gpt.pipelines.parameters import check_parameters, parameter_keys
from kedro_gpt.tracking.lineage import (
    enable_system_metrics,
    git_commit,
    log_artifact,
    project_tracking_uri,
    tag_dataset_version,
    tag_run,
)
from kedro_gpt.tracking.run_info import describe_active_run

logger = logging.getLogger(__name__)


class ParameterCheckHooks:
    """Validate the parameters of every stage in the run before its first node starts."""

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        keys = parameter_keys(pipeline.inputs())
        check_parameters(keys, lambda key: catalog.load(f"params:{key}"))


class RunIsolationHooks:
    """Within one run, every dataset the run writes is read back at the run's own save version.

    Kedro loads the newest version of a versioned input, which may be another run's: two
    ``kedro run`` started side by side would read each other's documents. A version pinned on the
    command line (``--load-versions``) is kept. With ``--only-missing-outputs`` an output that
    already exists is left to load its newest version: Kedro then sees it and skips the node that
    makes it (a version pinned to this run would not exist yet, and every node would run again).
    """

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        pinned = set(run_params.get("load_versions") or {})
        resuming = bool(run_params.get("only_missing_outputs"))
        for name in sorted(pipeline.all_outputs() - pinned):
            if resuming and _exists(catalog, name):
                continue
            pin_to_own_version(catalog, name)


def _exists(catalog: Any, name: str) -> bool:
    try:
        return bool(catalog.exists(name))
    except Exception:  # noqa: BLE001 - e.g. a metrics dataset outside an MLflow run
        return False


def pin_to_own_version(catalog: Any, name: str) -> None:
    """Make the versioned dataset ``name`` load the version this run saves."""
    try:
        dataset = catalog.get(name)
    except Exception:  # noqa: BLE001 - an output the catalog does not declare is a MemoryDataset
        return
    if not isinstance(dataset, AbstractVersionedDataset):
        return
    version = getattr(dataset, "_version", None)
    if version is None or version.load is not None:
        return
    save = dataset.resolve_save_version()
    dataset._version = Version(save, save)


class LineageHooks:
    """Tag the active MLflow run with the git commit and every dataset version read or written;
    give it a telling name and a description of its metric groups."""

    def __init__(self) -> None:
        self._catalog: Any = None

    @hook_impl(tryfirst=True)  # before kedro-mlflow reads mlflow.yml and opens the store
    def after_context_created(self, context: Any) -> None:
        try:
            conf = context.config_loader["mlflow"]
        except Exception:  # noqa: BLE001 - no mlflow.yml: kedro-mlflow's defaults apply
            conf = None
        server = (conf or {}).get("server") or {}
        uri = project_tracking_uri(server.get("mlflow_tracking_uri"), context.project_path)
        if uri != server.get("mlflow_tracking_uri"):  # same store from notebooks/ as from the root
            context.config_loader["mlflow"] = {
                **conf,
                "server": {**server, "mlflow_tracking_uri": uri},
            }
        enable_system_metrics()  # before kedro-mlflow starts the run

    @hook_impl
    def after_catalog_created(self, catalog: Any) -> None:
        self._catalog = catalog

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        tag_run(
            {
                "git_commit": git_commit(run_params.get("project_path") or "."),
                "kedro.pipeline": run_params.get("pipeline_names")
                or run_params.get("pipeline_name")
                or "__default__",
                "kedro.env": run_params.get("env") or "local",
            }
        )

        used = set(parameter_keys(pipeline.inputs()))

        def params(key: str) -> Any:  # the parameters of stage ``key`` this run's nodes read
            found = next((k for k in sorted(used) if k == key or k.endswith(f".{key}")), None)
            if found is None:
                return None
            try:
                return catalog.get(f"params:{found}").load()  # quietly: no "Loading data" line
            except Exception:  # noqa: BLE001 - a key this project does not define
                return None

        describe_active_run(run_params, params)

    def _dataset(self, dataset_name: str) -> Any:
        if self._catalog is None:
            return None
        try:
            return self._catalog.get(dataset_name)
        except Exception:  # noqa: BLE001 - a dataset the catalog cannot resolve has no version
            return None

    def _version(self, dataset_name: str, *, load: bool) -> str | None:
        dataset = self._dataset(dataset_name)
        if not isinstance(dataset, AbstractVersionedDataset):
            return None
        return dataset.resolve_load_version() if load else dataset.resolve_save_version()

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Any) -> None:
        tag_dataset_version("input", dataset_name, self._version(dataset_name, load=True))

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        version = self._version(dataset_name, load=False)
        tag_dataset_version("output", dataset_name, version)
        dataset = self._dataset(dataset_name)
        artifact_path = (getattr(dataset, "metadata", None) or {}).get("mlflow_artifact_path")
        if artifact_path:
            path = dataset._get_versioned_path(version) if version else dataset._filepath
            _log_dataset_artifact(dataset, str(path), artifact_path)


def _log_dataset_artifact(dataset: Any, path: str, artifact_path: str) -> None:
    """Log a saved dataset's file to MLflow; one on a remote filesystem (``s3://`` …) is fetched
    into a temporary folder first, as MLflow logs local files."""
    if getattr(dataset, "_protocol", "file") in ("file", "local"):
        log_artifact(path, artifact_path)
        return
    with tempfile.TemporaryDirectory(prefix="kedro-gpt-artifact-") as folder:
        local = Path(folder) / PurePosixPath(path).name
        dataset._fs.get(path, str(local), recursive=True)
        log_artifact(local, artifact_path)


class ExternalBaseModelHooks:
    """Fine-tuning from ``finetuning.base_model.path`` or ``.mlflow_uri`` does not read the
    ``gpt_model`` input: it is not loaded (the node gets None), so a project that never
    pretrained, such as one starting from GPT-2's imported weights, can fine-tune.

    Only when every reader of ``gpt_model`` in the run carries the ``BASE_MODEL_READER`` tag (the
    fine-tuning node); the run's lineage then names the model it did start from (``base_model.*``
    tags) and no ``gpt_model`` version.
    """

    dataset = "gpt_model"

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if self.dataset not in pipeline.inputs():
            return
        readers = [n for n in pipeline.nodes if self.dataset in n.inputs]
        if not readers or any(BASE_MODEL_READER not in n.tags for n in readers):
            return
        try:
            params = catalog.load("params:finetuning") or {}
        except Exception:  # noqa: BLE001 - no fine-tuning parameters: nothing to decide
            return
        base = params.get("base_model") if isinstance(params, dict) else None
        if isinstance(base, dict) and (base.get("path") or base.get("mlflow_uri")):
            logger.info(
                "finetuning.base_model names the starting model: %s is not loaded", self.dataset
            )
            catalog[self.dataset] = MemoryDataset(data=None)
