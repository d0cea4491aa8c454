"""Ingestion nodes: configured sources -> a stream of document batches and a report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from kedro_gpt.config import parse_params
from kedro_gpt.ingest import IngestionConfig, ingest_sources


def ingest_documents(params: dict[str, Any]) -> tuple[Iterator[pa.RecordBatch], dict[str, Any]]:
    """Read every source in ``params`` (the ``ingestion`` parameters) into documents.

    Returns a generator of RecordBatches (DOCUMENT_SCHEMA), which the ``documents`` dataset
    consumes while it saves, and the report, which that generator fills as it runs; Kedro saves
    the report after the documents, by then complete.
    """
    config = parse_params(IngestionConfig, params, "ingestion")
    return ingest_sources(config)
