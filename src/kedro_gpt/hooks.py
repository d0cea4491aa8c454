"""Project hooks: record the lineage of every run in MLflow and log marked datasets as artifacts;
skip loading the catalog model when fine-tuning starts from a model named elsewhere."""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, MemoryDataset

from kedro_gpt.tracking.lineage import (
    enable_system_metrics,
    git_commit,
    log_artifact,
    tag_dataset_version,
    tag_run,
)

logger = logging.getLogger(__name__)


class LineageHooks:
    """Tag the active MLflow run with the git commit and every dataset version read or written."""

    def __init__(self) -> None:
        self._catalog: Any = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        enable_system_metrics()  # before kedro-mlflow starts the run

    @hook_impl
    def after_catalog_created(self, catalog: Any) -> None:
        self._catalog = catalog

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        tag_run(
            {
                "git_commit": git_commit(run_params.get("project_path") or "."),
                "kedro.pipeline": run_params.get("pipeline_names")
                or run_params.get("pipeline_name")
                or "__default__",
                "kedro.env": run_params.get("env") or "local",
            }
        )

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
            log_artifact(str(path), artifact_path)


class ExternalBaseModelHooks:
    """Fine-tuning from ``finetuning.base_model.path`` or ``.mlflow_uri`` does not read the
    ``gpt_model`` input: it is not loaded (the node gets None), so a project that never
    pretrained, such as one starting from GPT-2's imported weights, can fine-tune.

    Only when the fine-tuning node is the run's one reader of ``gpt_model``; the run's lineage
    then names the model it did start from (``base_model.*`` tags) and no ``gpt_model`` version.
    """

    dataset = "gpt_model"
    node_func = ("kedro_gpt.pipelines.finetuning.nodes", "finetune")

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if self.dataset not in pipeline.inputs():
            return
        readers = [n for n in pipeline.nodes if self.dataset in n.inputs]
        funcs = {
            (getattr(n.func, "__module__", ""), getattr(n.func, "__name__", "")) for n in readers
        }
        if funcs != {self.node_func}:
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
