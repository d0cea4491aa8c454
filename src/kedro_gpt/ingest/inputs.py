"""Open a file or an http(s) URL as one decompressed byte stream, counting the bytes read.

The stream stops with OversizeInput past ``max_file_mb`` decompressed bytes, so a small
compressed file that expands without end (a decompression bomb) costs a bounded read.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from kedro_gpt.ingest.download import open_download
from kedro_gpt.ingest.errors import IngestionError, OversizeInput, UnreadableInput
from kedro_gpt.ingest.limits import Limits
from kedro_gpt.ingest.sources import Input

#: How many leading (decompressed) bytes are sniffed to tell binary from text.
SNIFF_BYTES = 8192

#: Control bytes that text does not hold: C0 controls but BEL, BS, tab, LF, VT, FF, CR and ESC
#: (the set file(1) counts as text), and DEL.
CONTROL_BYTES = bytes([*range(0, 7), *range(14, 27), *range(28, 32), 127])
_TEXT_BYTES = bytes(b for b in range(256) if b not in CONTROL_BYTES)

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
READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, zstandard.ZstdError)


def control_share(head: bytes) -> float:
    """The share of ``head`` that is control bytes text does not hold (0.0 for no bytes)."""
    if not head:
        return 0.0
    return len(head.translate(None, _TEXT_BYTES)) / len(head)


class _CountingReader(io.RawIOBase):
    """Pass reads through to ``raw`` and count the bytes."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self.bytes_read += n or 0
        return n or 0


class _Capped(io.RawIOBase):
    """Pass up to ``limit`` bytes through from ``raw``; a read past them raises OversizeInput.

    Raising only when more is asked for (not when a read-ahead buffer fills) lets a reader keep
    every whole line or part that came before the cap.
    """

    def __init__(self, raw: BinaryIO, limit: int, message: str) -> None:
        self._raw = raw
        self._limit = limit
        self._message = message
        self._count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._count >= self._limit:
            if self._raw.read(1):
                raise OversizeInput(self._message)
            return 0
        view = memoryview(buffer)[: self._limit - self._count]
        # one underlying read (readinto1) where the stream has it: a decompressor then hands over
        # each gzip member's bytes before it meets a corrupt one (a full read would lose them)
        read = getattr(self._raw, "readinto1", None) or self._raw.readinto  # type: ignore[attr-defined]
        n = read(view) or 0
        self._count += n
        return n


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
    def bytes_read(self) -> int:
        """Bytes read so far from disk or network (before decompression)."""
        return self.counter.bytes_read


def check_sha256(path: Path, expected: str) -> None:
    """Raise UnreadableInput when the file's sha256 is not ``expected`` (lower-case hex)."""
    with path.open("rb") as f:
        actual = hashlib.file_digest(f, "sha256").hexdigest()
    if actual != expected:
        raise UnreadableInput(f"sha256 is {actual}, the source declares {expected}")


def _url_format(entry: Input, content_type: str) -> str:
    if entry.format is not None:
        return entry.format
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
def open_input(entry: Input, limits: Limits) -> Iterator[OpenedInput]:
    """Open ``entry`` (file or URL), decompress it within ``max_file_mb``, sniff its first bytes.

    A URL is downloaded whole first (see ``download``); one that cannot be fetched raises
    IngestionError. A declared sha256 is checked before anything is read. A corrupt, truncated
    or mismatched input raises one of ``READ_ERRORS``, which callers count against the file;
    OversizeInput (one of them) says a cap was reached.
    """
    with ExitStack() as stack:
        if entry.path is not None:
            if entry.spec.sha256 is not None:
                check_sha256(entry.path, entry.spec.sha256)
            raw: BinaryIO = stack.enter_context(open(entry.path, "rb"))
            fmt, url = entry.format, None
        else:
            with open_download(entry.source, limits) as download:
                fmt, url = _url_format(entry, download.content_type), download.final_url
                body = download.save(entry.spec.sha256)
            raw = stack.enter_context(body)  # type: ignore[arg-type]
        counter = _CountingReader(raw)
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
        what = "decompressed" if entry.compression != "none" else "read"
        capped = _Capped(
            decompressed,
            limits.max_file_bytes,
            f"over {limits.named('max_file_mb')} ({what} more than {limits.max_file_bytes} bytes)",
        )
        head = _read_head(capped)  # type: ignore[arg-type]
        stream = io.BufferedReader(_Prepended(head, capped), buffer_size=1 << 16)  # type: ignore[arg-type]
        yield OpenedInput(stream, head, fmt, url, counter)
