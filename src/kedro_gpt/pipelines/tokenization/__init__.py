"""Tokenization: train/validation split, sentencepiece training, packed token shards."""

from kedro_gpt.pipelines.tokenization.pipeline import create_pipeline

__all__ = ["create_pipeline"]
