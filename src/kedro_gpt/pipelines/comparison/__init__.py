"""``kedro run --pipelines=comparison``: any model versions side by side, contamination, promotion."""

from kedro_gpt.pipelines.comparison.pipeline import create_pipeline

__all__ = ["create_pipeline"]
