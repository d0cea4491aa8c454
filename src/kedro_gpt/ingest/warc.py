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
from collections.abc import Iterator

from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from kedro_gpt.ingest.config import SourceConfig
from kedro_gpt.ingest.inputs import CONTENT_TYPE_FORMATS, OpenedInput
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


def read_archive(
    opened: OpenedInput, spec: SourceConfig, state: FileState
) -> Iterator[RawDocument]:
    """The documents of one WARC (response records) or WET (conversion records) input."""
    wet = opened.format == "wet"
    limit = state.limits.max_document_bytes
    records = ArchiveIterator(
        opened.stream,
        record_types=WarcRecordType.conversion if wet else WarcRecordType.response,
        parse_http=not wet,
        auto_decode="all",  # undo chunked transfer and gzip/deflate/brotli content encodings
    )
    for record in records:
        state.record = record.stream_pos
        state.records += 1
        fmt = "txt" if wet else _response_format(record, spec, state)
        if fmt is None:
            continue
        payload = record.reader.read(limit + 1)
        if len(payload) > limit:
            state.skip_oversize("WARC record", record.stream_pos)
            continue
        charset = None if wet else record.http_charset
        yield RawDocument(
            position=record.stream_pos,
            text=_decode(payload, charset, state),
            url=record.headers.get("WARC-Target-URI") or None,
            format=fmt,
            date=record.headers.get("WARC-Date") or None,
        )
