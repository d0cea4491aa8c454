"""The ingestion report: what each source gave and what was skipped, with totals that add up.

Per source: ``files`` inputs opened (files or URLs, skipped ones included; duplicates not),
``documents`` written, ``bytes`` read from disk or network (compressed size), ``characters`` of
document text written, and the skips: ``invalid_utf8_files`` (decoded with replacement, still
ingested), ``malformed_jsonl_lines``, ``malformed_csv_rows``, ``empty_documents``,
``binary_files``, ``unreadable_files`` (corrupt, truncated, a wrong sha256, a download past its
deadline), ``oversize_files`` (cut at ``url_max_mb`` or ``max_file_mb``; the documents before the
cap are kept), ``oversize_documents`` (an HTML page, JSONL line or CSV/Parquet cell over
``max_document_mb``) and ``duplicate_files`` (matched by an earlier source). ``split_documents``
counts .txt/.md files over ``max_document_mb`` that were split into several documents (not a skip).
Web archives: ``archive_records`` response (WARC) or conversion (WET) records read,
``filtered_records`` of them left out by ``warc_statuses`` / ``warc_mime_types``, by reason in
``filtered_by``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class SourceStats:
    """Counters of one configured source."""

    files: int = 0
    documents: int = 0
    bytes: int = 0
    characters: int = 0
    invalid_utf8_files: int = 0
    malformed_jsonl_lines: int = 0
    malformed_csv_rows: int = 0
    empty_documents: int = 0
    binary_files: int = 0
    unreadable_files: int = 0
    oversize_files: int = 0
    oversize_documents: int = 0
    split_documents: int = 0
    duplicate_files: int = 0
    archive_records: int = 0
    filtered_records: int = 0
    filtered_by: dict[str, int] = field(default_factory=dict)
    skipped_files: list[dict[str, str]] = field(default_factory=list)

    def skip_file(self, source: str, reason: str) -> None:
        """Record a file skipped (``binary``, ``unreadable: …``, ``oversize: …``, ``duplicate``)."""
        self.skipped_files.append({"file": source, "reason": reason})


COUNTERS = tuple(f.name for f in fields(SourceStats) if f.type in ("int", int))


def build_report(per_source: dict[str, SourceStats], batches: int) -> dict[str, Any]:
    """The JSON-ready report: ``sources`` keyed by source label, ``total``, ``batches``."""
    total = {name: sum(getattr(s, name) for s in per_source.values()) for name in COUNTERS}
    return {
        "sources": {label: asdict(stats) for label, stats in per_source.items()},
        "total": total,
        "batches": batches,
    }
