"""The ``ingestion`` pipeline: sources in ``parameters_ingestion.yml`` -> ``documents``."""

from __future__ import annotations

from typing import Any

from kedro.pipeline import Node, Pipeline

from kedro_gpt.pipelines.ingestion.nodes import ingest_documents


def create_pipeline(**kwargs: Any) -> Pipeline:
    """One node: read the configured sources into documents and an ingestion report."""
    return Pipeline(
        [
            Node(
                func=ingest_documents,
                inputs="params:ingestion",
                outputs=["documents", "ingestion_report"],
                name="ingest_documents",
            )
        ]
    )
