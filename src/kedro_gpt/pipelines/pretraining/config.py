"""Typed parameters of the pretraining stage."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from kedro_gpt.config import StrictModel
from kedro_gpt.training.config import TrainConfig


class ModelParams(StrictModel):
    """A preset name plus any ``GPTConfig`` field as an override (``n_layer: 6``, ``rope: true``…)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    preset: str | None = "cpu-small"

    def overrides(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PretrainingConfig(StrictModel):
    model: ModelParams = ModelParams()
    training: TrainConfig
    checkpoint_dir: str = Field(
        "data/06_models/checkpoints/pretrain",
        description="working folder for resumable checkpoints; the final model goes to the catalog",
    )
    resume: bool = Field(False, description="continue from the last checkpoint in checkpoint_dir")
    tensorboard_dir: str | None = Field(
        None,
        description="also write TensorBoard events under this folder (one per run); null = off",
    )
    tensorboard_sample_prompt: str | None = Field(
        "The",
        description="with tensorboard_dir: the text TensorBoard shows continued by each new best "
        "checkpoint (64 tokens); null = no samples",
    )
