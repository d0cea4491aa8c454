"""Ingestion: read files, folders and URLs in many formats into a stream of document batches.

Plain Python, no Kedro: ``batches, report = ingest_sources(IngestionConfig(sources=[...]))``.
"""

from kedro_gpt.ingest.config import IngestionConfig, SourceConfig
from kedro_gpt.ingest.documents import DocumentBatcher, ingest_sources
from kedro_gpt.ingest.errors import IngestionError, OversizeInput, UnreadableInput
from kedro_gpt.ingest.limits import Limits
from kedro_gpt.ingest.schema import DOCUMENT_SCHEMA, FORMATS, document_id
from kedro_gpt.ingest.sources import detect_format, resolve_sources

__all__ = [
    "DOCUMENT_SCHEMA",
    "FORMATS",
    "DocumentBatcher",
    "IngestionConfig",
    "IngestionError",
    "Limits",
    "OversizeInput",
    "SourceConfig",
    "UnreadableInput",
    "detect_format",
    "document_id",
    "ingest_sources",
    "resolve_sources",
]
