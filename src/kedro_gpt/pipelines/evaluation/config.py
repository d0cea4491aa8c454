"""Typed parameters of the evaluation stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kedro_gpt.config import StrictModel


class SampleParams(StrictModel):
    """Generations written out for people to read."""

    prompts: list[str] = Field(
        default_factory=lambda: ["ROMEO:", "First Citizen:\n", "To be, or not to be"]
    )
    max_new_tokens: int = Field(200, ge=1)
    temperature: float = Field(0.8, ge=0)
    top_k: int | None = Field(50, ge=1)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int = 1337


class RegistryParams(StrictModel):
    """Registration of the evaluated model in the MLflow model registry."""

    enabled: bool = True
    model_name: str = Field("kedro-gpt", min_length=1)


class EvaluationConfig(StrictModel):
    batch_size: int = Field(16, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    samples: SampleParams = SampleParams()
    registry: RegistryParams = RegistryParams()
