import hashlib

import pyarrow as pa

from kedro_gpt.ingest import DOCUMENT_SCHEMA, document_id


def test_document_id_is_sha256_of_source_and_position() -> None:
    expected = hashlib.sha256(b"data/a.jsonl\x003").hexdigest()[:32]
    assert document_id("data/a.jsonl", 3) == expected
    assert document_id("data/a.jsonl", "3") == expected


def test_document_id_differs_by_source_and_position() -> None:
    assert document_id("a", 0) != document_id("a", 1)
    assert document_id("a", 0) != document_id("b", 0)


def test_document_schema_columns() -> None:
    assert DOCUMENT_SCHEMA.names == ["id", "source", "format", "title", "url", "text", "date"]
    assert all(field.type == pa.string() for field in DOCUMENT_SCHEMA)
    assert DOCUMENT_SCHEMA.field("title").nullable and DOCUMENT_SCHEMA.field("url").nullable
    assert not DOCUMENT_SCHEMA.field("text").nullable
