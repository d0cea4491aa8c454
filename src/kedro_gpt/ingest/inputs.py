"""Open a file or an http(s) URL as one decompressed byte stream, counting the bytes read."""

from __future__ import annotations

import gzip
import http.client
import io
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import BinaryIO
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import zstandard

from kedro_gpt import __version__
from kedro_gpt.ingest.errors import IngestionError
from kedro_gpt.ingest.sources import Input

#: How many leading (decompressed) bytes are sniffed for NUL bytes to tell binary from text.
SNIFF_BYTES = 8192

#: Content-Type -> format, for a URL whose path has no known extension.
CONTENT_TYPE_FORMATS = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "txt",
    "text/markdown": "md",
    "application/jsonl": "jsonl",
    "application/x-ndjson": "jsonl",
    "application/x-jsonlines": "jsonl",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
}

#: Errors that mean a file's bytes are unreadable or corrupt (skipped and counted, not fatal).
READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zstandard.ZstdError)


class _CountingReader(io.RawIOBase):
    """Pass reads through to ``raw`` and count the bytes; a URL's read errors name the URL."""

    def __init__(self, raw: BinaryIO, url: str | None = None) -> None:
        self._raw = raw
        self._url = url
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        try:
            n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        except (OSError, http.client.HTTPException) as err:
            if self._url is None:
                raise
            raise IngestionError(f"could not fetch {self._url}: {err}") from err
        self.bytes_read += n or 0
        return n or 0


class _Prepended(io.RawIOBase):
    """``head`` followed by the rest of ``rest``: lets us sniff a stream that cannot seek."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._rest.readinto(buffer)  # type: ignore[attr-defined]


@dataclass
class OpenedInput:
    """A readable input: ``stream`` is decompressed and starts at byte 0; ``head`` its first bytes."""

    stream: io.BufferedReader
    head: bytes
    format: str
    url: str | None
    counter: _CountingReader

    @property
    def is_binary(self) -> bool:
        """True when the first bytes hold a NUL byte, which text in UTF-8 never has."""
        return b"\0" in self.head

    @property
    def bytes_read(self) -> int:
        """Bytes read so far from disk or network (before decompression)."""
        return self.counter.bytes_read


def fetch_url(url: str, timeout_s: float) -> io.BufferedIOBase:
    """GET ``url``; any failure raises IngestionError naming the URL."""
    request = Request(url, headers={"User-Agent": f"kedro-gpt/{__version__}"})
    try:
        return urlopen(request, timeout=timeout_s)  # the scheme is checked in config
    except HTTPError as err:
        raise IngestionError(f"could not fetch {url}: HTTP {err.code} {err.reason}") from err
    except URLError as err:
        raise IngestionError(f"could not fetch {url}: {err.reason}") from err
    except (OSError, ValueError) as err:
        raise IngestionError(f"could not fetch {url}: {err}") from err


def _url_format(entry: Input, response: io.BufferedIOBase) -> str:
    if entry.format is not None:
        return entry.format
    content_type = response.headers.get_content_type()  # type: ignore[attr-defined]
    fmt = CONTENT_TYPE_FORMATS.get(content_type)
    if fmt is None:
        raise IngestionError(
            f"{entry.source}: cannot tell the format from the URL or its Content-Type "
            f"{content_type!r}; set 'format' on this source"
        )
    return fmt


def _read_head(stream: BinaryIO) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < SNIFF_BYTES:
        chunk = stream.read(SNIFF_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


@contextmanager
def open_input(entry: Input, timeout_s: float) -> Iterator[OpenedInput]:
    """Open ``entry`` (file or URL), decompress it, and sniff its first bytes.

    A URL that cannot be fetched raises IngestionError; a corrupt file raises one of
    ``READ_ERRORS``, which callers count as an unreadable file.
    """
    with ExitStack() as stack:
        if entry.path is not None:
            raw: BinaryIO = stack.enter_context(open(entry.path, "rb"))
            fmt, url = entry.format, None
        else:
            response = stack.enter_context(fetch_url(entry.source, timeout_s))
            fmt, url = _url_format(entry, response), response.url  # type: ignore[attr-defined]
            raw = response  # type: ignore[assignment]
        assert fmt is not None
        counter = _CountingReader(raw, url=entry.source if entry.path is None else None)
        counted = io.BufferedReader(counter, buffer_size=1 << 16)
        decompressed: BinaryIO
        if entry.compression == "gzip":
            decompressed = stack.enter_context(gzip.GzipFile(fileobj=counted, mode="rb"))
        elif entry.compression == "zstd":
            decompressed = stack.enter_context(
                zstandard.ZstdDecompressor().stream_reader(counted, read_across_frames=True)
            )
        else:
            decompressed = counted  # type: ignore[assignment]
        head = _read_head(decompressed)
        stream = io.BufferedReader(_Prepended(head, decompressed), buffer_size=1 << 16)
        yield OpenedInput(stream, head, fmt, url, counter)
