"""Helpers for ingestion tests: run ingestion on real files and collect the whole table."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


@contextmanager
def loopback_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 (a free port) serving ``handler``: its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
