"""Pick the model to serve by the names people use: MLflow URI, catalog version, or folder.

``models:/NAME@alias``, ``models:/NAME/VERSION`` go through
:func:`kedro_gpt.tracking.model_source.load_registered_model`; a catalog version is a timestamp
folder of the versioned ``gpt_model`` dataset; ``None`` is its latest version.
"""

from __future__ import annotations

from pathlib import Path

from kedro_gpt.model.bundle import CONFIG_FILE, WEIGHTS_FILE, ModelBundle, is_model_folder
from kedro_gpt.tokenizer.files import HF_TOKENIZER_FILE, SENTENCEPIECE_FILE

DEFAULT_MODELS_DIR = Path("data/06_models/gpt_model")
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DATASET_NAME = "gpt_model"


class ModelSourceError(ValueError):
    """The model source names nothing that can be loaded."""


def resolve_model_folder(source: str | None, models_dir: str | Path = DEFAULT_MODELS_DIR) -> Path:
    """The local model folder that a catalog version, a folder, or ``None`` (latest) names."""
    models_dir = Path(models_dir)
    if source is None:
        versions = sorted(p for p in models_dir.glob(f"*/{DATASET_NAME}") if is_model_folder(p))
        if not versions:
            raise ModelSourceError(
                f"no trained model under {models_dir}: run `kedro run --pipeline=pretrain` "
                "or pass --model (models:/NAME@alias, models:/NAME/VERSION, a version or a folder)"
            )
        return versions[-1]
    path = Path(source)
    for folder in (path, path / DATASET_NAME, models_dir / source / DATASET_NAME):
        if folder.is_dir() and is_model_folder(folder):
            return folder
    if path.is_dir():
        raise ModelSourceError(
            f"{path} is not a model folder (needs {WEIGHTS_FILE}, {CONFIG_FILE} and "
            f"{SENTENCEPIECE_FILE} or {HF_TOKENIZER_FILE})"
        )
    raise ModelSourceError(
        f"model {source!r} not found: not an MLflow URI, a folder, or a version under {models_dir}"
    )


def load_bundle(
    source: str | None,
    *,
    models_dir: str | Path = DEFAULT_MODELS_DIR,
    tracking_uri: str | None = None,
    device: str = "cpu",
) -> ModelBundle:
    """Load the model ``source`` names (see the module docstring)."""
    if source is not None and source.startswith(("models:/", "runs:/")):
        import mlflow

        from kedro_gpt.tracking.model_source import load_registered_model

        mlflow.set_tracking_uri(tracking_uri or DEFAULT_TRACKING_URI)
        try:
            bundle = load_registered_model(source)
        except ValueError as err:
            raise ModelSourceError(str(err)) from None
        return (
            bundle
            if device == "cpu"
            else ModelBundle(bundle.model.to(device), bundle.tokenizer, bundle.info)
        )
    return ModelBundle.load(resolve_model_folder(source, models_dir), device=device)
