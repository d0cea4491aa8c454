"""CRUCIAL: the default cleaning keeps Tiny Shakespeare byte-identical (nanoGPT's validation split
is its last 10% of characters)."""

from __future__ import annotations

import hashlib

import pyarrow as pa

from kedro_gpt.config import parse_params
from kedro_gpt.ingest.schema import DOCUMENT_SCHEMA, document_id
from kedro_gpt.text.clean import clean_batches
from kedro_gpt.text.config import CleaningConfig
from tests.conftest import TINY_SHAKESPEARE
from tests.text.conftest import default_params

SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"  # from its SOURCE.txt


def test_tiny_shakespeare_is_kept_byte_identical():
    raw = TINY_SHAKESPEARE.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SHA256
    text = raw.decode("utf-8")
    assert len(text) == 1_115_394
    source = "data/01_raw/tinyshakespeare/input.txt"
    row = {
        "id": document_id(source, 0),
        "source": source,
        "format": "txt",
        "title": None,
        "url": None,
        "text": text,
    }
    config = parse_params(CleaningConfig, default_params(), "cleaning")
    out = list(
        clean_batches(
            [pa.RecordBatch.from_pylist([row], schema=DOCUMENT_SCHEMA)],
            config,
            DOCUMENT_SCHEMA,
        )
    )
    (kept,) = pa.Table.from_batches(out).to_pylist()
    assert kept["id"] == row["id"]
    assert kept["text"].encode("utf-8") == raw
