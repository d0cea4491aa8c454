"""Cleaning node: a streamed pass that extracts, normalises, filters and deduplicates documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kedro_gpt.config import parse_params
from kedro_gpt.ingest.schema import DOCUMENT_SCHEMA
from kedro_gpt.text.clean import Cleaner, EmptyCorpusError, clean_batches
from kedro_gpt.text.config import CleaningConfig
from kedro_gpt.text.parallel import cpu_workers
from kedro_gpt.text.report import CleaningReport, PendingDict


def _stream(
    documents: pq.ParquetFile,
    config: CleaningConfig,
    report_out: PendingDict,
    metrics_out: PendingDict,
) -> Iterator[pa.RecordBatch]:
    report = CleaningReport(Cleaner.rules(), config.max_examples)
    batches = documents.iter_batches(batch_size=config.batch_size)
    count = -(-documents.metadata.num_rows // config.batch_size)  # no more workers than batches
    workers = min(cpu_workers(config.workers), max(count, 1))
    try:
        yield from clean_batches(batches, config, DOCUMENT_SCHEMA, report, workers)
    except EmptyCorpusError:
        _fill(report, config, report_out, metrics_out)
        raise
    _fill(report, config, report_out, metrics_out)


def _fill(
    report: CleaningReport,
    config: CleaningConfig,
    report_out: PendingDict,
    metrics_out: PendingDict,
) -> None:
    report_out.fill(report.to_dict(parameters=config.model_dump(mode="json")))
    # kedro-mlflow's MlflowMetricsHistoryDataset logs {name: {"value": v, "step": s}}.
    metrics_out.fill({name: {"value": v, "step": 0} for name, v in report.metrics().items()})


def clean_documents(
    documents: pq.ParquetFile, params: dict[str, Any]
) -> tuple[Iterator[pa.RecordBatch], dict[str, Any], dict[str, dict[str, float]]]:
    """Clean the corpus as a stream of record batches (``DOCUMENT_SCHEMA``, ``text`` cleaned).

    Returns the stream, the cleaning report and the metrics for MLflow. The two dicts are filled
    when the stream ends, so they must be saved after it (Kedro saves outputs in order).
    """
    config = parse_params(CleaningConfig, params, "cleaning")
    report = PendingDict("cleaning_report")
    metrics = PendingDict("cleaning_metrics")
    return _stream(documents, config, report, metrics), report, metrics
