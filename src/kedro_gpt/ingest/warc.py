"""Web archives, Common Crawl's formats, read with FastWARC (the resiliparse project's reader).

A WARC file gives its ``response`` records: the HTTP status must be one of ``warc_statuses`` and
the payload's MIME type one of ``warc_mime_types``; HTML payloads become ``format: html``
documents (cleaning extracts their text with the same extractor as any HTML file), plain-text
ones ``txt``. A WET file gives its ``conversion`` records (text Common Crawl already extracted).
Each document keeps the record's target URI as ``url`` and its WARC-Date as ``date``; its
position is the record's byte offset in the decompressed stream, so ids are stable.

Records skipped by the filters are counted by reason on the ``FileState``; a record over
``max_document_mb`` is skipped and counted like any oversize document. A corrupt or truncated
archive stops the file where it breaks: the documents before are kept and the report names the
last record read.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator

from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from kedro_gpt.ingest.config import SourceConfig
from kedro_gpt.ingest.inputs import CONTENT_TYPE_FORMATS, READ_ERRORS, OpenedInput
from kedro_gpt.ingest.readers import FileState, RawDocument

#: Formats read by this module (a ``.warc.gz`` or ``.warc.wet.gz`` file, or ``format:``).
ARCHIVE_FORMATS = ("warc", "wet")


def _charset(name: str | None) -> str | None:
    """A Python codec name for an HTTP charset, or None when Python does not know it."""
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip('"')).name
    except LookupError:
        return None


def _decode(payload: bytes, charset: str | None, state: FileState) -> str:
    """The payload as text: in its declared charset when that decodes cleanly, else as UTF-8."""
    codec = _charset(charset)
    if codec is not None and codec != "utf-8":
        try:
            return payload.decode(codec)
        except UnicodeDecodeError:
            pass
    return state.decode(payload)


def _response_format(record: WarcRecord, spec: SourceConfig, state: FileState) -> str | None:
    """``html`` / ``txt`` for a response record that passes the filters, None (counted) if not."""
    status = record.http_headers.status_code if record.is_http_parsed else None
    if status not in spec.warc_statuses:
        state.skip_record(f"http_status_{status}")
        return None
    mime = (record.http_content_type or "").split(";")[0].strip().lower()
    if mime not in spec.warc_mime_types:
        state.skip_record("mime_type")
        return None
    fmt = CONTENT_TYPE_FORMATS.get(mime, "txt")
    return fmt if fmt in ("html", "txt", "md") else "txt"


class _ForwardReader:
    """Our decompressed stream as FastWARC reads it: ``read`` and ``tell`` only (it cannot seek).

    A read error (a truncated gzip member, a corrupt block) is kept and reported as the end of
    the stream, so FastWARC stops cleanly (its Rust side would panic on a Python exception);
    ``read_archive`` raises it after the last whole record.
    """

    def __init__(self, stream: io.BufferedReader) -> None:
        self.stream = stream
        self.position = 0
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        if self.error is not None:
            return b""
        try:  # one underlying read at a time: the bytes before a break all arrive first
            data = self.stream.read1(size if size > 0 else 1 << 16)
        except READ_ERRORS as err:
            self.error = err
            return b""
        self.position += len(data)
        return data

    def tell(self) -> int:
        return self.position


def read_archive(
    opened: OpenedInput, spec: SourceConfig, state: FileState
) -> Iterator[RawDocument]:
    """The documents of one WARC (response records) or WET (conversion records) input."""
    wet = opened.format == "wet"
    limit = state.limits.max_document_bytes
    reader = _ForwardReader(opened.stream)
    records = ArchiveIterator(
        reader,
        record_types=WarcRecordType.conversion if wet else WarcRecordType.response,
        parse_http=not wet,
        auto_decode="all",  # undo chunked transfer and gzip/deflate/brotli content encodings
    )
    # A record is known whole once the next one's headers were read, or the archive ended
    # cleanly, or (after a break) its payload has every byte its length promised: each document
    # waits for that, so a record cut by a break is never kept.
    held: RawDocument | None = None
    held_whole = False
    last: int | None = None
    for record in records:
        if held is not None:
            yield held
            held = None
        state.record = last  # the last record known whole, for the message of a break
        last = record.stream_pos
        state.records += 1
        fmt = "txt" if wet else _response_format(record, spec, state)
        if fmt is None:
            continue
        expected = record.content_length  # the payload's length, HTTP headers parsed
        payload = record.reader.read(limit + 1)
        encoded = not wet and any(
            record.http_headers.get(h) for h in ("Transfer-Encoding", "Content-Encoding")
        )
        held_whole = not encoded and len(payload) >= expected
        if len(payload) > limit:
            state.skip_oversize("WARC record", record.stream_pos)
            continue
        charset = None if wet else record.http_charset
        held = RawDocument(
            position=record.stream_pos,
            text=_decode(payload, charset, state),
            url=record.headers.get("WARC-Target-URI") or None,
            format=fmt,
            date=record.headers.get("WARC-Date") or None,
        )
    if held is not None and (reader.error is None or held_whole):
        state.record = last
        yield held
    if reader.error is not None:
        raise reader.error
