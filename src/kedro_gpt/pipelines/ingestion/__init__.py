"""Ingestion: read files, folders and URLs into the ``documents`` table."""

from kedro_gpt.pipelines.ingestion.pipeline import create_pipeline

__all__ = ["create_pipeline"]
