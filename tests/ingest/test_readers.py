"""Each format read from real files, plain and compressed, and each kind of bad input."""

import gzip
import json
import logging
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from kedro_gpt.ingest import IngestionError, document_id
from tests.ingest.conftest import Ingest


def rows(table: pa.Table) -> list[dict]:
    return table.to_pylist()


def test_txt_and_md_are_one_document_each(tmp_path: Path, ingest: Ingest) -> None:
    (tmp_path / "a.txt").write_text("First line.\nSecond line.\n")
    (tmp_path / "b.md").write_text("# Heading\n\nBody.")
    table, report = ingest([{"path": str(tmp_path), "glob": "*"}])
    a, b = rows(table)
    assert a == {
        "id": document_id(str(tmp_path / "a.txt"), 0),
        "source": str(tmp_path / "a.txt"),
        "format": "txt",
        "title": None,
        "url": None,
        "text": "First line.\nSecond line.\n",
        "date": None,
    }
    assert (b["format"], b["text"]) == ("md", "# Heading\n\nBody.")
    assert report["total"]["files"] == 2 and report["total"]["documents"] == 2
    assert report["total"]["bytes"] == 25 + 16


def test_html_keeps_markup_and_takes_the_title(tmp_path: Path, ingest: Ingest) -> None:
    html = "<html><head><title>\n  The   Tempest\n</title></head><body><p>Full fathom five</p></body></html>"
    (tmp_path / "t.htm").write_text(html)
    (tmp_path / "u.html").write_text("<p>no title here</p>")
    table, _ = ingest([{"path": str(tmp_path), "glob": "*.htm*"}])
    tempest, untitled = rows(table)
    assert (tempest["format"], tempest["title"], tempest["text"]) == ("html", "The Tempest", html)
    assert untitled["title"] is None


def test_jsonl_one_document_per_line_with_configured_fields(tmp_path: Path, ingest: Ingest) -> None:
    path = tmp_path / "c.jsonl"
    lines = [
        {"body": "alpha", "name": "A", "link": "https://a.example"},
        {"body": "beta", "name": 7},
        {"body": "gamma"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines[:2]) + "\n\n" + json.dumps(lines[2]))
    table, report = ingest(
        [{"path": str(path), "text_field": "body", "title_field": "name", "url_field": "link"}]
    )
    assert table.column("text").to_pylist() == ["alpha", "beta", "gamma"]
    assert table.column("title").to_pylist() == ["A", "7", None]
    assert table.column("url").to_pylist() == ["https://a.example", None, None]
    # ids hash the 1-based line number; the blank line 3 is skipped, not counted
    assert table.column("id").to_pylist() == [document_id(str(path), n) for n in (1, 2, 4)]
    assert report["total"]["malformed_jsonl_lines"] == 0


def test_malformed_jsonl_lines_are_skipped_counted_and_logged(
    tmp_path: Path, ingest: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"text": "good one"}\n'
        '{"text": "unterminated\n'
        "[1, 2]\n"
        '{"other": "x"}\n'
        '{"text": 42}\n'
        '{"text": "good two"}\n'
    )
    with caplog.at_level(logging.WARNING):
        table, report = ingest([{"path": str(path)}])
    assert table.column("text").to_pylist() == ["good one", "good two"]
    assert report["sources"][str(path)]["malformed_jsonl_lines"] == 4
    for line in (2, 3, 4, 5):
        assert f"{path}:{line}: skipped malformed JSONL line" in caplog.text
    assert "no 'text' field" in caplog.text and "not a JSON object" in caplog.text


def test_csv_rows_with_quoted_newlines_and_malformed_rows(
    tmp_path: Path, ingest: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "r.csv"
    path.write_text('id,content,heading\n1,"two\nlines",T1\n2,too,many,fields\n3,plain,\n')
    with caplog.at_level(logging.WARNING):
        table, report = ingest(
            [{"path": str(path), "text_field": "content", "title_field": "heading"}]
        )
    assert rows(table) == [
        {
            "id": document_id(str(path), 0),
            "source": str(path),
            "format": "csv",
            "title": "T1",
            "url": None,
            "text": "two\nlines",
            "date": None,
        },
        {
            "id": document_id(str(path), 1),
            "source": str(path),
            "format": "csv",
            "title": "",
            "url": None,
            "text": "plain",
            "date": None,
        },
    ]
    assert report["total"]["malformed_csv_rows"] == 1
    assert "skipped malformed CSV row: 4 fields, expected 3" in caplog.text


def test_csv_without_the_text_column_names_file_and_column(tmp_path: Path, ingest: Ingest) -> None:
    path = tmp_path / "r.csv"
    path.write_text("id,body\n1,hello\n")
    with pytest.raises(
        IngestionError, match=rf"{path}: no column 'text' \(text_field of source"
    ) as err:
        ingest([{"path": str(path)}])
    assert err.match("its columns are: id, body")


def test_parquet_rows_streamed_with_configured_columns(tmp_path: Path, ingest: Ingest) -> None:
    path = tmp_path / "p.parquet"
    n = 2500
    table = pa.table({"content": [f"doc {i}" for i in range(n)], "t": [f"T{i}" for i in range(n)]})
    pq.write_table(table, path, row_group_size=1000)
    out, report = ingest(
        [{"path": str(path), "text_field": "content", "title_field": "t"}], batch_size=1000
    )
    assert out.column("text").to_pylist() == table.column("content").to_pylist()
    assert out.column("title")[2499].as_py() == "T2499"
    assert out.column("id")[2499].as_py() == document_id(str(path), 2499)
    assert report["batches"] == 3 and report["total"]["bytes"] == path.stat().st_size


def test_parquet_missing_column_and_binary_column(tmp_path: Path, ingest: Ingest) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"blob": pa.array([b"ok", b"caf\xe9"], pa.binary())}), path)
    with pytest.raises(IngestionError, match=rf"{path}: no column 'text'.*its columns are: blob"):
        ingest([{"path": str(path)}])
    table, report = ingest([{"path": str(path), "text_field": "blob"}])
    assert table.column("text").to_pylist() == ["ok", "caf\ufffd"]
    assert report["total"]["invalid_utf8_files"] == 1


def test_compressed_variants(tmp_path: Path, ingest: Ingest) -> None:
    zstd = zstandard.ZstdCompressor()
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(b"gzipped text"))
    (tmp_path / "b.jsonl.zst").write_bytes(
        zstd.compress(b'{"text": "one"}\n') + zstd.compress(b'{"text": "two"}\n')  # two frames
    )
    (tmp_path / "c.csv.gz").write_bytes(gzip.compress(b"text\nrow\n"))
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table({"text": ["from parquet"]}), buffer)
    (tmp_path / "d.parquet.zst").write_bytes(zstd.compress(buffer.getvalue().to_pybytes()))
    (tmp_path / "e.dump").write_bytes(gzip.compress(b"<title>Forced</title>"))
    table, report = ingest(
        [
            {"path": str(tmp_path), "glob": "*.*[tz]"},
            {"path": str(tmp_path / "e.dump"), "format": "html", "compression": "gzip"},
        ]
    )
    assert table.column("text").to_pylist() == [
        "gzipped text",
        "one",
        "two",
        "row",
        "from parquet",
        "<title>Forced</title>",
    ]
    assert table.column("format").to_pylist() == ["txt", "jsonl", "jsonl", "csv", "parquet", "html"]
    assert table.column("title")[5].as_py() == "Forced"
    compressed = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert report["total"]["bytes"] == compressed


def test_binary_file_is_skipped_counted_and_named(
    tmp_path: Path, ingest: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a.txt").write_bytes(b"GIF89a\x00\x01\x02 not text")
    (tmp_path / "b.txt").write_text("real text")
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(b"\x00" * 100))
    with caplog.at_level(logging.WARNING):
        table, report = ingest([{"path": str(tmp_path), "glob": "*"}])
    assert table.column("text").to_pylist() == ["real text"]
    stats = report["sources"][f"{tmp_path}/*"]
    assert (stats["files"], stats["documents"], stats["binary_files"]) == (3, 1, 2)
    assert stats["skipped_files"] == [
        {"file": str(tmp_path / "a.txt"), "reason": "binary"},
        {"file": str(tmp_path / "c.jsonl.gz"), "reason": "binary"},
    ]
    assert f"{tmp_path / 'a.txt'}: binary file" in caplog.text


def test_corrupt_compressed_file_is_unreadable_skip(
    tmp_path: Path, ingest: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a.txt.gz").write_bytes(b"this is not gzip data")
    (tmp_path / "b.txt.zst").write_bytes(b"nor is this zstd")
    (tmp_path / "c.txt").write_text("fine")
    (tmp_path / "d.parquet").write_bytes(b"PAR1 but not really")
    with caplog.at_level(logging.WARNING):
        table, report = ingest([{"path": str(tmp_path), "glob": "*"}])
    assert table.column("text").to_pylist() == ["fine"]
    assert report["total"]["unreadable_files"] == 3
    assert [s["file"] for s in report["sources"][f"{tmp_path}/*"]["skipped_files"]] == [
        str(tmp_path / n) for n in ("a.txt.gz", "b.txt.zst", "d.parquet")
    ]
    assert f"{tmp_path / 'a.txt.gz'}: unreadable (BadGzipFile" in caplog.text
    assert f"{tmp_path / 'b.txt.zst'}: unreadable (ZstdError" in caplog.text


def test_truncated_stream_keeps_what_was_read_and_counts_the_file(
    tmp_path: Path, ingest: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    lines = "".join(f'{{"text": "line {i}"}}\n' for i in range(20000)).encode()
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(lines)[:-100])
    with caplog.at_level(logging.WARNING):
        table, report = ingest([{"path": str(tmp_path / "a.jsonl.gz")}])
    kept = table.num_rows
    assert 0 < kept < 20000
    assert table.column("text")[kept - 1].as_py() == f"line {kept - 1}"
    assert report["total"]["unreadable_files"] == 1 and report["total"]["documents"] == kept
    assert f"kept the {kept} documents read before the error, skipped the rest" in caplog.text


def test_invalid_utf8_is_replaced_and_counted(
    tmp_path: Path, ingest: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a.txt").write_bytes(b"caf\xe9 au lait")
    (tmp_path / "b.jsonl").write_bytes(b'{"text": "na\xefve"}\n{"text": "fine"}\n')
    (tmp_path / "c.csv").write_bytes(b"text\nr\xe9sum\xe9\n")
    (tmp_path / "d.txt").write_text("clean \ufffd already")  # a real U+FFFD is not an error
    with caplog.at_level(logging.WARNING):
        table, report = ingest([{"path": str(tmp_path), "glob": "*"}])
    assert table.column("text").to_pylist() == [
        "caf\ufffd au lait",
        "na\ufffdve",
        "fine",
        "r\ufffdsum\ufffd",
        "clean \ufffd already",
    ]
    assert report["total"]["invalid_utf8_files"] == 3
    assert f"{tmp_path / 'a.txt'}: invalid UTF-8" in caplog.text


def test_empty_documents_are_counted(tmp_path: Path, ingest: Ingest) -> None:
    (tmp_path / "a.txt").write_text("")
    (tmp_path / "b.txt").write_text(" \n\t ")
    (tmp_path / "c.jsonl").write_text('{"text": ""}\n{"text": null}\n{"text": "kept"}\n')
    (tmp_path / "d.csv").write_text("")
    table, report = ingest([{"path": str(tmp_path), "glob": "*"}])
    assert table.column("text").to_pylist() == ["kept"]
    assert report["total"]["empty_documents"] == 4
    assert report["total"]["files"] == 4


def test_bom_and_lone_surrogates(tmp_path: Path, ingest: Ingest) -> None:
    (tmp_path / "a.txt").write_bytes("\ufeffhello".encode())
    (tmp_path / "b.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "x\\ud800y"}\n')
    table, _ = ingest([{"path": str(tmp_path), "glob": "*"}])
    assert table.column("text").to_pylist() == ["hello", "x\ufffd\ufffd\ufffdy"]


def test_one_nul_byte_skips_only_its_jsonl_line(
    tmp_path: Path, ingest: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    lines = [json.dumps({"text": f"line {i}"}) for i in range(50)]
    lines[25] = '{"text": "bad \x00 line"}'
    path = tmp_path / "a.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    (tmp_path / "b.txt").write_bytes(b"a text file " * 100 + b"\x00 with one stray NUL")
    with caplog.at_level(logging.WARNING):
        table, report = ingest([{"path": str(tmp_path), "glob": "*"}])
    texts = table.column("text").to_pylist()
    assert texts[:-1] == [f"line {i}" for i in range(50) if i != 25]
    assert texts[-1].endswith("\x00 with one stray NUL")  # cleaning drops control characters
    assert report["total"]["binary_files"] == 0
    assert report["total"]["malformed_jsonl_lines"] == 1
    assert f"{path}:26: skipped malformed JSONL line: holds a NUL byte" in caplog.text


def test_binary_is_told_by_the_share_of_control_bytes(
    tmp_path: Path, ingest: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a.txt").write_bytes(random.Random(0).randbytes(20_000))  # like an image or zip
    (tmp_path / "b.txt").write_bytes("Grüße, text with a few\ttabs and a bell\a\n".encode() * 50)
    with caplog.at_level(logging.WARNING):
        table, report = ingest([{"path": str(tmp_path), "glob": "*"}])
    assert table.column("source").to_pylist() == [str(tmp_path / "b.txt")]
    assert report["total"]["binary_files"] == 1
    assert f"{tmp_path / 'a.txt'}: binary file (" in caplog.text
    assert "over binary_control_ratio=0.05" in caplog.text
    table, report = ingest([{"path": str(tmp_path / "a.txt")}], binary_control_ratio=0.5)
    assert table.num_rows == 1 and report["total"]["invalid_utf8_files"] == 1
