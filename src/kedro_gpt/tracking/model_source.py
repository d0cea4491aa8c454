"""Which model a reference names, loaded as a :class:`ModelBundle`: the one resolver of model
references, for the command line, the server and the pipelines.

A reference is one of

- ``models:/NAME/VERSION``, ``models:/NAME@ALIAS``, ``runs:/RUN_ID/model``: a model logged to
  MLflow (downloaded to a temporary folder that is removed once the model is in memory);
- ``gpt_model``, ``finetuned_model`` (any versioned model dataset of the catalog): its latest
  version; ``gpt_model:VERSION`` one version; a bare ``VERSION`` is looked up in each dataset;
- a model folder (``model.safetensors``, ``config.json`` and a tokenizer);
- ``None``: the latest ``gpt_model``.

Where the catalog keeps its versions and which MLflow store to ask come in a
:class:`ModelLocations` (the command line reads them from the project's conf/, see
:mod:`kedro_gpt.serving.project`). :func:`find_chat_model` names the newest model fine-tuned for
chat. ``catalog_model_lineage`` and ``lineage_tags`` record where a fine-tuning run's starting
model came from.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kedro_gpt.model.bundle import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    ModelBundle,
    is_model_folder,
    read_info,
)
from kedro_gpt.tokenizer.files import HF_TOKENIZER_FILE, SENTENCEPIECE_FILE

DEFAULT_DATASET = "gpt_model"
MLFLOW_SCHEMES = ("models:/", "runs:/")
CHAT_TASK = "chat"


class ModelSourceError(ValueError):
    """The reference names nothing that can be loaded; the message says what to use instead."""


@dataclass(frozen=True)
class ModelLocations:
    """Where models live: each versioned model dataset's folder (its catalog ``filepath``), the
    MLflow store (``None``: MLflow's own default) and the registered name of fine-tuned models."""

    datasets: dict[str, Path] = field(default_factory=dict)
    tracking_uri: str | None = None
    finetuned_name: str | None = None


def load_model(
    reference: str | None, locations: ModelLocations | None = None, device: str = "cpu"
) -> ModelBundle:
    """The model ``reference`` names (see the module docstring); ``info["loaded_from"]`` says
    what was loaded (reference, name, version, path)."""
    locations = locations or ModelLocations()
    if reference is not None and reference.startswith(MLFLOW_SCHEMES):
        bundle = load_registered_model(reference, tracking_uri=locations.tracking_uri)
        if device != "cpu":
            bundle.model.to(device)
        return bundle
    folder, name, version = resolve_model_folder(reference, locations)
    bundle = ModelBundle.load(folder, device=device)
    bundle.info = {
        **bundle.info,
        "loaded_from": {
            "reference": reference or name,
            "name": name,
            "version": version,
            "path": str(folder),
        },
    }
    return bundle


def resolve_model_folder(
    reference: str | None, locations: ModelLocations
) -> tuple[Path, str, str | None]:
    """``(folder, name, version)`` of a local reference: a catalog dataset (latest), a
    ``dataset:VERSION``, a bare version, a folder, or ``None`` (the latest ``gpt_model``)."""
    datasets = locations.datasets
    if reference is None:
        return _latest(DEFAULT_DATASET, locations)
    path = Path(reference)
    if path.is_dir():
        for folder in (path, *(path / Path(d).name for d in datasets.values())):
            if is_model_folder(folder):
                return folder, str(path), None
        raise ModelSourceError(
            f"{path} is not a model folder (needs {WEIGHTS_FILE}, {CONFIG_FILE} and "
            f"{SENTENCEPIECE_FILE} or {HF_TOKENIZER_FILE})"
        )
    if reference in datasets:
        return _latest(reference, locations)
    name, sep, version = reference.partition(":")
    candidates = [name] if sep and name in datasets else list(datasets)
    version = version if sep and name in datasets else reference
    for dataset in candidates:
        folder = datasets[dataset] / version / datasets[dataset].name
        if is_model_folder(folder):
            return folder, dataset, version
    known = ", ".join(datasets) or "none: not inside a Kedro project?"
    raise ModelSourceError(
        f"model {reference!r} not found: not an MLflow URI (models:/NAME/VERSION, "
        f"models:/NAME@ALIAS, runs:/…), a model folder, or a version of a catalog model "
        f"dataset ({known})"
    )


def _latest(dataset: str, locations: ModelLocations) -> tuple[Path, str, str]:
    versions = catalog_versions(dataset, locations)
    if not versions:
        where = locations.datasets.get(dataset)
        raise ModelSourceError(
            f"no trained model under {where}: run `kedro run --pipelines=pretrain`, or pass "
            "--model (models:/NAME@alias, models:/NAME/VERSION, a catalog version or a folder)"
            if where
            else f"no catalog dataset {dataset!r} (run inside the Kedro project, or pass --model)"
        )
    return versions[-1], dataset, versions[-1].parent.name


def catalog_versions(dataset: str, locations: ModelLocations) -> list[Path]:
    """The model folders of a versioned catalog dataset, oldest first."""
    base = locations.datasets.get(dataset)
    if base is None or not base.is_dir():
        return []
    return sorted(
        (p for p in base.glob(f"*/{base.name}") if is_model_folder(p)), key=lambda p: p.parent.name
    )


def find_chat_model(locations: ModelLocations) -> str | None:
    """A reference to the newest model fine-tuned for chat: a catalog version whose
    ``config.json`` says ``task: chat``, else the newest registered version of
    ``locations.finetuned_name`` tagged ``finetune.task=chat``; ``None`` when there is none."""
    chat = [
        (folder.parent.name, f"{dataset}:{folder.parent.name}")
        for dataset in locations.datasets
        for folder in catalog_versions(dataset, locations)
        if read_info(folder).get("task") == CHAT_TASK
    ]
    if chat:
        return max(chat)[1]
    if locations.finetuned_name and _store_exists(locations.tracking_uri):
        return _registered_chat_model(locations.finetuned_name, locations.tracking_uri)
    return None


def describe(bundle: ModelBundle) -> str:
    """One line: which model this is and whether it was fine-tuned for chat."""
    info = bundle.info
    loaded = info.get("loaded_from") or {}
    lineage = info.get("lineage") or {}
    if lineage.get("registered_model"):
        what = f"models:/{lineage['registered_model']}/{lineage['registered_version']}"
    elif loaded.get("version"):
        what = f"{loaded['name']} version {loaded['version']}"
    else:
        what = loaded.get("path") or lineage.get("model_uri") or "a model"
    task = info.get("task")
    kind = (
        "fine-tuned for chat"
        if task == CHAT_TASK
        else f"fine-tuned for {task}, not chat"
        if task
        else "pretrained, not fine-tuned for chat"
    )
    return f"{what} ({kind})"


# -- MLflow ----------------------------------------------------------------------------------------


def load_registered_model(
    uri: str, dst: str | Path | None = None, *, tracking_uri: str | None = None
) -> ModelBundle:
    """Download the pyfunc model at ``uri`` and load its ``model`` artifact folder.

    Without ``dst`` the download goes to a temporary folder, removed once the model is loaded.
    ``tracking_uri`` ``None`` uses MLflow's current one (kedro-mlflow's inside a run); it is the
    registry too.
    """
    _check_store(uri, tracking_uri)
    source, lineage = uri, {}
    if uri.startswith("models:/"):
        source, lineage = _registered_source(uri, tracking_uri)
    if dst is None:
        with tempfile.TemporaryDirectory(prefix="kedro-gpt-model-") as tmp:
            bundle = _download_and_load(uri, source, Path(tmp), tracking_uri)
    else:
        bundle = _download_and_load(uri, source, Path(dst), tracking_uri)
    bundle.info = {
        **bundle.info,
        "lineage": {"model_uri": uri, **lineage},
        "loaded_from": {"reference": uri},
    }
    return bundle


def _download_and_load(uri: str, source: str, dst: Path, tracking_uri: str | None) -> ModelBundle:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=str(dst), tracking_uri=tracking_uri
        )
    except MlflowException as err:
        raise ModelSourceError(f"cannot fetch model {uri!r} from MLflow: {err.message}") from None
    folder = Path(local) / "artifacts" / "model"
    if not folder.is_dir():
        raise ModelSourceError(
            f"model {uri!r} has no 'model' artifact folder (not a kedro-gpt model)"
        )
    return ModelBundle.load(folder)


def _sqlite_path(tracking_uri: str | None) -> Path | None:
    if tracking_uri and tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri.removeprefix("sqlite:///"))
    return None


def _store_exists(tracking_uri: str | None) -> bool:
    """False for an SQLite store whose file does not exist (asking would create it)."""
    path = _sqlite_path(tracking_uri)
    return path is None or path.is_file()


def _check_store(uri: str, tracking_uri: str | None) -> None:
    if not _store_exists(tracking_uri):
        raise ModelSourceError(
            f"cannot fetch model {uri!r}: there is no MLflow store at {_sqlite_path(tracking_uri)} "
            "(`kedro run --pipelines=pretrain` makes one; --tracking-uri or $MLFLOW_TRACKING_URI "
            "names another)"
        )


def registered_version(uri: str, tracking_uri: str | None = None) -> str:
    """The version a ``models:/NAME@ALIAS`` (or ``models:/NAME/VERSION``) URI names now."""
    _check_store(uri, tracking_uri)
    return _registered_source(uri, tracking_uri)[1]["registered_version"]


def first_registered(uris: list[str], tracking_uri: str | None = None) -> str | None:
    """The first of ``uris`` (``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or
    ``models:/NAME/latest``) that names an existing model version, as a pinned
    ``models:/NAME/VERSION``; ``None`` when none does."""
    for uri in uris:
        try:
            _check_store(uri, tracking_uri)
            lineage = _registered_source(uri, tracking_uri)[1]
        except ModelSourceError:
            continue
        return f"models:/{lineage['registered_model']}/{lineage['registered_version']}"
    return None


def follows_alias(reference: str | None) -> bool:
    """Whether ``reference`` is a registry alias, whose version can move (``@champion``)."""
    return bool(reference and reference.startswith("models:/") and "@" in reference)


def _split_models_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``(name, alias, version)`` of a ``models:/`` URI."""
    ref = uri.removeprefix("models:/").rstrip("/")
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return name, alias, None
    name, _, version = ref.rpartition("/")
    return (name, None, version) if name else (ref, None, None)


def _registered_source(uri: str, tracking_uri: str | None) -> tuple[str, dict[str, str]]:
    """Where the files of the model version ``uri`` names are, and its lineage. A model, alias
    or version that does not exist is an error that says what does, and how an alias such as
    ``champion`` comes to exist."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    name, alias, version = _split_models_uri(uri)
    try:
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))
    except MlflowException as err:
        raise ModelSourceError(f"cannot fetch model {uri!r} from MLflow: {err.message}") from None
    if not versions:
        raise ModelSourceError(
            f"cannot fetch model {uri!r}: no registered model {name!r} in "
            f"{client.tracking_uri} (`kedro run --pipelines=pretrain` registers kedro-gpt, "
            "`kedro run --pipelines=finetune` kedro-gpt-finetuned)"
        )
    latest = f"models:/{name}/{versions[-1]}"
    if alias is not None:
        try:
            found = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            raise ModelSourceError(
                f"cannot fetch model {uri!r}: registered model {name!r} has no alias {alias!r} "
                "yet. `kedro run --pipelines=compare` compares model versions and sets the alias "
                "named by comparison.promotion.alias (champion) on a version that passes its "
                f"thresholds. Until then use {latest} (the latest version) or a catalog version "
                "(no --model: the latest gpt_model)"
            ) from None
    elif version == "latest":
        found = client.get_model_version(name, str(versions[-1]))
    elif version is not None and version.isdigit() and int(version) in versions:
        found = client.get_model_version(name, version)
    else:
        raise ModelSourceError(
            f"cannot fetch model {uri!r}: registered model {name!r} has versions "
            f"{', '.join(map(str, versions))}; the latest is {latest}"
        )
    lineage = {
        "registered_model": found.name,
        "registered_version": str(found.version),
        "run_id": found.run_id or "",
    }
    return client.get_model_version_download_uri(found.name, found.version), lineage


def _registered_chat_model(name: str, tracking_uri: str | None) -> str | None:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    try:
        found = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return None
    chat = [int(v.version) for v in found if (v.tags or {}).get("finetune.task") == CHAT_TASK]
    return f"models:/{name}/{max(chat)}" if chat else None


# -- lineage of a fine-tuning run's starting model -------------------------------------------------


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


def catalog_model_lineage(dataset: str = DEFAULT_DATASET) -> dict[str, str]:
    """Lineage of the catalog model the active run read (the lineage hook tags its version):
    the run that wrote that version and the model version registered from that run."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

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
