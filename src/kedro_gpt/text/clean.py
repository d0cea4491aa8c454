"""One streamed cleaning pass over document batches: extract → normalise → filter → dedup.

``clean_batches`` reads Arrow record batches of documents and yields the kept ones with their
text cleaned; the ``CleaningReport`` it is given counts every document as kept or dropped by the
first rule that rejected it. Nothing here knows of Kedro.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from kedro_gpt.text.config import CleaningConfig
from kedro_gpt.text.dedup import ExactDeduplicator, NearDeduplicator
from kedro_gpt.text.extract import extract_html
from kedro_gpt.text.filters import FILTER_RULES, TextView, build_filters
from kedro_gpt.text.normalize import Normalizer
from kedro_gpt.text.report import DEDUP_RULES, EXTRACTION_RULES, CleaningReport

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "format", "text")


class EmptyCorpusError(ValueError):
    """Cleaning kept no document; the message carries the report summary."""


@dataclass(frozen=True)
class Cleaned:
    """A kept document's cleaned text and title."""

    text: str
    title: str | None


@dataclass(frozen=True)
class Dropped:
    """Why a document was dropped: the rule and a human-readable reason."""

    rule: str
    reason: str


class Cleaner:
    """Cleans one document at a time and remembers what it kept (for deduplication)."""

    def __init__(self, config: CleaningConfig) -> None:
        self.config = config
        self.normalize = Normalizer(config.normalize)
        self.filters = build_filters(config.filters)
        self.exact = ExactDeduplicator() if config.dedup.exact.enabled else None
        near = config.dedup.near
        self.near = (
            NearDeduplicator(near.threshold, near.num_perm, near.shingle_size, near.seed)
            if near.enabled
            else None
        )

    @staticmethod
    def rules() -> tuple[str, ...]:
        """Every rule, in the order they apply."""
        return EXTRACTION_RULES + FILTER_RULES + DEDUP_RULES

    def extract(self, text: str, fmt: str) -> tuple[str, str | None]:
        """The document's text (HTML is extracted) and the title the page gives, if any."""
        if fmt != "html":
            return text, None
        page = extract_html(text, self.config.html.extractor, self.config.html.main_content)
        return page.text, page.title

    def clean(self, doc_id: str, text: str, fmt: str) -> tuple[Cleaned | Dropped, bool]:
        """Clean one document; also says whether normalisation changed its text."""
        try:
            text, title = self.extract(text, fmt)
        except Exception as err:  # noqa: BLE001 - any extractor failure is a counted skip
            reason = f"{type(err).__name__}: {err}"[:300]
            logger.warning("document %s: HTML extraction failed (%s); skipped", doc_id, reason)
            return Dropped("extraction_failed", reason), False
        normalized = self.normalize(text)
        changed = normalized != text
        if not normalized.strip():
            return Dropped("empty", "no text after extraction and normalisation"), changed
        view = TextView(normalized)
        for rule in self.filters:
            reason = rule(view)
            if reason is not None:
                return Dropped(rule.name, reason), changed
        if self.exact is not None:
            earlier = self.exact.check_and_add(doc_id, normalized)
            if earlier is not None:
                return Dropped("exact_duplicate", f"same text as {earlier}"), changed
        if self.near is not None:
            match = self.near.check_and_add(doc_id, normalized)
            if match is not None:
                return Dropped(
                    "near_duplicate", f"near copy of {match[0]} (Jaccard ~{match[1]:.2f})"
                ), changed
        return Cleaned(normalized, title), changed

    def process(
        self, doc_id: str, text: str | None, fmt: str, report: CleaningReport
    ) -> Cleaned | None:
        """Clean one document and count it in ``report``; ``None`` when it is dropped."""
        text = text or ""
        size = len(text.encode("utf-8", errors="surrogatepass"))
        report.html_documents += fmt == "html"
        outcome, changed = self.clean(doc_id, text, fmt)
        report.changed_by_normalization += changed
        if isinstance(outcome, Dropped):
            report.drop(outcome.rule, doc_id, size, outcome.reason)
            return None
        report.keep(size, len(outcome.text.encode("utf-8", errors="surrogatepass")))
        return outcome


def clean_texts(
    documents: Iterable[tuple[str, str, str]], config: CleaningConfig | None = None
) -> tuple[dict[str, Cleaned], CleaningReport]:
    """Clean ``(id, format, text)`` tuples in memory (for notebooks and tests): kept documents by
    id, and the report."""
    cleaner = Cleaner(config or CleaningConfig())
    report = CleaningReport(cleaner.rules(), cleaner.config.max_examples)
    kept: dict[str, Cleaned] = {}
    for doc_id, fmt, text in documents:
        cleaned = cleaner.process(doc_id, text, fmt, report)
        if cleaned is not None:
            kept[doc_id] = cleaned
    return kept, report


def _check_columns(schema: pa.Schema, output_schema: pa.Schema) -> None:
    missing = [c for c in (*REQUIRED_COLUMNS, *output_schema.names) if c not in schema.names]
    if missing:
        raise ValueError(
            f"documents table lacks column(s) {sorted(set(missing))}; it has {schema.names}"
        )


def clean_batches(
    batches: Iterable[pa.RecordBatch],
    config: CleaningConfig,
    schema: pa.Schema,
    report: CleaningReport | None = None,
) -> Iterator[pa.RecordBatch]:
    """Yield the kept documents of every batch, cleaned, as batches with ``schema``.

    ``report`` (a fresh one if not given) counts every document. Raises ``EmptyCorpusError``
    after the last batch if nothing was kept.
    """
    cleaner = Cleaner(config)
    report = report if report is not None else CleaningReport(cleaner.rules(), config.max_examples)
    started = time.perf_counter()
    for batch in batches:
        _check_columns(batch.schema, schema)
        columns = batch.to_pydict()
        keep: list[int] = []
        texts: list[str] = []
        titles: list[str | None] = []
        for i, (doc_id, fmt, text) in enumerate(
            zip(columns["id"], columns["format"], columns["text"], strict=True)
        ):
            outcome = cleaner.process(doc_id, text, fmt, report)
            if outcome is None:
                continue
            keep.append(i)
            texts.append(outcome.text)
            titles.append(columns["title"][i] or outcome.title)
        if keep:
            yield _output_batch(batch, keep, texts, titles, schema)
    report.seconds = time.perf_counter() - started
    logger.info("cleaning: %s (%.1f s)", report.summary(), report.seconds)
    if report.documents_kept == 0:
        raise EmptyCorpusError(f"cleaning kept no document: {report.summary()}")


def _output_batch(
    batch: pa.RecordBatch,
    keep: list[int],
    texts: list[str],
    titles: list[str | None],
    schema: pa.Schema,
) -> pa.RecordBatch:
    kept = batch.take(pa.array(keep, type=pa.int64()))
    arrays: list[Any] = []
    for f in schema:
        if f.name == "text":
            arrays.append(pa.array(texts, type=f.type))
        elif f.name == "title":
            arrays.append(pa.array(titles, type=f.type))
        else:
            arrays.append(kept.column(f.name).cast(f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
