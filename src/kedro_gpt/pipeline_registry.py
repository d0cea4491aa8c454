"""Project pipelines: one per stage folder, plus the composites ``data`` and ``pretrain``."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline under ``pipelines/``; ``__default__`` is ``pretrain`` when present."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = pipelines.get("pretrain", pipelines.get("data", Pipeline([])))
    return pipelines
