"""Readers per format: each turns one opened input into raw documents, streaming where it can.

A .txt/.md/.html input is one document (or, with ``document_per``, one per line or per block of
lines between blank lines); every JSONL line and CSV/Parquet row is one document.
Bytes that are not valid UTF-8 are decoded with replacement and flagged on the ``FileState``;
malformed JSONL lines and CSV rows are skipped, counted and logged as ``file:line``.

No document holds more than ``max_document_mb``: a longer .txt/.md file is split into parts at
line breaks, read part by part; a longer HTML page, JSONL line or CSV/Parquet cell is skipped
(counted, logged). A JSONL line is read at most ``max_document_mb`` at a time.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from selectolax.lexbor import LexborHTMLParser

from kedro_gpt.ingest.config import SourceConfig
from kedro_gpt.ingest.errors import IngestionError
from kedro_gpt.ingest.inputs import OpenedInput
from kedro_gpt.ingest.limits import Limits
from kedro_gpt.ingest.sources import Input

logger = logging.getLogger(__name__)

#: Warnings logged per file for malformed lines before they are only counted.
MAX_LINE_WARNINGS = 20
#: Rows per Arrow batch when reading CSV and Parquet.
READ_BATCH_ROWS = 1024
#: CSV block size: one record (one text cell) must fit in a block.
CSV_BLOCK_BYTES = 16 << 20


@dataclass
class RawDocument:
    """A document before it gets its id: where it sits in its input, its text, title and url;
    ``format`` when it differs from its input's (an HTML page in a WARC file), ``date`` (ISO 8601)
    when the input says when it was fetched."""

    position: int
    text: str
    title: str | None = None
    url: str | None = None
    format: str | None = None
    date: str | None = None


@dataclass
class FileState:
    """What reading one input found besides documents, and the caps it is read under."""

    source: str
    limits: Limits
    format: str | None = None
    invalid_utf8: bool = False
    malformed_jsonl_lines: int = 0
    malformed_csv_rows: int = 0
    oversize_documents: int = 0
    split: bool = False
    records: int = 0
    record: int | None = None
    filtered_records: dict[str, int] = field(default_factory=dict)

    def skip_record(self, reason: str) -> None:
        """Count a web-archive record left out by a filter (``reason``: e.g. ``mime_type``)."""
        self.filtered_records[reason] = self.filtered_records.get(reason, 0) + 1

    def decode(self, data: bytes | bytearray | memoryview) -> str:
        """UTF-8 text of ``data``; invalid bytes become U+FFFD and flag the file."""
        try:
            return str(data, "utf-8")
        except UnicodeDecodeError:
            self.invalid_utf8 = True
            return str(data, "utf-8", "replace")

    def skip_line(self, kind: str, number: int | None, why: str) -> None:
        """Count a malformed JSONL line (``kind="jsonl"``) or CSV row, and log where it was."""
        if kind == "jsonl":
            self.malformed_jsonl_lines += 1
            count = self.malformed_jsonl_lines
        else:
            self.malformed_csv_rows += 1
            count = self.malformed_csv_rows
        where = f"{self.source}:{number}" if number is not None else self.source
        if count <= MAX_LINE_WARNINGS:
            logger.warning("%s: skipped malformed %s %s: %s", where, kind.upper(), _unit(kind), why)
        elif count == MAX_LINE_WARNINGS + 1:
            logger.warning(
                "%s: more malformed %s %ss; counting only", self.source, kind, _unit(kind)
            )

    def skip_oversize(self, what: str, position: int | None) -> None:
        """Count a document (``what``: "document", "JSONL line") over ``max_document_mb``."""
        self.oversize_documents += 1
        count = self.oversize_documents
        where = f"{self.source}:{position}" if position is not None else self.source
        if count <= MAX_LINE_WARNINGS:
            logger.warning(
                "%s: skipped %s over %s", where, what, self.limits.named("max_document_mb")
            )
        elif count == MAX_LINE_WARNINGS + 1:
            logger.warning("%s: more documents over max_document_mb; counting only", self.source)


def _unit(kind: str) -> str:
    return "line" if kind == "jsonl" else "row"


def html_title(html: str) -> str | None:
    """The ``<title>`` of an HTML page with its whitespace collapsed, or None."""
    node = LexborHTMLParser(html).css_first("title")
    title = " ".join(node.text().split()) if node is not None else ""
    return title or None


def _char_boundary(data: bytearray, cut: int) -> int:
    """``cut`` moved back to the start of the UTF-8 character it falls in (``cut`` if none)."""
    start = cut
    while start > 0 and cut - start < 4 and data[start] & 0xC0 == 0x80:
        start -= 1
    return start if start > 0 and data[start] & 0xC0 != 0x80 else cut


def _parts(
    buffer: bytearray, stream: io.BufferedReader, limit: int, decode: Callable[[Any], str]
) -> Iterator[str]:
    """``buffer`` and the rest of ``stream``, decoded in parts of at most ``limit`` bytes.

    Each part ends at its last line break, or between two UTF-8 characters when its second half
    has none. At most ``limit`` + 1 bytes are held besides the part being decoded.
    """
    while True:
        if len(buffer) <= limit:
            more = stream.read(limit + 1 - len(buffer))
            if not more:
                if buffer:
                    yield decode(buffer)
                return
            buffer += more
            del more
            continue
        cut = buffer.rfind(b"\n", 0, limit) + 1
        if cut <= limit // 2:  # no line break in the second half: cut between characters
            cut = _char_boundary(buffer, limit)
        with memoryview(buffer) as view, view[:cut] as head:
            text = decode(head)
        del buffer[:cut]
        yield text


def read_whole(opened: OpenedInput, state: FileState) -> Iterator[RawDocument]:
    """A .txt, .md or .html input as one document (HTML keeps its markup; title from <title>).

    Over ``max_document_mb``, a .txt/.md input becomes several documents (positions 0, 1, ...)
    and an HTML page, which a cut would break, is skipped.
    """
    limit = state.limits.max_document_bytes
    first = opened.stream.read(limit + 1)
    if len(first) <= limit:
        text = state.decode(first).removeprefix("\ufeff")
        title = html_title(text) if opened.format == "html" else None
        yield RawDocument(0, text, title, opened.url)
        return
    if opened.format == "html":
        state.skip_oversize("document", None)
        return
    state.split = True
    buffer = bytearray(first)
    del first
    for position, text in enumerate(_parts(buffer, opened.stream, limit, state.decode)):
        yield RawDocument(
            position, text.removeprefix("\ufeff") if position == 0 else text, None, opened.url
        )


def read_delimited(opened: OpenedInput, per: str, state: FileState) -> Iterator[RawDocument]:
    """A .txt/.md input as one document per non-empty line (``per="line"``) or per block of
    lines between blank lines (``"blank_line"``), read line by line.

    A line over ``max_document_mb`` is skipped (counted, logged); a block that grows over it is
    cut at a line break and goes on as the next document.
    """
    limit = state.limits.max_document_bytes
    block: list[bytes] = []
    size = position = 0
    number = 0

    def flush() -> Iterator[RawDocument]:
        nonlocal block, size, position
        text = state.decode(b"".join(block)).removeprefix("\ufeff").strip("\r\n")
        block, size = [], 0
        if text.strip():
            yield RawDocument(position, text, None, opened.url)
            position += 1

    while line := opened.stream.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            state.skip_oversize("line", number)
            while (rest := opened.stream.readline(limit + 1)) and not rest.endswith(b"\n"):
                pass  # the rest of the oversize line, never held whole
            continue
        if per == "line" or not line.strip():
            yield from flush()
            if per == "line":
                block, size = [line], len(line)
                yield from flush()
            continue
        if size + len(line) > limit:
            state.split = True
            yield from flush()
        block.append(line)
        size += len(line)
    yield from flush()


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def read_jsonl(opened: OpenedInput, spec: SourceConfig, state: FileState) -> Iterator[RawDocument]:
    """One document per JSONL line; position is the 1-based line number. Blank lines are ignored.

    A line over ``max_document_mb`` is skipped without being held whole; a line holding a NUL
    byte is skipped as malformed.
    """
    limit = state.limits.max_document_bytes
    number = 0
    while raw := opened.stream.readline(limit + 1):
        number += 1
        if len(raw) > limit and not (len(raw) == limit + 1 and raw.endswith(b"\n")):
            while raw and not raw.endswith(b"\n"):  # drain the rest of the line
                raw = opened.stream.readline(limit + 1)
            state.skip_oversize("JSONL line", number)
            continue
        if b"\0" in raw:
            state.skip_line("jsonl", number, "holds a NUL byte")
            continue
        line = state.decode(raw)
        if number == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            state.skip_line("jsonl", number, f"not JSON ({err.msg} at column {err.colno})")
            continue
        if not isinstance(record, dict):
            state.skip_line("jsonl", number, f"not a JSON object but {type(record).__name__}")
            continue
        if spec.text_field not in record:
            state.skip_line("jsonl", number, f"no {spec.text_field!r} field")
            continue
        text = record[spec.text_field]
        if text is not None and not isinstance(text, str):
            state.skip_line("jsonl", number, f"field {spec.text_field!r} is not a string")
            continue
        title = _optional_str(record.get(spec.title_field)) if spec.title_field else None
        url = _optional_str(record.get(spec.url_field)) if spec.url_field else opened.url
        yield RawDocument(number, text or "", title, url)


def _wanted_columns(spec: SourceConfig) -> dict[str, str]:
    """Parameter name -> column name, for the columns a record source reads."""
    wanted = {"text_field": spec.text_field}
    if spec.title_field:
        wanted["title_field"] = spec.title_field
    if spec.url_field:
        wanted["url_field"] = spec.url_field
    return wanted


def _missing_column_error(
    source: str, spec: SourceConfig, missing: list[str], columns: list[str] | None
) -> IngestionError:
    keys = {column: key for key, column in _wanted_columns(spec).items()}
    named = ", ".join(f"{c!r} ({keys.get(c, 'column')} of source {spec.label!r})" for c in missing)
    has = f"; its columns are: {', '.join(columns)}" if columns is not None else ""
    return IngestionError(f"{source}: no column {named}{has}")


def _column_strings(
    array: pa.Array | pa.ChunkedArray, state: FileState, column: str
) -> list[str | None]:
    """A text column as Python strings; binary is decoded as UTF-8 with replacement."""
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array.to_pylist()
    if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
        try:
            return pc.cast(array, pa.large_string()).to_pylist()
        except pa.ArrowInvalid:
            return [None if v is None else state.decode(v) for v in array.to_pylist()]
    if pa.types.is_null(array.type):
        return [None] * len(array)
    try:
        return pc.cast(array, pa.large_string()).to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise IngestionError(
            f"{state.source}: column {column!r} holds {array.type}, not text"
        ) from err


def _rows(
    batches: Iterator[pa.RecordBatch],
    spec: SourceConfig,
    state: FileState,
    default_url: str | None,
) -> Iterator[RawDocument]:
    position = 0
    for batch in batches:
        texts = _column_strings(batch.column(spec.text_field), state, spec.text_field)
        n = len(texts)
        titles = (
            _column_strings(batch.column(spec.title_field), state, spec.title_field)
            if spec.title_field
            else [None] * n
        )
        urls = (
            _column_strings(batch.column(spec.url_field), state, spec.url_field)
            if spec.url_field
            else [default_url] * n
        )
        limit = state.limits.max_document_bytes
        for text, title, url in zip(texts, titles, urls, strict=True):
            if text and len(text) * 4 > limit and len(text.encode("utf-8", "replace")) > limit:
                state.skip_oversize("document", position)
            else:
                yield RawDocument(position, text or "", title, url)
            position += 1


def _csv_header(head: bytes) -> list[str] | None:
    """Best effort: the header row from the first bytes of a CSV (None if it is not all there)."""
    if b"\n" not in head:
        return None
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").removeprefix("\ufeff")
    return next(csv.reader([first]), None)


def read_csv(opened: OpenedInput, spec: SourceConfig, state: FileState) -> Iterator[RawDocument]:
    """One document per CSV row (header required); position is the 0-based row index."""
    if not opened.head.strip():
        logger.warning("%s: empty CSV file, no documents", state.source)
        return
    wanted = list(_wanted_columns(spec).values())

    def on_invalid_row(row: pa_csv.InvalidRow) -> str:
        state.skip_line(
            "csv", row.number, f"{row.actual_columns} fields, expected {row.expected_columns}"
        )
        return "skip"

    try:
        reader = pa_csv.open_csv(
            opened.stream,
            read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=on_invalid_row
            ),
            convert_options=pa_csv.ConvertOptions(
                include_columns=wanted,
                column_types=dict.fromkeys(wanted, pa.binary()),
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowKeyError as err:
        header = _csv_header(opened.head)
        missing = [c for c in wanted if c not in header] if header is not None else []
        if not missing:
            raise IngestionError(f"{state.source}: {err}") from err
        raise _missing_column_error(state.source, spec, missing, header) from err
    yield from _rows(iter(reader), spec, state, opened.url)


def read_parquet(
    parquet: pq.ParquetFile, spec: SourceConfig, state: FileState, url: str | None
) -> Iterator[RawDocument]:
    """One document per Parquet row, read batch by batch; position is the 0-based row index."""
    wanted = list(_wanted_columns(spec).values())
    columns = parquet.schema_arrow.names
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise _missing_column_error(state.source, spec, missing, columns)
    batches = parquet.iter_batches(batch_size=READ_BATCH_ROWS, columns=wanted)
    yield from _rows(batches, spec, state, url)


def spool(opened: OpenedInput) -> io.BufferedRandom:
    """Copy a stream (compressed file or URL) into an anonymous temporary file Parquet can seek."""
    tmp = tempfile.TemporaryFile()  # the caller closes it
    shutil.copyfileobj(opened.stream, tmp, length=1 << 20)
    tmp.seek(0)
    return tmp


def is_seekable_parquet(entry: Input) -> bool:
    """A local, uncompressed Parquet file: read in place rather than through a stream."""
    return entry.format == "parquet" and entry.path is not None and entry.compression == "none"
