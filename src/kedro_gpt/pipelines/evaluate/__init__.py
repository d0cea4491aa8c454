"""``kedro run --pipelines=evaluate``: any model versions side by side, contamination, promotion."""

from kedro_gpt.pipelines.evaluate.pipeline import create_pipeline

__all__ = ["create_pipeline"]
