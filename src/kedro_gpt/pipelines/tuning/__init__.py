"""The tuning stage: an Optuna sweep or an ablation over the pretraining parameters."""

from kedro_gpt.pipelines.tuning.pipeline import create_pipeline

__all__ = ["create_pipeline"]
