"""Pretraining: a GPT trained from scratch on the token shards, tracked in MLflow."""

from kedro_gpt.pipelines.pretraining.pipeline import create_pipeline

__all__ = ["create_pipeline"]
