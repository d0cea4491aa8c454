"""Pipeline ``cleaning``: HTML extraction, normalisation, quality filters and deduplication."""

from kedro_gpt.pipelines.cleaning.pipeline import create_pipeline

__all__ = ["create_pipeline"]
