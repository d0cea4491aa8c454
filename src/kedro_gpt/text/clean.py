"""One streamed cleaning pass over document batches: extract → normalise → filter → dedup.

``clean_batches`` reads Arrow record batches of documents and yields the kept ones with their
text cleaned; the ``CleaningReport`` it is given counts every document as kept or dropped by the
first rule that rejected it. Nothing here knows of Kedro.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kedro_gpt.text.config import CleaningConfig
from kedro_gpt.text.dedup import ExactDeduplicator, NearDeduplicator
from kedro_gpt.text.filters import FILTER_RULES
from kedro_gpt.text.minhash_buckets import BucketWriter, band_pairs, first_of_component
from kedro_gpt.text.parallel import batch_executor, prepared_batches, run_tasks
from kedro_gpt.text.prepare import DocumentPass, Dropped, Preparation, Prepared
from kedro_gpt.text.report import DEDUP_RULES, EXTRACTION_RULES, CleaningReport

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "format", "text")
#: Columns the bucket index's candidates file carries beside the documents' own.
_INDEX, _SIZE = "__dedup_index", "__bytes_in"


class EmptyCorpusError(ValueError):
    """Cleaning kept no document; the message carries the report summary."""


@dataclass(frozen=True)
class Cleaned:
    """A kept document's cleaned text and title."""

    text: str
    title: str | None


class Cleaner:
    """Cleans one document at a time and remembers what it kept (for deduplication)."""

    def __init__(self, config: CleaningConfig) -> None:
        self.config = config
        self.document_pass = DocumentPass(config)
        self.exact = ExactDeduplicator() if config.dedup.exact.enabled else None
        near = config.dedup.near
        self.near = (
            NearDeduplicator(near.threshold, near.num_perm, near.shingle_size, near.seed)
            if near.enabled and near.index == "memory"
            else None
        )

    @staticmethod
    def rules() -> tuple[str, ...]:
        """Every rule, in the order they apply."""
        return EXTRACTION_RULES + FILTER_RULES + DEDUP_RULES

    def dedup(self, doc_id: str, prepared: Prepared) -> Cleaned | Dropped:
        """Drop a prepared document that repeats one kept before; otherwise keep it."""
        if self.exact is not None and prepared.digest is not None:
            earlier = self.exact.check_and_add_digest(doc_id, prepared.digest)
            if earlier is not None:
                return Dropped("exact_duplicate", f"same text as {earlier}")
        if self.near is not None and prepared.signature is not None:
            minhash = self.near.from_signature(prepared.signature)
            match = self.near.check_and_add_minhash(doc_id, minhash)
            if match is not None:
                return Dropped(
                    "near_duplicate", f"near copy of {match[0]} (Jaccard ~{match[1]:.2f})"
                )
        return Cleaned(prepared.text, prepared.title)

    def clean(self, doc_id: str, text: str, fmt: str) -> tuple[Cleaned | Dropped, bool]:
        """Clean one document; also says whether normalisation changed its text."""
        outcome, changed = self.document_pass.prepare(doc_id, text, fmt)
        if isinstance(outcome, Prepared):
            return self.dedup(doc_id, outcome), changed
        return outcome, changed

    def process(
        self,
        doc_id: str,
        text: str | None,
        fmt: str,
        report: CleaningReport,
        preparation: Preparation | None = None,
        *,
        count_kept: bool = True,
    ) -> Cleaned | None:
        """Clean one document (its ``preparation`` may come from a worker) and count it in
        ``report``; ``None`` when it is dropped. ``count_kept=False`` leaves a kept document
        uncounted (the bucket index decides after the pass)."""
        text = text or ""
        size = utf8_size(text)
        report.html_documents += fmt == "html"
        outcome, changed = preparation or self.document_pass.prepare(doc_id, text, fmt)
        if isinstance(outcome, Prepared):
            outcome = self.dedup(doc_id, outcome)
        report.changed_by_normalization += changed
        if isinstance(outcome, Dropped):
            report.drop(outcome.rule, doc_id, size, outcome.reason)
            return None
        if count_kept:
            report.keep(size, utf8_size(outcome.text))
        return outcome


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


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
    """Every column cleaning needs, and every non-nullable output column, must be there (a
    nullable one, e.g. ``date`` in documents ingested before it existed, is written as null)."""
    needed = [*REQUIRED_COLUMNS, *(f.name for f in output_schema if not f.nullable)]
    missing = [c for c in needed if c not in schema.names]
    if missing:
        raise ValueError(
            f"documents table lacks column(s) {sorted(set(missing))}; it has {schema.names}"
        )


def _checked(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        _check_columns(batch.schema, schema)
        yield batch


def clean_batches(
    batches: Iterable[pa.RecordBatch],
    config: CleaningConfig,
    schema: pa.Schema,
    report: CleaningReport | None = None,
    workers: int = 1,
) -> Iterator[pa.RecordBatch]:
    """Yield the kept documents of every batch, cleaned, as batches with ``schema``.

    ``report`` (a fresh one if not given) counts every document. With ``workers`` > 1, that many
    processes prepare the batches and this one deduplicates them in order: the same output and
    report as one process. With ``dedup.near.index: buckets`` the near duplicates are resolved
    after the pass (``_bucket_dedup``): the batches come once every document has been read.
    Raises ``EmptyCorpusError`` after the last batch if nothing was kept.
    """
    cleaner = Cleaner(config)
    report = report if report is not None else CleaningReport(cleaner.rules(), config.max_examples)
    started = time.perf_counter()
    near = config.dedup.near
    with batch_executor(config, workers) as pool:
        if near.enabled and near.index == "buckets":
            with _work_folder(near.work_dir) as folder:
                kept = _cleaned(cleaner, batches, schema, report, pool, folder)
                yield from _bucket_dedup(kept, config, report, pool[0], folder, schema)
        else:
            for out, _, _ in _cleaned(cleaner, batches, schema, report, pool, None):
                yield out
    report.seconds = time.perf_counter() - started
    logger.info("cleaning: %s (%.1f s)", report.summary(), report.seconds)
    if report.documents_kept == 0:
        raise EmptyCorpusError(f"cleaning kept no document: {report.summary()}")


def _cleaned(
    cleaner: Cleaner,
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    report: CleaningReport,
    pool: tuple[Executor | None, int],
    folder: Path | None,
) -> Iterator[tuple[pa.RecordBatch, list[int], list[np.ndarray]]]:
    """Each batch's kept documents, with their original sizes and MinHash signatures (only
    gathered, and their keeping only counted, when the bucket index will decide: ``folder``)."""
    deferred = folder is not None
    for batch, columns, preparations in prepared_batches(
        _checked(batches, schema), cleaner.config, pool
    ):
        keep: list[int] = []
        texts: list[str] = []
        titles: list[str | None] = []
        sizes: list[int] = []
        signatures: list[np.ndarray] = []
        for i, (doc_id, fmt, text) in enumerate(
            zip(columns["id"], columns["format"], columns["text"], strict=True)
        ):
            preparation = preparations[i] if preparations is not None else None
            if deferred and preparation is None:
                preparation = cleaner.document_pass.prepare(doc_id, text, fmt)
            outcome = cleaner.process(
                doc_id, text, fmt, report, preparation, count_kept=not deferred
            )
            if outcome is None:
                continue
            keep.append(i)
            texts.append(outcome.text)
            titles.append(columns["title"][i] or outcome.title)
            if deferred:
                assert preparation is not None and not isinstance(preparation[0], Dropped)
                sizes.append(utf8_size(text or ""))
                signatures.append(preparation[0].signature)
        if keep:
            yield _output_batch(batch, keep, texts, titles, schema), sizes, signatures


@contextmanager
def _work_folder(work_dir: str | None) -> Iterator[Path]:
    """A fresh folder for the bucket index's files, removed afterwards."""
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kedro-gpt-dedup-", dir=work_dir) as folder:
        yield Path(folder)


def _bucket_dedup(
    kept: Iterator[tuple[pa.RecordBatch, list[int], list[np.ndarray]]],
    config: CleaningConfig,
    report: CleaningReport,
    executor: Executor | None,
    folder: Path,
    schema: pa.Schema,
) -> Iterator[pa.RecordBatch]:
    """Write the pass's documents and their band buckets to ``folder``, find the near-duplicate
    components band by band on the executor, then yield the first document of each component
    (counting the others as ``near_duplicate``)."""
    near = config.dedup.near
    buckets = BucketWriter(folder / "buckets", near.num_perm, near.threshold)
    candidates = folder / "candidates.parquet"
    wide = schema.append(pa.field(_INDEX, pa.int64())).append(pa.field(_SIZE, pa.int64()))
    try:
        with pq.ParquetWriter(candidates, wide) as writer:
            for batch, sizes, signatures in kept:
                indexes = buckets.add(np.stack(signatures))
                columns = [
                    *batch.columns,
                    pa.array(indexes, pa.int64()),
                    pa.array(sizes, pa.int64()),
                ]
                writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=wide))
    finally:
        buckets.close()
    count = buckets.count
    calls = [
        (str(buckets.folder), band, count, near.num_perm, near.threshold)
        for band in range(buckets.bands)
    ]
    pairs = run_tasks(executor, band_pairs, calls)
    first = first_of_component(count, np.concatenate([np.empty((0, 2), np.int64), *pairs]))
    members = np.bincount(first, minlength=count)
    logger.info(
        "near dedup (buckets): %d documents, %d bands x %d rows, %d in components of 2 or more",
        count,
        buckets.bands,
        buckets.rows,
        int((members[first] > 1).sum()),
    )
    first_ids: dict[int, str] = {}
    for batch in pq.ParquetFile(candidates, pre_buffer=False).iter_batches(
        batch_size=config.batch_size
    ):
        ids = batch.column("id").to_pylist()
        indexes = batch.column(_INDEX).to_numpy()
        sizes = batch.column(_SIZE).to_pylist()
        texts = batch.column("text").to_pylist()
        keep: list[int] = []
        for i, index in enumerate(indexes):
            root = int(first[index])
            if root == index:
                report.keep(sizes[i], utf8_size(texts[i]))
                keep.append(i)
                if members[root] > 1:
                    first_ids[root] = ids[i]
                continue
            reason = f"near copy of {first_ids[root]} (a component of {members[root]} documents)"
            report.drop("near_duplicate", ids[i], sizes[i], reason)
        if keep:
            yield batch.take(pa.array(keep, pa.int64())).select(schema.names).cast(schema)


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
        elif f.name not in kept.schema.names:
            arrays.append(pa.nulls(len(keep), type=f.type))
        else:
            arrays.append(kept.column(f.name).cast(f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
