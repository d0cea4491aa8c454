"""Sources in, a stream of document batches (DOCUMENT_SCHEMA) and a report out."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kedro_gpt.ingest.config import IngestionConfig
from kedro_gpt.ingest.errors import OversizeInput
from kedro_gpt.ingest.inputs import (
    READ_ERRORS,
    OpenedInput,
    check_sha256,
    control_share,
    open_input,
)
from kedro_gpt.ingest.limits import Limits
from kedro_gpt.ingest.readers import (
    FileState,
    RawDocument,
    is_seekable_parquet,
    read_csv,
    read_delimited,
    read_jsonl,
    read_parquet,
    read_whole,
    spool,
)
from kedro_gpt.ingest.report import SourceStats, build_report
from kedro_gpt.ingest.schema import DOCUMENT_SCHEMA, document_id
from kedro_gpt.ingest.sources import Input, ResolvedSource, resolve_sources
from kedro_gpt.ingest.warc import ARCHIVE_FORMATS, read_archive

logger = logging.getLogger(__name__)

#: Errors that make a file unreadable: I/O, decompression, a corrupt Parquet or CSV structure.
UNREADABLE = (*READ_ERRORS, pa.ArrowInvalid)


def _safe_strings(values: list[str | None]) -> pa.Array:
    """A string array; text with lone surrogates (from JSON escapes) gets them replaced."""
    try:
        return pa.array(values, pa.string())
    except UnicodeEncodeError:
        return pa.array(
            [
                None if v is None else v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                for v in values
            ],
            pa.string(),
        )


class DocumentBatcher:
    """Collect documents into RecordBatches of at most ``max_docs`` rows or ~``max_chars`` text."""

    def __init__(self, max_docs: int, max_chars: int) -> None:
        self.max_docs = max_docs
        self.max_chars = max_chars
        self.batches = 0
        self._columns: dict[str, list[str | None]] = {n: [] for n in DOCUMENT_SCHEMA.names}
        self._chars = 0

    def add(self, row: dict[str, str | None]) -> pa.RecordBatch | None:
        """Add one row; returns a full batch when this row fills one."""
        for name, values in self._columns.items():
            values.append(row.get(name))  # a nullable column (date) may be absent
        self._chars += len(row["text"] or "")
        if len(self._columns["id"]) >= self.max_docs or self._chars >= self.max_chars:
            return self.flush()
        return None

    def flush(self) -> pa.RecordBatch | None:
        """The pending rows as a batch, or None when there are none."""
        if not self._columns["id"]:
            return None
        arrays = [_safe_strings(self._columns[n]) for n in DOCUMENT_SCHEMA.names]
        batch = pa.RecordBatch.from_arrays(arrays, schema=DOCUMENT_SCHEMA)
        self._columns = {n: [] for n in DOCUMENT_SCHEMA.names}
        self._chars = 0
        self.batches += 1
        return batch


def _kept(read: int, before: str) -> str:
    return f"kept the {read} documents read before {before}, " if read else ""


def _skipped_as_binary(
    entry: Input, opened: OpenedInput, limits: Limits, stats: SourceStats
) -> bool:
    """Count and log an input whose first bytes are mostly control bytes (not Parquet or a web
    archive, which are binary by design)."""
    if opened.format == "parquet" or opened.format in ARCHIVE_FORMATS:
        return False
    share = control_share(opened.head)
    if share <= limits.binary_control_ratio:
        return False
    logger.warning(
        "%s: binary file (%.0f%% control bytes in its first %d bytes, over %s); skipped",
        entry.source,
        share * 100,
        len(opened.head),
        limits.named("binary_control_ratio"),
    )
    stats.binary_files += 1
    stats.skip_file(entry.source, "binary")
    return True


def _by_format(opened: OpenedInput, entry: Input, state: FileState) -> Iterator[RawDocument]:
    """The reader for the opened input's format."""
    if opened.format == "parquet":
        with spool(opened) as tmp:
            yield from read_parquet(
                pq.ParquetFile(tmp, pre_buffer=False), entry.spec, state, opened.url
            )
    elif opened.format in ARCHIVE_FORMATS:
        yield from read_archive(opened, entry.spec, state)
    elif opened.format == "jsonl":
        yield from read_jsonl(opened, entry.spec, state)
    elif opened.format == "csv":
        yield from read_csv(opened, entry.spec, state)
    elif entry.spec.document_per != "file" and opened.format in ("txt", "md"):
        yield from read_delimited(opened, entry.spec.document_per, state)
    else:
        yield from read_whole(opened, state)


def _read_input(
    entry: Input, limits: Limits, stats: SourceStats, state: FileState
) -> Iterator[RawDocument]:
    """One input's documents: a local Parquet file in place, anything else opened (downloaded,
    decompressed, capped), checked for binary content and read by its format."""
    if is_seekable_parquet(entry):
        assert entry.path is not None
        if entry.spec.sha256 is not None:
            check_sha256(entry.path, entry.spec.sha256)
        stats.bytes += entry.path.stat().st_size
        yield from read_parquet(
            pq.ParquetFile(entry.path, pre_buffer=False), entry.spec, state, None
        )
        return
    with open_input(entry, limits) as opened:
        state.format = opened.format
        try:
            if not _skipped_as_binary(entry, opened, limits, stats):
                yield from _by_format(opened, entry, state)
        finally:
            stats.bytes += opened.bytes_read


def _fold(stats: SourceStats, state: FileState) -> None:
    """Add what reading one input found (``state``) to its source's counters."""
    stats.invalid_utf8_files += state.invalid_utf8
    stats.malformed_jsonl_lines += state.malformed_jsonl_lines
    stats.malformed_csv_rows += state.malformed_csv_rows
    stats.oversize_documents += state.oversize_documents
    stats.split_documents += state.split
    stats.archive_records += state.records
    for reason, count in state.filtered_records.items():
        stats.filtered_records += count
        stats.filtered_by[reason] = stats.filtered_by.get(reason, 0) + count


def _raw_documents(
    entry: Input, limits: Limits, stats: SourceStats, state: FileState
) -> Iterator[RawDocument]:
    """Read one input, folding what it found into ``stats``.

    Binary, unreadable (corrupt, truncated, wrong sha256, too slow) and oversize inputs are
    skipped and counted; the documents read before an error or a cap are kept.
    """
    stats.files += 1
    read = 0
    try:
        for document in _read_input(entry, limits, stats, state):
            read += 1
            yield document
    except OversizeInput as err:
        logger.warning("%s: %s; %sskipped the rest", entry.source, err, _kept(read, "it"))
        stats.oversize_files += 1
        stats.skip_file(entry.source, f"oversize: {err}")
    except UNREADABLE as err:
        where = f" after the record at byte {state.record}" if state.record is not None else ""
        logger.warning(
            "%s: unreadable%s (%s: %s); %sskipped the rest",
            entry.source,
            where,
            type(err).__name__,
            err,
            _kept(read, "the error"),
        )
        stats.unreadable_files += 1
        stats.skip_file(entry.source, f"unreadable{where}: {type(err).__name__}: {err}")
    finally:
        _fold(stats, state)
        if state.invalid_utf8:
            logger.warning("%s: invalid UTF-8, decoded with replacement characters", entry.source)


def _document_batches(
    resolved: list[ResolvedSource], config: IngestionConfig, report: dict[str, Any]
) -> Iterator[pa.RecordBatch]:
    limits = Limits.from_config(config)
    per_source = {item.spec.label: SourceStats() for item in resolved}
    batcher = DocumentBatcher(config.batch_size, int(config.batch_max_mb * 2**20))
    for item in resolved:
        stats = per_source[item.spec.label]
        for duplicate in item.duplicates:
            stats.duplicate_files += 1
            stats.skip_file(duplicate, "duplicate")
        for entry in item.inputs:
            state = FileState(entry.source, limits, entry.format)
            for raw in _raw_documents(entry, limits, stats, state):
                if not raw.text or raw.text.isspace():
                    stats.empty_documents += 1
                    continue
                stats.documents += 1
                stats.characters += len(raw.text)
                row = {
                    "id": document_id(entry.source, raw.position),
                    "source": entry.source,
                    "format": raw.format or state.format,
                    "title": raw.title,
                    "url": raw.url,
                    "text": raw.text,
                    "date": raw.date,
                }
                batch = batcher.add(row)
                if batch is not None:
                    yield batch
        logger.info("%s: %d files, %d documents", item.spec.label, stats.files, stats.documents)
    last = batcher.flush()
    if last is not None:
        yield last
    elif batcher.batches == 0:
        logger.warning("ingestion found no documents in %d sources", len(resolved))
        yield pa.RecordBatch.from_pylist([], schema=DOCUMENT_SCHEMA)
    report.clear()
    report.update(build_report(per_source, batcher.batches))
    report["complete"] = True


def ingest_sources(config: IngestionConfig) -> tuple[Iterator[pa.RecordBatch], dict[str, Any]]:
    """Resolve the sources now (a missing file or empty glob fails here) and return the stream.

    Returns ``(batches, report)``: ``batches`` lazily yields RecordBatches of DOCUMENT_SCHEMA;
    ``report`` is filled in place once ``batches`` is exhausted and only then gets
    ``"complete": true``, so a report saved too early does not look complete.
    """
    resolved = resolve_sources(config.sources)
    report: dict[str, Any] = {"complete": False}
    return _document_batches(resolved, config, report), report
