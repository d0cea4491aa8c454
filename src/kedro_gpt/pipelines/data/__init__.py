"""Composite pipeline ``data``: raw sources to tokenizer and token shards."""

from kedro_gpt.pipelines.data.pipeline import create_pipeline

__all__ = ["create_pipeline"]
