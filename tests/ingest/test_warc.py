"""Web archives: WARC response records and WET conversion records, written here byte by byte
in the WARC/1.0 format (one gzip member per record, as Common Crawl writes them)."""

from __future__ import annotations

import gzip
import logging

from kedro_gpt.text.config import CleaningConfig
from kedro_gpt.text.prepare import DocumentPass
from tests.ingest.conftest import Ingest

PAGE = (
    "<html><head><title>Cats</title></head><body><nav>menu</nav>"
    "<article><p>Cats are small carnivorous mammals that people keep as pets.</p>"
    "<p>They sleep for most of the day and hunt at night.</p></article></body></html>"
)


def _record(warc_type: str, uri: str, date: str, block: bytes, content_type: str) -> bytes:
    head = (
        "WARC/1.0\r\n"
        f"WARC-Type: {warc_type}\r\n"
        f"WARC-Target-URI: {uri}\r\n"
        f"WARC-Date: {date}\r\n"
        f"WARC-Record-ID: <urn:uuid:{abs(hash((uri, warc_type))):032x}>\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(block)}\r\n\r\n"
    )
    return head.encode() + block + b"\r\n\r\n"


def _response(uri: str, body: str, status: str = "200 OK", mime: str = "text/html") -> bytes:
    http = (
        f"HTTP/1.1 {status}\r\nContent-Type: {mime}; charset=utf-8\r\n"
        f"Content-Length: {len(body.encode())}\r\n\r\n"
    ).encode() + body.encode()
    return _record(
        "response", uri, "2024-03-01T12:00:00Z", http, "application/http; msgtype=response"
    )


def _warc(records: list[bytes]) -> bytes:
    info = _record(
        "warcinfo", "", "2024-03-01T11:59:59Z", b"software: test\r\n", "application/warc-fields"
    )
    return b"".join(gzip.compress(r) for r in [info, *records])


def test_warc_keeps_ok_html_responses_with_url_and_date(tmp_path, ingest: Ingest):
    path = tmp_path / "CC-MAIN-test-00000.warc.gz"
    request = _record(
        "request",
        "https://a.example/cats",
        "2024-03-01T12:00:00Z",
        b"GET /cats HTTP/1.1\r\n\r\n",
        "application/http; msgtype=request",
    )
    path.write_bytes(
        _warc(
            [
                request,
                _response("https://a.example/cats", PAGE),
                _response("https://a.example/gone", "<p>gone</p>", status="404 Not Found"),
                _response("https://a.example/logo.png", "\x89PNG....", mime="image/png"),
                _response("https://a.example/notes.txt", "Plain notes on cats.", mime="text/plain"),
            ]
        )
    )
    table, report = ingest([{"path": str(path)}])
    rows = table.to_pylist()
    assert [r["url"] for r in rows] == ["https://a.example/cats", "https://a.example/notes.txt"]
    assert [r["format"] for r in rows] == ["html", "txt"]
    assert {r["date"] for r in rows} == {"2024-03-01T12:00:00Z"}
    assert rows[0]["title"] is None and rows[0]["text"] == PAGE  # cleaning extracts it
    total = report["total"]
    assert (total["documents"], total["archive_records"], total["filtered_records"]) == (2, 4, 2)
    assert report["sources"][str(path)]["filtered_by"] == {"http_status_404": 1, "mime_type": 1}
    text, title = DocumentPass(CleaningConfig()).extract(rows[0]["text"], rows[0]["format"])
    assert "small carnivorous mammals" in text and "menu" not in text and title == "Cats"


def test_ids_are_stable_and_statuses_and_types_are_parameters(tmp_path, ingest: Ingest):
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(
        _warc(
            [
                _response("https://b.example/1", PAGE),
                _response("https://b.example/2", "<p>moved</p>", status="301 Moved"),
            ]
        )
    )
    first, _ = ingest([{"path": str(path)}])
    again, _ = ingest([{"path": str(path)}])
    assert first.column("id").to_pylist() == again.column("id").to_pylist()
    both, _ = ingest([{"path": str(path), "warc_statuses": [200, 301]}])
    assert both.column("url").to_pylist() == ["https://b.example/1", "https://b.example/2"]


def test_wet_gives_the_converted_text(tmp_path, ingest: Ingest):
    path = tmp_path / "CC-MAIN-test-00000.warc.wet.gz"
    text = "Cats are small carnivorous mammals.\nThey sleep a lot."
    conversion = _record(
        "conversion", "https://a.example/cats", "2024-03-01T12:00:00Z", text.encode(), "text/plain"
    )
    path.write_bytes(_warc([conversion]))
    table, _ = ingest([{"path": str(path)}])
    rows = table.to_pylist()
    assert [(r["format"], r["url"], r["text"]) for r in rows] == [
        ("txt", "https://a.example/cats", text)
    ]


def test_a_truncated_member_mid_file_names_the_record_and_keeps_the_ones_before(
    tmp_path, ingest: Ingest, caplog
):
    # pages of ~40 KB, so the break comes after the reader's first buffers, as in a real crawl
    filler = "".join(f"<p>Paragraph {k}: cats {k * 7919 % 104729} sleep.</p>" for k in range(1200))
    page = PAGE.replace("</article>", filler + "</article>")
    members = [gzip.compress(_response(f"https://c.example/{i}", page)) for i in range(4)]
    members[2] = members[2][: len(members[2]) // 2]  # cut in the middle of the third record
    path = tmp_path / "broken.warc.gz"
    path.write_bytes(b"".join(members))
    with caplog.at_level(logging.WARNING):
        table, report = ingest([{"path": str(path)}])
    assert table.column("url").to_pylist() == ["https://c.example/0", "https://c.example/1"]
    skipped = report["sources"][str(path)]["skipped_files"]
    assert len(skipped) == 1 and skipped[0]["reason"].startswith("unreadable after the record at")
    assert report["total"]["unreadable_files"] == 1
    assert "broken.warc.gz: unreadable after the record at byte" in caplog.text
