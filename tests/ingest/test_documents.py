"""Batching, the report and id stability of the whole ingestion stream."""

import json
import logging
from pathlib import Path

import pyarrow as pa
import pytest

from kedro_gpt.ingest import DOCUMENT_SCHEMA, DocumentBatcher, IngestionConfig, ingest_sources
from kedro_gpt.ingest.report import COUNTERS
from tests.ingest.conftest import Ingest


def make_jsonl(path: Path, texts: list[str]) -> None:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))


def test_batches_close_at_batch_size(tmp_path: Path) -> None:
    make_jsonl(tmp_path / "a.jsonl", [f"doc {i}" for i in range(5)])
    config = IngestionConfig(sources=[{"path": str(tmp_path / "a.jsonl")}], batch_size=2)
    batches, report = ingest_sources(config)
    sizes = [b.num_rows for b in batches]
    assert sizes == [2, 2, 1]
    assert report["batches"] == 3


def test_batches_close_at_batch_max_mb() -> None:
    batcher = DocumentBatcher(max_docs=1000, max_chars=10)
    row = {"id": "i", "source": "s", "format": "txt", "title": None, "url": None, "text": "x" * 6}
    assert batcher.add(row) is None
    full = batcher.add(row)
    assert (
        isinstance(full, pa.RecordBatch) and full.num_rows == 2 and full.schema == DOCUMENT_SCHEMA
    )
    assert batcher.flush() is None


def test_report_is_marked_complete_only_when_the_stream_is_done(tmp_path: Path) -> None:
    make_jsonl(tmp_path / "a.jsonl", ["one", "two"])
    batches, report = ingest_sources(IngestionConfig(sources=[{"path": str(tmp_path / "a.jsonl")}]))
    assert report == {"complete": False}
    next(batches)
    assert report["complete"] is False
    assert list(batches) == []
    assert report["complete"] is True and report["total"]["documents"] == 2


def test_missing_source_fails_before_streaming(tmp_path: Path) -> None:
    config = IngestionConfig(sources=[{"path": str(tmp_path / "gone.txt")}])
    with pytest.raises(ValueError, match="source path not found"):
        ingest_sources(config)


def test_totals_add_up_over_sources(tmp_path: Path, ingest: Ingest) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.txt").write_text("alpha")
    (tmp_path / "t" / "b.txt").write_bytes(b"\x00binary")
    (tmp_path / "t" / "c.txt").write_text("")
    make_jsonl(tmp_path / "d.jsonl", ["x", "y"])
    with (tmp_path / "d.jsonl").open("a") as f:
        f.write("not json\n")
    table, report = ingest(
        [
            {"path": str(tmp_path / "t"), "glob": "*.txt"},
            {"path": str(tmp_path / "d.jsonl")},
            {"path": str(tmp_path), "glob": "**/a.txt"},
        ]
    )
    assert table.num_rows == 3
    sources = report["sources"]
    assert list(sources) == [
        f"{tmp_path}/t/*.txt",
        str(tmp_path / "d.jsonl"),
        f"{tmp_path}/**/a.txt",
    ]
    for name in COUNTERS:
        assert report["total"][name] == sum(s[name] for s in sources.values()), name
    assert report["total"] | {"bytes": 0} == {
        "files": 4,
        "documents": 3,
        "bytes": 0,
        "characters": 7,
        "invalid_utf8_files": 0,
        "malformed_jsonl_lines": 1,
        "malformed_csv_rows": 0,
        "empty_documents": 1,
        "binary_files": 1,
        "unreadable_files": 0,
        "oversize_files": 0,
        "oversize_documents": 0,
        "split_documents": 0,
        "duplicate_files": 1,
        "archive_records": 0,
        "filtered_records": 0,
    }
    assert sources[f"{tmp_path}/**/a.txt"]["skipped_files"] == [
        {"file": str(tmp_path / "t" / "a.txt"), "reason": "duplicate"}
    ]
    json.dumps(report)  # JSON-ready


def test_no_documents_gives_an_empty_table_with_the_schema(
    tmp_path: Path, ingest: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "empty.txt").write_text("")
    with caplog.at_level(logging.WARNING):
        table, report = ingest([{"path": str(tmp_path / "empty.txt")}])
    assert table.num_rows == 0 and table.schema == DOCUMENT_SCHEMA
    assert report["total"]["empty_documents"] == 1 and report["complete"] is True
    assert "ingestion found no documents" in caplog.text


def test_ids_are_stable_across_runs_and_unique(tmp_path: Path, ingest: Ingest) -> None:
    make_jsonl(tmp_path / "a.jsonl", ["same"] * 3)
    (tmp_path / "b.txt").write_text("same")
    sources = [{"path": str(tmp_path), "glob": "*"}]
    first, _ = ingest(sources)
    second, _ = ingest(sources, batch_size=1)
    assert first.column("id").to_pylist() == second.column("id").to_pylist()
    assert len(set(first.column("id").to_pylist())) == 4
