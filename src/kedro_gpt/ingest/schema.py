"""The documents table: the Arrow schema every stage after ingestion reads, and stable ids."""

from __future__ import annotations

import hashlib

import pyarrow as pa

#: Formats a document can come from (the ``format`` column).
FORMATS = ("txt", "md", "html", "jsonl", "csv", "parquet")  # a WARC record's page is html or txt

#: One row per document. ``text`` is the raw text (for HTML the raw markup; cleaning extracts it);
#: ``date`` when the input records when the document was fetched (web archives), else null.
DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=True),
        pa.field("url", pa.string(), nullable=True),
        pa.field("text", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=True),  # ISO 8601 fetch time (WARC-Date)
    ]
)


def document_id(source: str, position: int | str) -> str:
    """Stable id: the first 32 hex chars of sha256(``source`` + NUL + ``position``).

    ``position`` is 0 for a whole-file document, the 1-based line number in a JSONL file and
    the 0-based row index in a CSV or Parquet file.
    """
    return hashlib.sha256(f"{source}\0{position}".encode()).hexdigest()[:32]
