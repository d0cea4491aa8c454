"""Caps on decompressed bytes per file and per document: bombs are cut, split or skipped, counted."""

from __future__ import annotations

import gzip
import json
import logging
import tracemalloc
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from kedro_gpt.ingest import IngestionConfig, ingest_sources

MiB = 1 << 20
LINE = b"All work and no play makes Jack a dull boy.\n"
BOMB_MB = 64


def write_compressed(path: Path, codec: str, pieces: list[tuple[bytes, int]]) -> None:
    """Write each ``(chunk, times)`` piece ``times`` over, compressed, without holding it whole."""
    with path.open("wb") as raw:
        if codec == "zstd":
            out = zstandard.ZstdCompressor(level=3).stream_writer(raw)
        else:
            out = gzip.GzipFile(fileobj=raw, mode="wb")
        with out:
            for chunk, times in pieces:
                for _ in range(times):
                    out.write(chunk)


def line_bomb(length: int) -> list[tuple[bytes, int]]:
    """``length`` bytes or a little more of LINE repeated, in 1 MiB writes."""
    block = LINE * (MiB // len(LINE))
    return [(block, length // len(block) + 1)]


@pytest.fixture(scope="module", autouse=True)
def warm_imports(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Ingest one small file of each kind first: pyarrow imports pandas and more on first use,
    which would otherwise count towards the first measured peak."""
    folder = tmp_path_factory.mktemp("warm")
    (folder / "a.txt").write_text("text")
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(b'{"text": "line"}\n'))
    (folder / "c.csv.zst").write_bytes(zstandard.ZstdCompressor().compress(b"text\nrow\n"))
    pq.write_table(pa.table({"text": ["row"]}), folder / "d.parquet")
    batches, _ = ingest_sources(IngestionConfig(sources=[{"path": str(folder), "glob": "*"}]))
    list(batches)


def ingest_streaming(
    sources: list[dict[str, Any]], **params: Any
) -> tuple[list[int], dict[str, Any], int]:
    """Ingest without keeping the documents: (each document's length, report, peak traced bytes)."""
    config = IngestionConfig.model_validate({"sources": sources, **params})
    tracemalloc.start()
    try:
        batches, report = ingest_sources(config)
        lengths: list[int] = []
        for batch in batches:
            lengths.extend(len(t) for t in batch.column("text").to_pylist())
            del batch
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return lengths, report, peak


@pytest.mark.parametrize(("codec", "suffix"), [("zstd", "zst"), ("gzip", "gz")])
def test_text_bomb_is_split_and_cut_at_the_file_cap_in_bounded_memory(
    tmp_path: Path, codec: str, suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    bomb = tmp_path / f"bomb.txt.{suffix}"
    write_compressed(bomb, codec, line_bomb(BOMB_MB * MiB))
    assert bomb.stat().st_size < BOMB_MB * MiB // 100  # a real bomb: over 100x expansion
    with caplog.at_level(logging.WARNING):
        lengths, report, peak = ingest_streaming(
            [{"path": str(bomb)}], max_document_mb=1, max_file_mb=8, batch_max_mb=1
        )
    assert 6 <= len(lengths) <= 8 and max(lengths) <= MiB  # parts of at most 1 MiB, up to 8 MiB
    stats = report["sources"][str(bomb)]
    assert (stats["documents"], stats["split_documents"], stats["oversize_files"]) == (
        len(lengths),
        1,
        1,
    )
    assert stats["unreadable_files"] == 0
    [skipped] = stats["skipped_files"]
    assert skipped["file"] == str(bomb)
    assert "over max_file_mb=8" in skipped["reason"]
    assert f"{bomb}: over max_file_mb=8" in caplog.text
    assert peak < 16 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"


def test_jsonl_bomb_line_is_skipped_and_the_rest_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bomb = tmp_path / "bomb.jsonl.gz"
    pieces = [
        (b'{"text": "before"}\n{"text": "', 1),
        (b"a" * MiB, BOMB_MB),
        (b'"}\n{"text": "after"}\n', 1),
    ]
    write_compressed(bomb, "gzip", pieces)
    with caplog.at_level(logging.WARNING):
        lengths, report, peak = ingest_streaming([{"path": str(bomb)}], max_document_mb=1)
    assert lengths == [len("before"), len("after")]
    assert report["total"]["oversize_documents"] == 1
    assert report["total"]["malformed_jsonl_lines"] == 0
    assert f"{bomb}:2: skipped JSONL line over max_document_mb=1" in caplog.text
    assert peak < 16 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"


def test_oversize_documents_of_each_kind_are_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    big, small = "b" * 3000, "small"
    (tmp_path / "a.html").write_text(f"<title>t</title><p>{big}</p>")
    (tmp_path / "b.csv").write_text(f"text\n{small}\n{big}\n")
    pq.write_table(pa.table({"text": [big, small]}), tmp_path / "c.parquet")
    (tmp_path / "d.jsonl").write_text(
        json.dumps({"text": big}) + "\n" + json.dumps({"text": small})
    )
    (tmp_path / "e.md").write_text("short markdown")
    with caplog.at_level(logging.WARNING):
        lengths, report, _ = ingest_streaming(
            [{"path": str(tmp_path), "glob": "*"}],
            max_document_mb=0.002,  # 2097 bytes
        )
    assert lengths == [len(small)] * 3 + [len("short markdown")]
    assert report["total"]["oversize_documents"] == 4
    assert report["total"]["oversize_files"] == 0
    assert f"{tmp_path / 'a.html'}: skipped document over max_document_mb=0.002" in caplog.text
    assert f"{tmp_path / 'c.parquet'}:0: skipped document over max_document_mb=0.002" in caplog.text


def test_split_text_parts_end_at_line_breaks_and_keep_every_byte(tmp_path: Path) -> None:
    text = "".join(f"line {i} ünïcödé\n" for i in range(400))
    (tmp_path / "a.txt").write_text(text)
    (tmp_path / "b.txt").write_text("é" * 2000)  # no line break: cut between characters
    config = {"sources": [{"path": str(tmp_path), "glob": "*.txt"}], "max_document_mb": 0.001}
    batches, report = ingest_sources(IngestionConfig.model_validate(config))
    table = pa.Table.from_batches(list(batches))
    parts = table.column("text").to_pylist()
    sources = table.column("source").to_pylist()
    a_parts = [p for p, s in zip(parts, sources, strict=True) if s.endswith("a.txt")]
    b_parts = [p for p, s in zip(parts, sources, strict=True) if s.endswith("b.txt")]
    assert "".join(a_parts) == text and all(p.endswith("\n") for p in a_parts)
    assert "".join(b_parts) == "é" * 2000
    assert all(len(p.encode()) <= 1048 for p in parts)
    assert len(set(table.column("id").to_pylist())) == len(parts)
    assert report["total"]["split_documents"] == 2
    assert report["total"]["documents"] == len(parts)


def test_plain_file_over_the_file_cap_keeps_what_came_before(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps({"text": f"doc {i}"}) + "\n" for i in range(10_000)))
    with caplog.at_level(logging.WARNING):
        lengths, report, _ = ingest_streaming([{"path": str(path)}], max_file_mb=0.05)
    kept = len(lengths)
    assert 0 < kept < 10_000
    assert kept == path.read_bytes()[: int(0.05 * MiB)].count(b"\n")  # every whole line
    assert report["total"]["oversize_files"] == 1 and report["total"]["documents"] == kept
    assert f"kept the {kept} documents read before it" in caplog.text
