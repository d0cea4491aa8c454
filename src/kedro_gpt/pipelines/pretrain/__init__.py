"""Composite pipeline ``pretrain``: raw text to an evaluated, registered GPT."""

from kedro_gpt.pipelines.pretrain.pipeline import create_pipeline

__all__ = ["create_pipeline"]
