"""URL sources against a real HTTP server on loopback, started by the tests."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from kedro_gpt.ingest import IngestionError
from tests.ingest.conftest import Ingest, loopback_server

PAGE = b"<html><head><title>Loopback page</title></head><body><p>Served locally.</p></body></html>"
ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/docs/page.html": (200, "text/html; charset=utf-8", PAGE),
    "/plain.txt": (200, "text/plain", b"plain text over http\n"),
    "/article": (200, "text/html", PAGE),
    "/lines.jsonl.gz": (200, "application/gzip", gzip.compress(b'{"text":"a"}\n{"text":"b"}\n')),
    "/blob": (200, "application/octet-stream", b"???"),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow.txt":
            time.sleep(0.6)
        status, content_type, body = ROUTES.get(self.path, (404, "text/plain", b"not found"))
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with loopback_server(Handler) as url:
        yield url


def test_html_and_txt_urls(base_url: str, ingest: Ingest) -> None:
    page, plain = f"{base_url}/docs/page.html", f"{base_url}/plain.txt"
    table, report = ingest([{"url": page}, {"url": plain}])
    first, second = table.to_pylist()
    assert (first["source"], first["url"], first["format"]) == (page, page, "html")
    assert (first["title"], first["text"]) == ("Loopback page", PAGE.decode())
    assert (second["source"], second["format"], second["text"]) == (
        plain,
        "txt",
        "plain text over http\n",
    )
    assert report["sources"][page]["bytes"] == len(PAGE)
    assert report["total"]["files"] == 2


def test_format_from_content_type_and_compressed_stream(base_url: str, ingest: Ingest) -> None:
    table, _ = ingest([{"url": f"{base_url}/article"}, {"url": f"{base_url}/lines.jsonl.gz"}])
    assert table.column("format").to_pylist() == ["html", "jsonl", "jsonl"]
    assert table.column("text").to_pylist()[1:] == ["a", "b"]
    assert table.column("url").to_pylist()[1:] == [f"{base_url}/lines.jsonl.gz"] * 2


def test_unknown_content_type_asks_for_a_format(base_url: str, ingest: Ingest) -> None:
    with pytest.raises(
        IngestionError,
        match=rf"{base_url}/blob: cannot tell the format.*'application/octet-stream'",
    ):
        ingest([{"url": f"{base_url}/blob"}])
    table, _ = ingest([{"url": f"{base_url}/blob", "format": "txt"}])
    assert table.column("text").to_pylist() == ["???"]


def test_http_error_names_the_url(base_url: str, ingest: Ingest) -> None:
    with pytest.raises(
        IngestionError, match=rf"could not fetch {base_url}/missing\.html: HTTP 404"
    ):
        ingest([{"url": f"{base_url}/missing.html"}])


def test_refused_connection_names_the_url(ingest: Ingest) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(
        IngestionError, match=rf"could not fetch http://127\.0\.0\.1:{port}/a\.txt: .*refused"
    ):
        ingest([{"url": f"http://127.0.0.1:{port}/a.txt"}])


def test_timeout_names_the_url(base_url: str, ingest: Ingest) -> None:
    started = time.monotonic()
    with pytest.raises(IngestionError, match=rf"could not fetch {base_url}/slow\.txt: .*timed out"):
        ingest([{"url": f"{base_url}/slow.txt"}], url_timeout_s=0.1)
    assert time.monotonic() - started < 0.5
