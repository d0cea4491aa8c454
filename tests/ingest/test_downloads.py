"""Downloads that misbehave, against a real HTTP server on loopback: short, slow, big, altered."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from kedro_gpt.ingest import IngestionError
from tests.ingest.conftest import Ingest, loopback_server

BODY = b"complete text over http, every byte of it\n"
BIG = b"x" * (2 << 20)  # 2 MiB
TRICKLE_GAP_S = 5.0  # one byte every 5 s, as the probe's server did


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.0: each response ends when the server closes the connection."""

    def do_GET(self) -> None:
        try:
            if self.path == "/short.txt":  # promises 100 bytes, sends 10, closes
                self._headers(100)
                self.wfile.write(b"0123456789")
            elif self.path == "/trickle.txt":
                self._headers(1000)
                self._trickle()
            elif self.path == "/trickle-headers.txt":
                self._trickle()
            elif self.path == "/big.txt":
                self._headers(len(BIG))
                self.wfile.write(BIG)
            elif self.path == "/big-unsized.txt":  # no Content-Length: size known only at the end
                self._headers(None)
                self.wfile.write(BIG)
            else:
                self._headers(len(BODY))
                self.wfile.write(BODY)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def _headers(self, length: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.flush()

    def _trickle(self) -> None:
        for _ in range(200):
            self.wfile.write(b"H")
            self.wfile.flush()
            time.sleep(TRICKLE_GAP_S)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with loopback_server(Handler) as url:
        yield url


def test_truncated_download_is_unreadable_not_a_document(
    base_url: str, ingest: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"{base_url}/short.txt"
    with caplog.at_level(logging.WARNING):
        table, report = ingest([{"url": url}, {"url": f"{base_url}/fine.txt"}])
    assert table.column("text").to_pylist() == [BODY.decode()]  # not "0123456789"
    stats = report["sources"][url]
    assert (stats["files"], stats["documents"], stats["unreadable_files"]) == (1, 0, 1)
    [skipped] = stats["skipped_files"]
    assert skipped["file"] == url
    assert "truncated: got 10 of 100 bytes" in skipped["reason"]
    assert f"{url}: unreadable" in caplog.text


def test_declared_sha256_is_checked(base_url: str, ingest: Ingest, tmp_path: Path) -> None:
    url = f"{base_url}/fine.txt"
    good = hashlib.sha256(BODY).hexdigest()
    table, report = ingest([{"url": url, "sha256": good.upper()}])
    assert table.column("text").to_pylist() == [BODY.decode()]

    table, report = ingest([{"url": url, "sha256": "0" * 64}])
    assert table.num_rows == 0 and report["total"]["unreadable_files"] == 1
    [skipped] = report["sources"][url]["skipped_files"]
    assert f"sha256 is {good}, the source declares {'0' * 64}" in skipped["reason"]

    local = tmp_path / "a.txt"
    local.write_bytes(BODY)
    table, report = ingest([{"path": str(local), "sha256": "f" * 64}])
    assert table.num_rows == 0 and report["total"]["unreadable_files"] == 1
    table, _ = ingest([{"path": str(local), "sha256": good}])
    assert table.num_rows == 1


def test_trickling_body_stops_at_the_deadline(base_url: str, ingest: Ingest) -> None:
    url = f"{base_url}/trickle.txt"
    started = time.monotonic()
    table, report = ingest([{"url": url}], url_deadline_s=0.5)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0  # not TRICKLE_GAP_S x 1000, nor even one gap
    assert table.num_rows == 0 and report["total"]["unreadable_files"] == 1
    [skipped] = report["sources"][url]["skipped_files"]
    assert "not complete within url_deadline_s=0.5" in skipped["reason"]


def test_trickling_headers_fail_the_fetch_at_the_deadline(base_url: str, ingest: Ingest) -> None:
    url = f"{base_url}/trickle-headers.txt"
    started = time.monotonic()
    with pytest.raises(IngestionError, match=rf"could not fetch {url}: .*url_deadline_s=0\.5"):
        ingest([{"url": url}], url_deadline_s=0.5)
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("path", ["/big.txt", "/big-unsized.txt"])
def test_download_over_the_size_cap_is_skipped(base_url: str, ingest: Ingest, path: str) -> None:
    url = f"{base_url}{path}"
    table, report = ingest([{"url": url}], url_max_mb=1)
    assert table.num_rows == 0
    stats = report["sources"][url]
    assert (stats["oversize_files"], stats["unreadable_files"]) == (1, 0)
    [skipped] = stats["skipped_files"]
    assert "over url_max_mb=1" in skipped["reason"]
    table, _ = ingest([{"url": url}], url_max_mb=3)
    assert table.column("text").to_pylist() == [BIG.decode()]
