"""Cleaning on several processes gives exactly the single-process output and report, and a
worker that dies fails the run with the batch it was on."""

from __future__ import annotations

import os
import signal

import psutil
import pyarrow as pa
import pytest

from kedro_gpt.ingest.schema import DOCUMENT_SCHEMA
from kedro_gpt.text.clean import Cleaner, clean_batches
from kedro_gpt.text.config import CleaningConfig, ClusterConfig
from kedro_gpt.text.parallel import cpu_workers
from kedro_gpt.text.report import CleaningReport
from tests.text.conftest import PYTHON_DOCS, read


def _corpus(shakespeare_text: str) -> pa.Table:
    """Shakespeare passages with planted exact and near copies, short ones, and HTML pages."""
    passages = [p for p in shakespeare_text.split("\n\n") if len(p) > 400][:300]
    rows = [
        {"id": f"p{i}", "source": "s.txt", "format": "txt", "text": p}
        for i, p in enumerate(passages)
    ]
    rows += [
        {"id": f"exact{i}", "source": "s.txt", "format": "txt", "text": passages[i]}
        for i in range(0, 60, 3)
    ]
    rows += [  # one word changed in a long passage: a near copy
        {"id": f"near{i}", "source": "s.txt", "format": "txt", "text": passages[i] + " indeed"}
        for i in range(1, 60, 3)
    ]
    rows += [
        {"id": f"short{i}", "source": "s.txt", "format": "txt", "text": "Ay."} for i in range(5)
    ]
    for i, page in enumerate(sorted(PYTHON_DOCS.glob("*.html"))):
        rows.append({"id": f"h{i}", "source": page.name, "format": "html", "text": read(page)})
    return pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA)


def _clean(table: pa.Table, workers: int, **settings) -> tuple[list[dict], dict]:
    config = CleaningConfig(batch_size=32, **settings)
    report = CleaningReport(Cleaner.rules(), config.max_examples)
    out = clean_batches(table.to_batches(32), config, DOCUMENT_SCHEMA, report, workers)
    kept = pa.Table.from_batches(list(out), schema=DOCUMENT_SCHEMA).to_pylist()
    return kept, {k: v for k, v in report.to_dict().items() if k != "seconds"}


@pytest.fixture(scope="module")
def single(shakespeare_text) -> tuple[pa.Table, list[dict], dict]:
    table = _corpus(shakespeare_text)
    return table, *_clean(table, 1)


def test_two_workers_keep_the_same_documents_in_the_same_order(single):
    table, one, one_report = single
    two, two_report = _clean(table, 2)
    assert two == one
    assert two_report == one_report
    dropped = one_report["dropped"]
    assert dropped["exact_duplicate"]["documents"] == 20
    assert dropped["near_duplicate"]["documents"] >= 15  # the planted near copies
    assert one_report["html_documents"] > 0 and len(one) > 200


def test_a_killed_worker_fails_the_run_naming_the_batch(shakespeare_text):
    table = _corpus(shakespeare_text)
    config = CleaningConfig(batch_size=8)
    stream = clean_batches(table.to_batches(8), config, DOCUMENT_SCHEMA, None, 2)
    next(stream)  # the pool is up and busy
    servers = [p for p in psutil.Process().children() if "forkserver" in " ".join(p.cmdline())]
    workers = [worker for server in servers for worker in server.children()]
    assert workers, "no worker processes found"
    for process in workers:
        os.kill(process.pid, signal.SIGKILL)
    with pytest.raises(RuntimeError, match=r"a cleaning worker died while preparing batch \d+"):
        list(stream)


def test_zero_workers_means_every_core():
    assert cpu_workers(0) == len(os.sched_getaffinity(0))
    assert cpu_workers(3) == 3


def test_a_local_dask_cluster_keeps_the_same_documents_too(single):
    pytest.importorskip("distributed")
    table, one, one_report = single
    on_dask, dask_report = _clean(table, 1, cluster=ClusterConfig(local_workers=2))
    assert on_dask == one
    assert dask_report == one_report
