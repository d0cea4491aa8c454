"""Typed parameters of the ``comparison`` pipeline (the `comparison` key)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kedro_gpt.config import StrictModel
from kedro_gpt.finetune.config import ScoringParams

CATALOG = "catalog"


class TextSet(StrictModel):
    """A held-out text: the last ``tail_fraction`` of a file under data/01_raw."""

    file: str
    tail_fraction: float = Field(1.0, gt=0, le=1)


class ChatSet(StrictModel):
    """Question/answer files (as in fine-tuning), first ``max_examples`` conversations."""

    files: list[str] = Field(min_length=1)
    prompt_keys: list[str] = Field(default_factory=lambda: ["prompt", "question", "Question"])
    response_keys: list[str] = Field(default_factory=lambda: ["response", "answer", "Best Answer"])
    max_examples: int = Field(50, ge=1)


class PairSet(StrictModel):
    """Source → target pairs (TSV/CSV/JSONL), scored against the copy-the-input baseline."""

    file: str
    source_column: str
    target_column: str
    instruction: str | None = None
    max_examples: int = Field(50, ge=1)


class LabelSet(StrictModel):
    """Labelled texts for models fine-tuned with a classification head (others are skipped)."""

    file: str
    text_column: str = "text"
    label_column: str = "label"
    max_examples: int | None = Field(None, ge=1)


class PromptParams(StrictModel):
    prompts: list[str] = Field(default_factory=lambda: ["ROMEO:", "To be, or not to be"])
    max_new_tokens: int = Field(60, ge=1)
    temperature: float = Field(0.8, ge=0)
    top_k: int | None = Field(50, ge=1)
    seed: int = 1337


class ContaminationParams(StrictModel):
    ngram: int = Field(8, ge=1, description="word n-gram length")
    warn_above: float = Field(0.05, ge=0, le=1, description="share of n-grams seen in training")


class PromotionParams(StrictModel):
    enabled: bool = True
    model: str = Field("latest", description="which entry of `models` is the candidate")
    alias: str = "champion"
    thresholds: dict[str, dict[Literal["min", "max"], float]] = Field(default_factory=dict)


class ComparisonConfig(StrictModel):
    models: dict[str, str] = Field(
        default_factory=lambda: {"latest": CATALOG},
        min_length=1,
        description="name -> 'catalog' (the gpt_model input) or an MLflow model URI",
    )
    batch_size: int = Field(16, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    text_sets: dict[str, TextSet] = Field(default_factory=dict)
    chat_sets: dict[str, ChatSet] = Field(default_factory=dict)
    pair_sets: dict[str, PairSet] = Field(default_factory=dict)
    label_sets: dict[str, LabelSet] = Field(default_factory=dict)
    generation: ScoringParams = ScoringParams(eval_examples=10, max_new_tokens=32)
    samples: PromptParams = PromptParams()
    contamination: ContaminationParams = ContaminationParams()
    promotion: PromotionParams = PromotionParams()

    @model_validator(mode="after")
    def _check(self) -> ComparisonConfig:
        if self.promotion.enabled and self.promotion.model not in self.models:
            raise ValueError(
                f"promotion.model {self.promotion.model!r} is not one of models "
                f"({', '.join(self.models)})"
            )
        return self
