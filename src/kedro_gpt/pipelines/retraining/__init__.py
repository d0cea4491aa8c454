"""Retraining: the champion fine-tuned again with the newest feedback, compared, promoted."""

from kedro_gpt.pipelines.retraining.pipeline import create_pipeline

__all__ = ["create_pipeline"]
