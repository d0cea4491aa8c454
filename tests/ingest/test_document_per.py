"""``document_per``: one document per line (reviews) or per blank-line block (articles)."""

from __future__ import annotations

import gzip

import pytest
from pydantic import ValidationError

from kedro_gpt.ingest import IngestionConfig
from tests.ingest.conftest import Ingest

ARTICLES = "Anarchism\nAnarchism is a philosophy.\nIt has currents.\n\nAutism\nAutism is a condition.\n\n\n\nAlbedo\r\nAlbedo is reflection.\r\n"


def test_blank_line_blocks_are_articles(tmp_path, ingest: Ingest):
    path = tmp_path / "wiki.txt.gz"
    path.write_bytes(gzip.compress(ARTICLES.encode()))
    table, report = ingest([{"path": str(path), "document_per": "blank_line"}])
    texts = table.column("text").to_pylist()
    assert texts == [
        "Anarchism\nAnarchism is a philosophy.\nIt has currents.",
        "Autism\nAutism is a condition.",
        "Albedo\r\nAlbedo is reflection.",
    ]
    assert len(set(table.column("id").to_pylist())) == 3
    assert report["total"]["documents"] == 3


def test_each_non_empty_line_is_a_review(tmp_path, ingest: Ingest):
    path = tmp_path / "reviews.txt"
    path.write_text("\ufeffGreat film.\n\nDull film.\nFine film.")
    table, _ = ingest([{"path": str(path), "document_per": "line"}])
    assert table.column("text").to_pylist() == ["Great film.", "Dull film.", "Fine film."]


def test_an_oversize_line_is_skipped_and_a_long_block_is_cut(tmp_path, ingest: Ingest):
    mb = 1 << 20
    path = tmp_path / "big.txt"
    path.write_bytes(b"short one\n" + b"x" * (mb + 10) + b"\nlast one\n")
    table, report = ingest([{"path": str(path), "document_per": "line"}], max_document_mb=1)
    assert table.column("text").to_pylist() == ["short one", "last one"]
    assert report["total"]["oversize_documents"] == 1
    block = tmp_path / "block.txt"
    block.write_bytes((b"y" * 1000 + b"\n") * 2000)  # one 2 MB block of 1 KB lines
    table, _ = ingest([{"path": str(block), "document_per": "blank_line"}], max_document_mb=1)
    texts = table.column("text").to_pylist()
    assert len(texts) == 2 and sum(len(t) + 1 for t in texts) == 2000 * 1001


def test_document_per_is_refused_for_structured_formats():
    with pytest.raises(ValidationError, match="document_per"):
        IngestionConfig.model_validate(
            {"sources": [{"path": "x.jsonl", "format": "jsonl", "document_per": "line"}]}
        )
