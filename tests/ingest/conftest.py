"""Helpers for ingestion tests: run ingestion on real files and collect the whole table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from kedro_gpt.ingest import DOCUMENT_SCHEMA, IngestionConfig, ingest_sources

Ingest = Callable[..., tuple[pa.Table, dict[str, Any]]]


def run_ingestion(sources: list[dict[str, Any]], **params: Any) -> tuple[pa.Table, dict[str, Any]]:
    """Ingest ``sources`` and return (all documents as one table, the report)."""
    config = IngestionConfig.model_validate({"sources": sources, **params})
    batches, report = ingest_sources(config)
    table = pa.Table.from_batches(list(batches), schema=DOCUMENT_SCHEMA)
    return table, report


@pytest.fixture
def ingest() -> Ingest:
    return run_ingestion
