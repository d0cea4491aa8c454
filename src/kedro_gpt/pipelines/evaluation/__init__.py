"""Evaluation: held-out metrics and samples of a trained model, and its registration."""

from kedro_gpt.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
