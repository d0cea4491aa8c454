"""Promotion in the MLflow model registry: an alias on a model version, with its model card."""

from __future__ import annotations

import mlflow
from mlflow.tracking import MlflowClient


def set_alias(name: str, version: str, alias: str, card: str) -> None:
    """Point ``name@alias`` at ``version``; the card becomes the version's description and an
    artifact of the active run."""
    client = MlflowClient()
    client.set_registered_model_alias(name, alias, version)
    client.update_model_version(name, version, description=card)
    client.set_model_version_tag(name, version, "promoted_alias", alias)
    if mlflow.active_run() is not None:
        mlflow.log_text(card, "model_card/MODEL_CARD.md")
        mlflow.set_tags({"promotion.alias": alias, "promotion.model": f"{name}/{version}"})


def record_failure(reasons: list[str]) -> None:
    """Say on the active run why the model was not promoted."""
    if mlflow.active_run() is not None:
        mlflow.set_tag("promotion.failed", "; ".join(reasons)[:5000])
