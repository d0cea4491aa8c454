"""Cleaning on every core, or on a Dask cluster: workers prepare whole batches (extract,
normalise, filter, exact digest, MinHash signature), and the calling process deduplicates them
in input order, so the kept documents, their order and the report equal the single-process pass
exactly, whichever executor ran the preparation.

The executor is a local process pool (``workers`` processes; forkserver on Linux, so no state of
the caller such as torch's threads is inherited) or, with ``cluster``, a Dask cluster (an address,
or a local cluster started for the run) through its ``concurrent.futures`` interface: one code
path. At most ``2 × workers`` batches are in flight, so memory stays bounded.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from typing import Any

import pyarrow as pa

from kedro_gpt.text.config import CleaningConfig
from kedro_gpt.text.prepare import DocumentPass, Preparation

logger = logging.getLogger(__name__)

#: One batch read: the batch, its columns as lists, its documents' preparations (None: do them here).
PreparedBatch = tuple[pa.RecordBatch, dict[str, list[Any]], list[Preparation] | None]

#: Each worker's DocumentPass per configuration (a Dask worker may serve several runs).
_PASSES: dict[str, DocumentPass] = {}


def _prepare(config_json: str, rows: list[tuple[str, str | None, str]]) -> list[Preparation]:
    document_pass = _PASSES.get(config_json)
    if document_pass is None:
        document_pass = DocumentPass(CleaningConfig.model_validate_json(config_json))
        _PASSES.clear()
        _PASSES[config_json] = document_pass
    return document_pass.prepare_all(rows)


def cpu_workers(workers: int) -> int:
    """``workers``, or every core the process may use when it is 0."""
    if workers > 0:
        return workers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _rows(columns: dict[str, list[Any]]) -> list[tuple[str, str | None, str]]:
    return list(zip(columns["id"], columns["text"], columns["format"], strict=True))


@contextmanager
def batch_executor(config: CleaningConfig, workers: int) -> Iterator[tuple[Executor | None, int]]:
    """``(executor, slots)``: a Dask cluster's executor when ``config.cluster`` is set, a pool of
    ``workers`` local processes when ``workers`` > 1, else ``(None, 1)`` (prepare in this process)."""
    with ExitStack() as stack:
        if config.cluster is not None:
            from distributed import Client, LocalCluster  # optional: the `dask` extra

            if config.cluster.address is not None:
                client = stack.enter_context(Client(config.cluster.address))
            else:
                cluster = stack.enter_context(
                    LocalCluster(
                        n_workers=config.cluster.local_workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                )
                client = stack.enter_context(Client(cluster))
            slots = max(1, sum(client.nthreads().values()))
            logger.info("cleaning: preparing batches on %s (%d worker threads)", client, slots)
            yield client.get_executor(), slots
            return
        if workers <= 1:
            yield None, 1
            return
        method = "forkserver" if sys.platform.startswith("linux") else "spawn"
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))
        stack.callback(pool.shutdown, wait=True, cancel_futures=True)
        yield pool, workers


def run_tasks(executor: Executor | None, fn: Any, calls: list[tuple[Any, ...]]) -> list[Any]:
    """``fn(*args)`` for each of ``calls`` on ``executor`` (here when None); results in order."""
    if executor is None:
        return [fn(*args) for args in calls]
    futures = [executor.submit(fn, *args) for args in calls]
    return [future.result() for future in futures]


def prepared_batches(
    batches: Iterable[pa.RecordBatch],
    config: CleaningConfig,
    pool: tuple[Executor | None, int],
) -> Iterator[PreparedBatch]:
    """Each batch with its preparations, in input order, made on ``pool`` (the ``(executor,
    slots)`` pair ``batch_executor`` gives; no executor: prepared by the caller)."""
    executor, slots = pool
    if executor is None:
        for batch in batches:
            yield batch, batch.to_pydict(), None
        return
    config_json = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    pending: deque[tuple[int, pa.RecordBatch, dict[str, list[Any]], Future]] = deque()

    def finished() -> PreparedBatch:
        number, batch, columns, future = pending.popleft()
        try:
            return batch, columns, future.result()
        except BrokenProcessPool as err:
            raise _worker_died(number, columns, err) from err

    for number, batch in enumerate(batches):
        columns = batch.to_pydict()
        try:  # a pool broken before this batch fails at submit: the same error
            future = executor.submit(_prepare, config_json, _rows(columns))
        except BrokenProcessPool as err:
            raise _worker_died(number, columns, err) from err
        pending.append((number, batch, columns, future))
        if len(pending) >= 2 * slots:
            yield finished()
    while pending:
        yield finished()


def _worker_died(number: int, columns: dict[str, list[Any]], err: Exception) -> RuntimeError:
    first = columns["id"][0] if columns["id"] else "none"
    return RuntimeError(
        f"a cleaning worker died while preparing batch {number} (first document {first}); "
        f"nothing of this run was kept as complete: {err}"
    )
